//! (feature `testing`) The one rule for tests that need a running service: its URL comes
//! from `WARDEN_TEST_<NAME>_URL`; without it the test says it skipped and returns, except
//! under `CI=true`, where a missing service fails the run — so CI never passes untested.

/// The URL of test service `name` (`postgres`, `redis`, `rt`, …) from
/// `WARDEN_TEST_<NAME>_URL`, or `None` after [`skip`] when it is not set.
pub fn service_url(name: &str) -> Option<String> {
    let var = format!("WARDEN_TEST_{}_URL", name.to_ascii_uppercase());
    match std::env::var(&var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip(&format!(
                "{var} is not set, so the {name} tests cannot reach {name}"
            ));
            None
        }
    }
}

/// Gives up on a test that cannot test what it is about here, saying why: outside CI it
/// prints `skipped: {why}` and the caller returns; under `CI=true` it fails the test.
#[expect(clippy::print_stderr, reason = "a skipped test says why")]
pub fn skip(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and this test cannot run: {why}"
    );
    eprintln!("skipped: {why}");
}
