//! The headers of a webhook delivery as the verifier reads them: names matched whatever
//! their case, values as the bytes received. A server builds them from its own header pairs,
//! so this crate names no HTTP library.

use std::fmt;

/// A delivery's headers. A name sent more than once keeps every value; a lookup answers the
/// first one, as HTTP libraries do.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`, replacing every value it had.
    pub fn insert(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.remove(name);
        self.append(name, value);
    }

    /// Adds a value for `name`, after any it has.
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.0
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of `name`, whatever the case of either.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let mut headers = Self::new();
        for (name, value) in pairs {
            headers.append(name.as_ref(), value);
        }
        headers
    }
}

impl fmt::Debug for Headers {
    /// Names only: a value may be a shared secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_whatever_their_case_and_the_first_value_answers() {
        let mut h: Headers = [("Webhook-Id", "a"), ("X-Other", "b"), ("webhook-id", "c")]
            .into_iter()
            .collect();
        assert_eq!(h.get("WEBHOOK-ID"), Some(&b"a"[..]));
        assert_eq!(h.get("x-other"), Some(&b"b"[..]));
        assert_eq!(h.get("missing"), None);
        h.insert("WEBHOOK-id", "d");
        assert_eq!(h.get("webhook-id"), Some(&b"d"[..]));
        h.remove("Webhook-ID");
        assert_eq!(h.get("webhook-id"), None);
    }

    #[test]
    fn debug_shows_names_never_values() {
        let h: Headers = [("X-Warden-Secret", "s3cret")].into_iter().collect();
        let debug = format!("{h:?}");
        assert!(
            debug.contains("x-warden-secret") && !debug.contains("s3cret"),
            "{debug}"
        );
    }
}
