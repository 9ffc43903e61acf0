//! Percent-encoding of one URL path segment for the management API: a vhost or user name
//! becomes exactly one segment (`/` is `%2F`), so no name can reach another endpoint.

/// `s` with every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
pub(crate) fn encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 0x0f] {
                out.push(HEX.get(usize::from(nibble)).map_or('0', |c| char::from(*c)));
            }
        }
    }
    out
}

/// The text of a percent-encoded URL part (the user or password of the admin URL), or
/// `None` when it does not decode to UTF-8.
pub(crate) fn decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn a_vhost_is_one_segment() {
        assert_eq!(encode("/"), "%2F");
        assert_eq!(encode("a/../b"), "a%2F..%2Fb");
        assert_eq!(encode("prod vhost?x#y%"), "prod%20vhost%3Fx%23y%25");
        assert_eq!(encode("warden_ab_1"), "warden_ab_1");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn decoding_reverses_encoding() {
        for s in ["/", "p@ss:w/rd%", "é", ""] {
            assert_eq!(decode(&encode(s)).as_deref(), Some(s));
        }
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%4"), None);
    }
}
