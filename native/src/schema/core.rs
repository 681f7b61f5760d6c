//! Python-free schema core: parse raw bytes with serde_json and validate them against a
//! JSON Schema (draft 2020-12) compiled once.

use std::fmt::{self, Write};

use jsonschema::{ValidationError, Validator};
use serde_json::Value;

/// One problem: the JSON pointer of the offending value ("" is the root) and what is wrong.
pub type Issue = (String, String);

/// Messages longer than this are cut, so a hostile document cannot make them huge.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Strings longer than this are not quoted in messages (shown as "value").
const MAX_QUOTED_STRING: usize = 64;

/// A JSON Schema compiled once and reused for every document.
pub struct Schema {
    validator: Validator,
}

impl Schema {
    /// Compile the JSON text of a draft 2020-12 schema; the error says why it is refused.
    pub fn compile(text: &[u8]) -> Result<Self, String> {
        let schema: Value =
            serde_json::from_slice(text).map_err(|e| format!("schema is not valid JSON: {e}"))?;
        let validator = jsonschema::draft202012::new(&schema).map_err(|e| {
            let at = e.instance_path().as_str();
            let at = if at.is_empty() { "/" } else { at };
            format!("invalid schema at {at}: {}", describe(&e))
        })?;
        Ok(Self { validator })
    }

    /// Parse and validate: the document, or every problem found.
    pub fn check(&self, data: &[u8]) -> Result<Value, Vec<Issue>> {
        let value = parse(data).map_err(|issue| vec![issue])?;
        if self.validator.is_valid(&value) {
            return Ok(value);
        }
        let issues = self.issues(&value);
        if issues.is_empty() {
            // is_valid and iter_errors are meant to agree; never accept on a disagreement.
            return Err(vec![(String::new(), "document is invalid".to_owned())]);
        }
        Err(issues)
    }

    /// Every problem of an already parsed document (empty when valid).
    pub fn issues(&self, value: &Value) -> Vec<Issue> {
        self.validator
            .iter_errors(value)
            .map(|e| (e.instance_path().as_str().to_owned(), describe(&e)))
            .collect()
    }

    /// Whether `data` is JSON that matches the schema.
    pub fn is_valid(&self, data: &[u8]) -> bool {
        parse(data).is_ok_and(|value| self.validator.is_valid(&value))
    }
}

/// Strict JSON (RFC 8259, UTF-8, nesting below serde_json's limit of 128); the error is at the
/// root and says where parsing stopped.
pub fn parse(data: &[u8]) -> Result<Value, Issue> {
    serde_json::from_slice(data).map_err(|e| (String::new(), format!("invalid JSON: {e}")))
}

/// Whether the parsed number may differ from what Python's `json.loads` gives for its text:
/// an integer too large for i64/u64 became a float, and `-0` became `-0.0`.
pub fn is_lossy_float(x: f64) -> bool {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    x.is_finite() && x.trunc() == x && (x.abs() >= TWO_POW_63 || (x == 0.0 && x.is_sign_negative()))
}

fn describe(error: &ValidationError<'_>) -> String {
    let mut out = Capped::default();
    let small = match error.instance().as_ref() {
        Value::String(s) => s.len() <= MAX_QUOTED_STRING,
        Value::Array(_) | Value::Object(_) => false,
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    };
    // Showing big values would make a message as large as the document.
    let written = if small {
        write!(out, "{error}")
    } else {
        write!(out, "{}", error.masked())
    };
    if written.is_err() {
        out.text.push('…');
    }
    out.text
}

/// A writer that refuses to grow past `MAX_MESSAGE_BYTES`, stopping the formatter early.
#[derive(Default)]
struct Capped {
    text: String,
}

