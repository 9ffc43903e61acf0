//! The canonical encoding behind `bundle_hash` and `input_hash`: JSON with object keys
//! sorted at every depth, no insignificant whitespace, hashed with SHA-256.
//!
//! Keys are sorted here rather than trusting the map type, because a dependency may switch
//! `serde_json` to insertion order, and a hash must not depend on that.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{self, Error as _};
use serde_json::{Error, Value};
use sha2::{Digest, Sha256};

/// Serialises `value` canonically.
pub fn to_canonical_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let bytes = to_canonical_bytes(value)?;
    String::from_utf8(bytes).map_err(Error::custom)
}

/// The canonical encoding as bytes, written straight from the serde data model.
///
/// It produces exactly what `serde_json::to_value` followed by a key-sorting writer would,
/// without building the tree: scalars are written by `serde_json`'s own serializer, and the
/// rare types whose `Value` form differs from their direct form (`f32`, 128-bit integers,
/// bytes, map keys) still go through `Value`, so their encoding cannot drift.
fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    value.serialize(Canonical { out: &mut out })?;
    Ok(out)
}

/// Writes one value canonically into `out`.
struct Canonical<'a> {
    out: &'a mut Vec<u8>,
}

impl Canonical<'_> {
    /// Writes a scalar with `serde_json`'s compact serializer.
    fn json(&mut self) -> serde_json::Serializer<&mut Vec<u8>> {
        serde_json::Serializer::new(&mut *self.out)
    }

    /// Writes `value` the way its `serde_json::Value` form prints.
    fn via_value<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        let v = serde_json::to_value(value)?;
        write_value(&v, self.out)
    }

    /// `{"variant":` — the opening of an externally tagged variant.
    fn open_variant(&mut self, variant: &str) -> Result<(), Error> {
        self.out.push(b'{');
        ser::Serializer::serialize_str(&mut self.json(), variant)?;
        self.out.push(b':');
        Ok(())
    }
}

