//! A borrowed JSON tree for the variables: strings without escapes point into the input, and
//! objects are small vectors, so parsing costs a fraction of `serde_json::Value` (no map
//! hashing, few allocations). The parser is serde_json's, so what is valid JSON, the nesting
//! limit and the error messages are exactly serde_json's.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::vars::{integral, Kind, Num, Var};

#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// Integers above i64::MAX (serde_json keeps them as u64).
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    /// Keys in document order; a repeated key keeps its first position and its last value,
    /// as in `serde_json::Value`.
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    pub fn parse(input: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_slice(input)
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Json<'de>, E> {
        Ok(Json::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Json<'de>, E> {
        Ok(i64::try_from(u).map_or(Json::UInt(u), Json::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float(f))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Json::Obj(entries))
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

impl<'v, 'a: 'v> Var<'v> for &'v Json<'a> {
    fn kind(&self) -> Kind {
        match self {
            Json::Null => Kind::Null,
            Json::Bool(_) => Kind::Bool,
            Json::Int(_) | Json::UInt(_) => Kind::Int,
            Json::Float(_) => Kind::Float,
            Json::Str(_) => Kind::Str,
            Json::Arr(_) => Kind::List,
            Json::Obj(_) => Kind::Object,
        }
    }

    fn text(&self) -> Option<Option<Cow<'v, str>>> {
        match self {
            Json::Str(s) => Some(Some(Cow::Borrowed(s.as_ref()))),
            _ => None,
        }
    }

    fn int(&self) -> Option<i64> {
        match self {
            Json::Int(i) => Some(*i),
            Json::Float(f) => integral(*f),
            _ => None,
        }
    }

    fn num(&self) -> Option<Num> {
        match self {
            Json::Int(i) => Some(Num::Int(*i)),
            Json::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Json::Arr(a) => a.len(),
            _ => 0,
        }
    }

    fn item(&self, i: usize) -> Option<Self> {
        match self {
            Json::Arr(a) => a.get(i),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> Option<Self> {
        match self {
            Json::Obj(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .filter(|v| !matches!(v, Json::Null)),
            _ => None,
        }
    }

    fn for_each_key(&self, f: &mut dyn FnMut(Option<&str>)) {
        let Json::Obj(entries) = self else { return };
        // Each key once, at its first position. Small objects: a linear look-back.
        if entries.len() <= 16 {
            for (i, (k, _)) in entries.iter().enumerate() {
                if !entries[..i].iter().any(|(prev, _)| prev == k) {
                    f(Some(k));
                }
            }
        } else {
            let mut seen = HashSet::with_capacity(entries.len());
            for (k, _) in entries {
                if seen.insert(k.as_ref()) {
                    f(Some(k));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_strings_and_keys() {
        let input = br#"{"a": "plain", "b\n": "esc\"aped"}"#;
        let Json::Obj(entries) = Json::parse(input).unwrap() else {
            panic!("not an object")
        };
        assert!(matches!(entries[0].0, Cow::Borrowed("a")));
        assert!(matches!(entries[0].1, Json::Str(Cow::Borrowed("plain"))));
        assert_eq!(entries[1].0, "b\n");
        assert_eq!(entries[1].1, Json::Str(Cow::Owned("esc\"aped".into())));
    }

    #[test]
    fn numbers_keep_serde_json_kinds() {
        let parsed = Json::parse(b"[1, -1, 18446744073709551615, 1.5, -0, 1e2]").unwrap();
        assert_eq!(
            parsed,
            Json::Arr(vec![
                Json::Int(1),
                Json::Int(-1),
                Json::UInt(u64::MAX),
                Json::Float(1.5),
                Json::Float(-0.0),
                Json::Float(100.0),
            ])
        );
    }

    #[test]
    fn duplicate_keys_first_position_last_value() {
        let parsed = Json::parse(br#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        let v = &parsed;
        assert_eq!(v.get("a"), Some(&Json::Int(3)));
        let mut keys = Vec::new();
        v.for_each_key(&mut |k| keys.push(k.unwrap().to_owned()));
        assert_eq!(keys, ["a", "b"]);
        let many: String = (0..40).map(|i| format!("\"k{}\": {i},", i % 20)).collect();
        let text = format!("{{{many} \"z\": 0}}");
        let parsed = Json::parse(text.as_bytes()).unwrap();
        let mut count = 0;
        (&parsed).for_each_key(&mut |_| count += 1);
        assert_eq!(count, 21);
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for bad in [
            &b"[1,]"[..],
            b"\"\\ud800\"",
            b"NaN",
            b"\xef\xbb\xbf{}",
            b"1e400",
            b"{} x",
        ] {
            assert!(Json::parse(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(Json::parse(deep.as_bytes()).is_ok());
        let deeper = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(Json::parse(deeper.as_bytes()).is_err());
    }
}