impl Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_MESSAGE_BYTES.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.text.push_str(&s[..cut]);
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE_SCHEMA: &str = r#"{
        "type": "object",
        "required": ["to", "type"],
        "additionalProperties": false,
        "properties": {
            "to": {"type": "string", "pattern": "^\\+?[1-9]\\d{6,14}$"},
            "type": {"enum": ["text", "template"]},
            "text": {"type": "object", "required": ["body"],
                     "properties": {"body": {"type": "string", "maxLength": 4096}}},
            "template": {
                "type": "object",
                "required": ["name", "language"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "language": {"type": "string"},
                    "variables": {"type": "array", "items": {"type": "string"}}
                }
            }
        }
    }"#;

    fn schema() -> Schema {
        Schema::compile(MESSAGE_SCHEMA.as_bytes()).expect("valid schema")
    }

    fn paths(result: Result<Value, Vec<Issue>>) -> Vec<String> {
        let mut paths: Vec<String> = result
            .expect_err("invalid")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn valid_document_is_returned() {
        let doc = br#"{"to": "+15551234567", "type": "template",
                       "template": {"name": "hello", "language": "en", "variables": ["a"]}}"#;
        let value = schema().check(doc).expect("valid");
        assert_eq!(value["template"]["variables"][0], "a");
        assert!(schema().is_valid(doc));
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let doc = br#"{"to": "12", "type": "video", "extra": 1,
                       "template": {"name": "", "variables": [1, "x", null]}}"#;
        assert_eq!(
            paths(schema().check(doc)),
            [
                "",
                "/template",
                "/template/name",
                "/template/variables/0",
                "/template/variables/2",
                "/to",
                "/type",
            ]
        );
        assert!(!schema().is_valid(doc));
    }

    #[test]
    fn pointer_segments_are_escaped() {
        let s = Schema::compile(br#"{"additionalProperties": {"type": "string"}}"#).unwrap();
        assert_eq!(paths(s.check(br#"{"a/b~c": 1}"#)), ["/a~1b~0c"]);
    }

    #[test]
    fn invalid_schemas_are_refused_with_a_reason() {
        let err = Schema::compile(br#"{"type": "strnig"}"#).err().unwrap();
        assert!(err.starts_with("invalid schema at /type"), "{err}");
        let err = Schema::compile(b"{").err().unwrap();
        assert!(err.starts_with("schema is not valid JSON"), "{err}");
        let err = Schema::compile(br#"{"$ref": "https://example.com/s.json"}"#)
            .err()
            .unwrap();
        assert!(err.contains("example.com"), "{err}");
    }

    #[test]
    fn parse_errors_say_where() {
        for (doc, needle) in [
            (&b"{\"to\": }"[..], "line 1 column 8"),
            (b"{\"a\": \"\xff\"}", "invalid unicode"),
            (b"[NaN]", "line 1"),
            (br#"["\ud800"]"#, "hex escape"),
            (b"[1] 2", "trailing characters"),
            (b"", "EOF"),
        ] {
            let issue = parse(doc).expect_err("invalid JSON");
            assert_eq!(issue.0, "");
            assert!(issue.1.contains(needle), "{doc:?}: {}", issue.1);
        }
    }

    #[test]
    fn nesting_is_limited_not_fatal() {
        let ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(parse(ok.as_bytes()).is_ok());
        let too_deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        let issue = parse(too_deep.as_bytes()).expect_err("too deep");
        assert!(issue.1.contains("recursion limit"), "{}", issue.1);
        let hostile = "[".repeat(100_000);
        assert!(parse(hostile.as_bytes()).is_err());
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_in_first_position() {
        let value = parse(br#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(value["a"], 3);
    }

    #[test]
    fn floats_round_trip_exactly() {
        let value = parse(b"[0.1, 2.2250738585072014e-308, 1.7976931348623157e308]").unwrap();
        assert_eq!(value[0].as_f64(), Some(0.1));
        assert_eq!(value[1].as_f64(), Some(2.225_073_858_507_201_4e-308));
        assert_eq!(value[2].as_f64(), Some(f64::MAX));
        assert!(parse(b"[1e400]").is_err());
    }

    #[test]
    fn lossy_numbers_are_detected() {
        let value = parse(
            b"[18446744073709551615, -9223372036854775808, 18446744073709551616, -0, 1.5, 0]",
        )
        .unwrap();
        let lossy: Vec<bool> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().is_some_and(is_lossy_float) && v.is_f64())
            .collect();
        assert_eq!(lossy, [false, false, true, true, false, false]);
    }

    #[test]
    fn messages_stay_small_for_huge_values() {
        let s = Schema::compile(br#"{"type": "integer"}"#).unwrap();
        let huge = format!("\"{}\"", "x".repeat(1_000_000));
        let issues = s.check(huge.as_bytes()).expect_err("not an integer");
        assert!(
            issues[0].1.len() <= MAX_MESSAGE_BYTES + 3,
            "{}",
            issues[0].1.len()
        );
        let s = Schema::compile(br#"{"properties": {"a": {}}, "additionalProperties": false}"#)
            .unwrap();
        let keys: Vec<String> = (0..10_000).map(|i| format!("\"k{i}\": 0")).collect();
        let doc = format!("{{{}}}", keys.join(","));
        let issues = s.check(doc.as_bytes()).expect_err("extra keys");
        assert_eq!(issues.len(), 1);
        assert!(issues[0].1.ends_with('…'), "{}", issues[0].1);
        assert!(issues[0].1.len() <= MAX_MESSAGE_BYTES + 3);
    }
}
