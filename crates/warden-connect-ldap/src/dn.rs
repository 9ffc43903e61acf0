//! Distinguished names (RFC 4514): escaping a value before it goes into a DN, parsing a DN
//! into its parts, and one canonical text form, so that a DN Warden builds and the same DN
//! as the server prints it compare equal, and "under `groups_base`" is decided on parsed
//! RDNs rather than on text (`cn=x\,ou=groups,dc=test` is not under `ou=groups,dc=test`).

use std::fmt;

/// One `type=value` pair of an RDN, the value unescaped.
#[derive(Clone, Debug)]
struct Ava {
    /// The attribute type, lowercased (`cn`, `uid`, or a numeric OID).
    kind: String,
    /// The value as the server compares it, escapes undone.
    value: String,
}

/// A parsed DN: its RDNs from the entry itself up to the root.
#[derive(Clone, Debug)]
pub struct Dn {
    rdns: Vec<Vec<Ava>>,
}

impl Dn {
    /// Parses `s` as a non-empty DN. Values in `#hex` form and quoted values are refused:
    /// Warden writes neither, and refusing them keeps one way of writing each DN.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        let mut chars = s.chars().peekable();
        loop {
            while chars.next_if_eq(&' ').is_some() {}
            let mut kind = String::new();
            while let Some(c) =
                chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            {
                kind.push(c.to_ascii_lowercase());
            }
            while chars.next_if_eq(&' ').is_some() {}
            if kind.is_empty() || chars.next() != Some('=') {
                return Err("expected `attribute=value` parts separated by `,`".into());
            }
            while chars.next_if_eq(&' ').is_some() {}
            if matches!(chars.peek(), Some('#' | '"')) {
                return Err(
                    "`#` and quoted values are not accepted in a DN; escape them with `\\`".into(),
                );
            }
            // Bytes, because `\XX` escapes spell out UTF-8 one byte at a time.
            let mut value = Vec::new();
            let mut significant = 0;
            let mut end = None;
            while let Some(c) = chars.next() {
                match c {
                    ',' | '+' => {
                        end = Some(c);
                        break;
                    }
                    '\\' => {
                        let Some(e) = chars.next() else {
                            return Err("a DN ends in a lone `\\`".into());
                        };
                        if let Some(hi) = e.to_digit(16) {
                            let lo = chars
                                .next()
                                .and_then(|c| c.to_digit(16))
                                .ok_or("`\\` is followed by one hex digit, not two")?;
                            value.push(u8::try_from(hi * 16 + lo).map_err(|_| "bad escape")?);
                        } else if " \"#+,;<=>\\".contains(e) {
                            value.push(u8::try_from(u32::from(e)).map_err(|_| "bad escape")?);
                        } else {
                            return Err(format!("`\\{e}` is not an escape"));
                        }
                        significant = value.len();
                    }
                    '"' | ';' | '<' | '>' | '\0' => {
                        return Err(format!(
                            "`{}` must be escaped in a DN value",
                            c.escape_debug()
                        ));
                    }
                    c => {
                        let mut buf = [0; 4];
                        value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        if c != ' ' {
                            significant = value.len();
                        }
                    }
                }
            }
            // Unescaped trailing spaces are not part of the value (RFC 4514 section 3).
            value.truncate(significant);
            if value.is_empty() {
                return Err("a DN value is empty".into());
            }
            let value = String::from_utf8(value).map_err(|_| "a DN value is not UTF-8")?;
            rdn.push(Ava { kind, value });
            match end {
                Some('+') => {}
                Some(_) => rdns.push(std::mem::take(&mut rdn)),
                None => {
                    rdns.push(rdn);
                    return Ok(Self { rdns });
                }
            }
        }
    }

    /// Whether `self` names an entry strictly below `base` (never `base` itself).
    pub fn is_under(&self, base: &Dn) -> bool {
        self.rdns.len() > base.rdns.len()
            && self
                .rdns
                .iter()
                .rev()
                .zip(base.rdns.iter().rev())
                .all(|(a, b)| rdn_eq(a, b))
    }

    /// Whether `self` and `other` name the same entry. Values compare ignoring case, as
    /// the attributes DNs are made of (`cn`, `uid`, `ou`, `dc`, …) do on every server.
    pub fn same(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self.rdns.iter().zip(&other.rdns).all(|(a, b)| rdn_eq(a, b))
    }

    /// How many RDNs the DN has.
    pub fn depth(&self) -> usize {
        self.rdns.len()
    }
}

