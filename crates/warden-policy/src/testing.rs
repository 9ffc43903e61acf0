//! Helpers for other crates' tests.

use crate::{Bundle, SourceFile};

/// `bundle` with every system's `connector` line removed: its grants are recorded and
/// go through the lifecycle without a target, for tests of the lifecycle alone.
pub fn record_only(bundle: &Bundle) -> Bundle {
    let files: Vec<SourceFile> = bundle
        .files()
        .iter()
        .map(|f| SourceFile {
            name: f.name.clone(),
            text: f
                .text
                .lines()
                .filter(|l| !l.trim_start().starts_with("connector ="))
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect();
    #[expect(clippy::expect_used, reason = "test helper: the bundle loaded before")]
    Bundle::from_files(files).expect("a bundle without connectors still loads")
}

/// `bundle` with the identities `ids` marked `status = "disabled"` in its catalog, as an
/// offboarding bundle would have them. Each must be active in `bundle`.
pub fn with_disabled(bundle: &Bundle, ids: &[&str]) -> Bundle {
    let files: Vec<SourceFile> = bundle
        .files()
        .iter()
        .map(|f| {
            let mut out = Vec::new();
            for line in f.text.lines() {
                out.push(line.to_owned());
                if ids.iter().any(|id| line.trim() == format!("id = \"{id}\"")) {
                    out.push("status = \"disabled\"".to_owned());
                }
            }
            SourceFile {
                name: f.name.clone(),
                text: out.join("\n"),
            }
        })
        .collect();
    #[expect(
        clippy::expect_used,
        reason = "test helper: only active identities are disabled"
    )]
    Bundle::from_files(files).expect("a bundle with identities disabled still loads")
}