impl<'a> ser::Serializer for Canonical<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(mut self, v: bool) -> Result<(), Error> {
        ser::Serializer::serialize_bool(&mut self.json(), v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(mut self, v: i64) -> Result<(), Error> {
        ser::Serializer::serialize_i64(&mut self.json(), v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.via_value(&v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(mut self, v: u64) -> Result<(), Error> {
        ser::Serializer::serialize_u64(&mut self.json(), v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.via_value(&v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.via_value(&v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.via_value(&v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut buf = [0; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(mut self, v: &str) -> Result<(), Error> {
        ser::Serializer::serialize_str(&mut self.json(), v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.via_value(&serde_json::Value::from(v))
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant)?;
        value.serialize(Canonical {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>, Error> {
        self.out.push(b'[');
        Ok(Seq {
            out: self.out,
            first: true,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a>, Error> {
        self.open_variant(variant)?;
        self.out.push(b'[');
        Ok(Seq {
            out: self.out,
            first: true,
            variant: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, Error> {
        Ok(Object::new(self.out, false))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Object<'a>, Error> {
        Ok(Object::new(self.out, false))
    }
    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, Error> {
        self.open_variant(variant)?;
        Ok(Object::new(self.out, true))
    }
}

/// An array being written; `variant` closes the enclosing `{"variant":…}` too.
struct Seq<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    variant: bool,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Canonical {
            out: &mut *self.out,
        })
    }

    fn close(self) -> Result<(), Error> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// An object being written. As in a `serde_json::Map`, a repeated key keeps its last value.
///
/// While keys arrive in strictly increasing order (a `BTreeMap`, a struct whose fields are
/// declared in order) members are written straight to `out`. The first key that does not
/// follow moves what was written into `buf`, and from then on members are encoded into
/// `buf` as they come and written to `out` sorted by key when the object closes.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    /// Where this object's `{` is in `out`, while members are written straight to `out`;
    /// `None` once they are buffered.
    direct: Option<usize>,
    buf: Vec<u8>,
    /// Key and the range of its encoded value: in `out` while direct, in `buf` after.
    members: Vec<(Cow<'static, str>, usize, usize)>,
    key: Option<String>,
    variant: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>, variant: bool) -> Self {
        let open = out.len();
        out.push(b'{');
        Object {
            out,
            direct: Some(open),
            buf: Vec::new(),
            members: Vec::new(),
            key: None,
            variant,
        }
    }

    fn member<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), Error> {
        if let Some(open) = self.direct {
            if self.members.last().is_none_or(|(last, _, _)| *last < key) {
                if !self.members.is_empty() {
                    self.out.push(b',');
                }
                ser::Serializer::serialize_str(
                    &mut serde_json::Serializer::new(&mut *self.out),
                    &key,
                )?;
                self.out.push(b':');
                let start = self.out.len();
                value.serialize(Canonical { out: self.out })?;
                self.members.push((key, start, self.out.len()));
                return Ok(());
            }
            // Out of order: keep the values written so far in `buf`, and buffer from now on.
            let body = open + 1;
            self.buf = self.out.get(body..).unwrap_or_default().to_vec();
            self.out.truncate(open);
            for m in &mut self.members {
                m.1 -= body;
                m.2 -= body;
            }
            self.direct = None;
        }
        let start = self.buf.len();
        value.serialize(Canonical { out: &mut self.buf })?;
        self.members.push((key, start, self.buf.len()));
        Ok(())
    }

    fn close(mut self) -> Result<(), Error> {
        if self.direct.is_none() {
            self.write_sorted()?;
        }
        self.out.push(b'}');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }

    /// Writes the buffered members to `out` sorted by key, each key once with its last value.
    fn write_sorted(&mut self) -> Result<(), Error> {
        // Stable, so that among equal keys the last one stays last.
        self.members.sort_by(|a, b| a.0.cmp(&b.0));
        self.out.push(b'{');
        let mut first = true;
        let mut members = self.members.iter().peekable();
        while let Some((key, start, end)) = members.next() {
            if members.peek().is_some_and(|next| next.0 == *key) {
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            ser::Serializer::serialize_str(&mut serde_json::Serializer::new(&mut *self.out), key)?;
            self.out.push(b':');
            let value = self
                .buf
                .get(*start..*end)
                .ok_or_else(|| Error::custom("bad member"))?;
            self.out.extend_from_slice(value);
        }
        Ok(())
    }
}

/// The string a map key becomes in a `serde_json::Value` (integers and booleans become
/// strings; other keys are errors), taken from `Value` itself so that it cannot differ.
fn key_string<K: Serialize + ?Sized>(key: &K) -> Result<String, Error> {
    struct One<'k, K: ?Sized>(&'k K);
    impl<K: Serialize + ?Sized> Serialize for One<'_, K> {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use ser::SerializeMap;
            let mut map = s.serialize_map(Some(1))?;
            map.serialize_entry(self.0, &())?;
            map.end()
        }
    }
    match serde_json::to_value(One(key))? {
        Value::Object(map) => map
            .into_iter()
            .next()
            .map(|(k, _)| k)
            .ok_or_else(|| Error::custom("key must be a string")),
        _ => Err(Error::custom("key must be a string")),
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key_string(key)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::custom("serialize_value called before serialize_key"))?;
        self.member(Cow::Owned(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// Writes a `Value` with keys sorted at every depth: the reference encoding, used for the
/// few types written through `Value` and by the tests that pin the writer to it.
fn write_value(v: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                if let Some(inner) = map.get(k) {
                    write_value(inner, out)?;
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_tagged(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:<hex>` of the canonical encoding of `value`.
pub fn hash_of<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    Ok(sha256_tagged(&to_canonical_bytes(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_encoding() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "s"}});
        let b = json!({"a": {"x": "s", "y": [1, 2]}, "b": 1});
        assert_eq!(
            to_canonical_json(&a).unwrap(),
            to_canonical_json(&b).unwrap()
        );
        assert_eq!(
            to_canonical_json(&a).unwrap(),
            r#"{"a":{"x":"s","y":[1,2]},"b":1}"#
        );
    }

    /// The encoding before the direct writer: through `Value`, keys sorted at every depth.
    fn reference<T: Serialize>(value: &T) -> String {
        let mut out = Vec::new();
        write_value(&serde_json::to_value(value).unwrap(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { z: bool, a: Option<u64> },
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Mixed {
        zeta: Vec<Shape>,
        alpha: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        numbers: (i64, u64, i128, u128, f32, f64, f64),
        text: String,
        ch: char,
        bytes: serde_json::Value,
        by_int: std::collections::BTreeMap<i32, Unit>,
        by_bool: std::collections::BTreeMap<bool, ()>,
        nested: serde_json::Value,
    }

    #[test]
    fn direct_writer_matches_the_value_encoding() {
        let m = Mixed {
            zeta: vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-3, "t\"\\\n\u{1}é".into()),
                Shape::Struct { z: true, a: None },
                Shape::Struct {
                    z: false,
                    a: Some(u64::MAX),
                },
            ],
            alpha: None,
            skipped: None,
            numbers: (i64::MIN, u64::MAX, -5, 1 << 60, 0.1, f64::NAN, 1.5e300),
            text: "ünïcödé \u{7f} \u{2028}".into(),
            ch: '"',
            bytes: serde_json::Value::from(&b"ab"[..]),
            by_int: [(10, Unit), (-1, Unit), (2, Unit)].into_iter().collect(),
            by_bool: [(true, ()), (false, ())].into_iter().collect(),
            nested: json!({"b": [{"y": 1, "x": null}], "a": {"d": "", "c": 2.5}, "": []}),
        };
        assert_eq!(to_canonical_json(&m).unwrap(), reference(&m));
        assert_eq!(
            hash_of(&m).unwrap(),
            sha256_tagged(reference(&m).as_bytes())
        );
    }

    #[test]
    fn repeated_map_key_keeps_the_last_value() {
        struct Twice;
        impl Serialize for Twice {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use ser::SerializeMap;
                let mut map = s.serialize_map(None)?;
                map.serialize_entry("k", &1)?;
                map.serialize_entry("a", &0)?;
                map.serialize_entry("k", &2)?;
                map.end()
            }
        }
        assert_eq!(to_canonical_json(&Twice).unwrap(), reference(&Twice));
        assert_eq!(to_canonical_json(&Twice).unwrap(), r#"{"a":0,"k":2}"#);
    }

    /// A map written with its entries in the order given, repeats included; each value is
    /// a number or another such map.
    #[derive(Clone, Debug)]
    struct Entries(Vec<(String, Option<Entries>, i64)>);

    impl Serialize for Entries {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use ser::SerializeMap;
            let mut map = s.serialize_map(None)?;
            for (k, nested, n) in &self.0 {
                match nested {
                    Some(inner) => map.serialize_entry(k, inner)?,
                    None => map.serialize_entry(k, n)?,
                }
            }
            map.end()
        }
    }

    fn entries() -> impl proptest::strategy::Strategy<Value = Entries> {
        use proptest::prelude::*;
        let key = "[a-d]{0,2}";
        let leaf =
            proptest::collection::vec((key, Just(None), any::<i64>()), 0..6).prop_map(Entries);
        leaf.prop_recursive(3, 24, 6, move |inner| {
            proptest::collection::vec((key, proptest::option::of(inner), any::<i64>()), 0..6)
                .prop_map(Entries)
        })
    }

    proptest::proptest! {
        /// Members written straight while their keys are in order, buffered from the first
        /// that is not: either way the encoding is the reference one.
        #[test]
        fn any_arrival_order_gives_the_reference_encoding(e in entries()) {
            proptest::prop_assert_eq!(to_canonical_json(&e).unwrap(), reference(&e));
            let mut sorted = e.0.clone();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            sorted.dedup_by(|later, earlier| later.0 == earlier.0);
            let sorted = Entries(sorted);
            proptest::prop_assert_eq!(to_canonical_json(&sorted).unwrap(), reference(&sorted));
        }
    }

    #[test]
    fn unsupported_map_key_is_an_error() {
        let m: std::collections::BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(to_canonical_json(&m).is_err());
        assert!(serde_json::to_value(&m).is_err());
        assert!(to_canonical_json(&(1u128 << 70)).is_err());
    }

    #[test]
    fn hash_is_tagged_sha256() {
        assert_eq!(
            sha256_tagged(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