fn rdn_eq(a: &[Ava], b: &[Ava]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter()
                .any(|y| x.kind == y.kind && x.value.to_lowercase() == y.value.to_lowercase())
        })
}

/// The canonical text: types lowercased, no spaces around separators, values escaped by
/// [`escape_value`]. Case of values is kept, as the server keeps it.
impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, ava) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}={}", ava.kind, escape_value(&ava.value))?;
            }
        }
        Ok(())
    }
}

/// Escapes `s` to stand as one attribute value in a DN (RFC 4514 section 2.4): the
/// characters with a meaning in a DN get a `\`, control characters become `\XX`, and a
/// leading space or `#` and a trailing space are escaped, so that no value can end an RDN,
/// start another, or be trimmed.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let last = s.chars().count().saturating_sub(1);
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '=' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    #[test]
    fn hostile_values_are_escaped_into_one_value() {
        for (raw, escaped) in [
            ("a,ou=x", "a\\,ou\\=x"),
            ("*", "*"),
            (")(uid=*", ")(uid\\=*"),
            ("\0", "\\00"),
            ("a+cn=b", "a\\+cn\\=b"),
            (" #lead", "\\ #lead"),
            ("#x", "\\#x"),
            ("trail ", "trail\\ "),
            ("back\\slash", "back\\\\slash"),
            ("q\"<>;", "q\\\"\\<\\>\\;"),
            ("new\nline", "new\\0aline"),
            ("alice@example.com", "alice@example.com"),
        ] {
            assert_eq!(escape_value(raw), escaped, "{raw:?}");
            let built = dn(&format!("uid={},ou=people,dc=test", escape_value(raw)));
            assert_eq!(built.depth(), 3, "{raw:?} made more than one value");
            assert_eq!(built.rdns[0][0].value, raw, "{raw:?} does not read back");
        }
    }

    #[test]
    fn parsing_and_printing_is_canonical() {
        let a = dn("UID = Alice , ou=People,dc=test");
        assert_eq!(a.to_string(), "uid=Alice,ou=People,dc=test");
        assert!(a.same(&dn("uid=alice,ou=people,DC=Test")));
        assert_eq!(dn("cn=a\\2cb,dc=test").to_string(), "cn=a\\,b,dc=test");
        assert_eq!(dn("cn=caf\\c3\\a9,dc=test").to_string(), "cn=café,dc=test");
        assert_eq!(dn("cn=a\\ ,dc=test").to_string(), "cn=a\\ ,dc=test");
        assert_eq!(dn("cn=a+sn=b,dc=test").to_string(), "cn=a+sn=b,dc=test");
    }

    #[test]
    fn under_is_decided_on_rdns_not_text() {
        let base = dn("ou=groups,dc=warden,dc=test");
        assert!(dn("cn=payments,ou=groups,dc=warden,dc=test").is_under(&base));
        assert!(dn("cn=p,ou=team,OU=Groups,dc=warden,dc=test").is_under(&base));
        assert!(!base.is_under(&base));
        assert!(!dn("cn=x\\,ou=groups,dc=warden,dc=test").is_under(&base));
        assert!(!dn("cn=outside,dc=warden,dc=test").is_under(&base));
        assert!(!dn("cn=p,ou=groups,dc=warden,dc=test,dc=evil").is_under(&base));
        assert!(!dn("cn=p,ou=groups+cn=x,dc=warden,dc=test").is_under(&base));
    }

    #[test]
    fn malformed_dns_are_refused() {
        for bad in [
            "",
            "cn",
            "=x",
            "cn=",
            "cn=a,",
            "cn=a\\",
            "cn=a\\4",
            "cn=a\\q",
            "cn=#04",
            "cn=\"q\"",
            "cn=a;b",
            "cn=a\0",
            "cn=\\ff,dc=x",
            "c n=a",
        ] {
            assert!(Dn::parse(bad).is_err(), "{bad:?}");
        }
    }
}
