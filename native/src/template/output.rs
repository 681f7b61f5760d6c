//! The hydrated result: Meta's `components` list (ref §1.3) and its compact JSON encoding.

use std::borrow::Cow;

use super::definition::MediaKind;
use super::vars::Num;

#[derive(Debug, Clone, PartialEq)]
pub enum Param<'a> {
    Text {
        name: Option<&'a str>,
        text: Cow<'a, str>,
    },
    Currency {
        name: Option<&'a str>,
        fallback: Cow<'a, str>,
        code: Cow<'a, str>,
        amount_1000: i64,
    },
    DateTime {
        name: Option<&'a str>,
        fallback: Cow<'a, str>,
    },
    Media {
        kind: MediaKind,
        link: Option<Cow<'a, str>>,
        id: Option<Cow<'a, str>>,
        filename: Option<Cow<'a, str>>,
    },
    Location {
        latitude: Num,
        longitude: Num,
        name: Option<Cow<'a, str>>,
        address: Option<Cow<'a, str>>,
    },
}

impl Param<'_> {
    /// The text this parameter shows in the preview (media shows nothing).
    pub fn shown(&self) -> &str {
        match self {
            Param::Text { text, .. } => text,
            Param::Currency { fallback, .. } | Param::DateTime { fallback, .. } => fallback,
            Param::Media { .. } | Param::Location { .. } => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonParam<'a> {
    Payload(Cow<'a, str>),
    Coupon(Cow<'a, str>),
    Text(Cow<'a, str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonComponent<'a> {
    pub index: usize,
    pub param: ButtonParam<'a>,
}

impl ButtonComponent<'_> {
    pub fn sub_type(&self) -> &'static str {
        match self.param {
            ButtonParam::Payload(_) => "quick_reply",
            ButtonParam::Coupon(_) => "copy_code",
            ButtonParam::Text(_) => "url",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered<'a> {
    pub header: Vec<Param<'a>>,
    pub body: Vec<Param<'a>>,
    pub buttons: Vec<ButtonComponent<'a>>,
    pub preview: String,
}

/// Appends `s` as a JSON string literal, escaped exactly as serde_json does: `"`, `\\` and
/// control characters only (short forms for \b \f \n \r \t, else `\u00XX`).
fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn num(out: &mut Vec<u8>, n: Num) {
    let _ = match n {
        Num::Int(i) => serde_json::to_writer(&mut *out, &i),
        Num::Float(f) => serde_json::to_writer(&mut *out, &f),
    };
}

fn field(out: &mut Vec<u8>, first: bool, key: &str) {
    if !first {
        out.push(b',');
    }
    string(out, key);
    out.push(b':');
}

fn opt_field(out: &mut Vec<u8>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        field(out, false, key);
        string(out, v);
    }
}

fn param(out: &mut Vec<u8>, p: &Param<'_>) {
    let (kind, name) = match p {
        Param::Text { name, .. } => ("text", *name),
        Param::Currency { name, .. } => ("currency", *name),
        Param::DateTime { name, .. } => ("date_time", *name),
        Param::Media { kind, .. } => (kind.as_str(), None),
        Param::Location { .. } => ("location", None),
    };
    out.extend_from_slice(b"{\"type\":");
    string(out, kind);
    opt_field(out, "parameter_name", name);
    match p {
        Param::Text { text, .. } => {
            field(out, false, "text");
            string(out, text);
        }
        Param::Currency {
            fallback,
            code,
            amount_1000,
            ..
        } => {
            out.extend_from_slice(b",\"currency\":{\"fallback_value\":");
            string(out, fallback);
            field(out, false, "code");
            string(out, code);
            field(out, false, "amount_1000");
            num(out, Num::Int(*amount_1000));
            out.push(b'}');
        }
        Param::DateTime { fallback, .. } => {
            out.extend_from_slice(b",\"date_time\":{\"fallback_value\":");
            string(out, fallback);
            out.push(b'}');
        }
        Param::Media {
            kind,
            link,
            id,
            filename,
        } => {
            field(out, false, kind.as_str());
            out.push(b'{');
            let mut first = true;
            for (key, value) in [("link", link), ("id", id), ("filename", filename)] {
                if let Some(v) = value {
                    field(out, first, key);
                    string(out, v);
                    first = false;
                }
            }
            out.push(b'}');
        }
        Param::Location {
            latitude,
            longitude,
            name,
            address,
        } => {
            out.extend_from_slice(b",\"location\":{\"latitude\":");
            num(out, *latitude);
            field(out, false, "longitude");
            num(out, *longitude);
            opt_field(out, "name", name.as_deref());
            opt_field(out, "address", address.as_deref());
            out.push(b'}');
        }
    }
    out.push(b'}');
}

fn params_component(out: &mut Vec<u8>, kind: &str, params: &[Param<'_>], first: &mut bool) {
    if params.is_empty() {
        return;
    }
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.extend_from_slice(b"{\"type\":");
    string(out, kind);
    out.extend_from_slice(b",\"parameters\":[");
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        param(out, p);
    }
    out.extend_from_slice(b"]}");
}

impl Rendered<'_> {
    /// The `components` list as compact JSON.
    pub fn components_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(b'[');
        let mut first = true;
        params_component(&mut out, "header", &self.header, &mut first);
        params_component(&mut out, "body", &self.body, &mut first);
        for b in &self.buttons {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(b"{\"type\":\"button\",\"sub_type\":");
            string(&mut out, b.sub_type());
            out.extend_from_slice(b",\"index\":\"");
            match u8::try_from(b.index) {
                Ok(digit) if digit < 10 => out.push(b'0' + digit),
                _ => out.extend_from_slice(b.index.to_string().as_bytes()),
            }
            out.extend_from_slice(b"\",\"parameters\":[");
            let (kind, value) = match &b.param {
                ButtonParam::Payload(v) => ("payload", v),
                ButtonParam::Coupon(v) => ("coupon_code", v),
                ButtonParam::Text(v) => ("text", v),
            };
            out.extend_from_slice(b"{\"type\":");
            string(&mut out, kind);
            field(&mut out, false, kind);
            string(&mut out, value);
            out.extend_from_slice(b"}]}");
        }
        out.push(b']');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_serde_json() {
        let mut all: String = (0u32..0x80).filter_map(char::from_u32).collect();
        all.push_str("é🦀\u{2028}\u{ffff}/</script>");
        for s in [all.as_str(), "", "plain", "\"", "\\", "\u{7f}", "a\u{0}b"] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn numbers_and_indexes() {
        let r = Rendered {
            header: vec![Param::Location {
                latitude: Num::Float(-0.5),
                longitude: Num::Int(12),
                name: None,
                address: Some("A \"B\"".into()),
            }],
            body: Vec::new(),
            buttons: vec![ButtonComponent {
                index: 9,
                param: ButtonParam::Coupon("C".into()),
            }],
            preview: String::new(),
        };
        assert_eq!(
            String::from_utf8(r.components_json()).unwrap(),
            concat!(
                r#"[{"type":"header","parameters":[{"type":"location","location":"#,
                r#"{"latitude":-0.5,"longitude":12,"address":"A \"B\""}}]},"#,
                r#"{"type":"button","sub_type":"copy_code","index":"9","parameters":"#,
                r#"[{"type":"coupon_code","coupon_code":"C"}]}]"#
            )
        );
    }
}
