//! Percent-encoding for the URL parts connectors handle themselves: the user and password
//! of an admin URL, and names that must stay one path segment of an HTTP API.

/// `s` with every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`, so a
/// name put into a URL path is exactly one segment (`/` is `%2F`) and reaches no other
/// endpoint.
pub fn percent_encode(s: &str) -> String {
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

/// The text of a percent-encoded URL part (such as the user or password of an admin URL),
/// or `None` when an escape is cut short or not hexadecimal, or the bytes are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
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
    use super::*;

    #[test]
    fn a_name_is_one_path_segment() {
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("a/../b"), "a%2F..%2Fb");
        assert_eq!(percent_encode("prod vhost?x#y%"), "prod%20vhost%3Fx%23y%25");
        assert_eq!(percent_encode("warden_ab_1"), "warden_ab_1");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn decoding_reverses_encoding() {
        for s in ["/", "p@ss:w/rd%", "é", ""] {
            assert_eq!(percent_decode(&percent_encode(s)).as_deref(), Some(s));
        }
    }

    #[test]
    fn user_info_decodes_lower_and_upper_case_escapes() {
        assert_eq!(percent_decode("p%40ss%3aw").as_deref(), Some("p@ss:w"));
        assert_eq!(
            percent_decode("cn=admin,dc=x").as_deref(),
            Some("cn=admin,dc=x")
        );
    }

    #[test]
    fn a_broken_escape_or_invalid_utf8_decodes_to_nothing() {
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%ff%fe"), None);
    }
}
