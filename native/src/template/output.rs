//! The hydrated result: Meta's `components` list (ref §1.3) and its compact JSON encoding.

use super::definition::MediaKind;
use super::vars::Num;

#[derive(Debug, Clone, PartialEq)]
pub enum Param<'t> {
    Text {
        name: Option<&'t str>,
        text: String,
    },
    Currency {
        name: Option<&'t str>,
        fallback: String,
        code: String,
        amount_1000: i64,
    },
    DateTime {
        name: Option<&'t str>,
        fallback: String,
    },
    Media {
        kind: MediaKind,
        link: Option<String>,
        id: Option<String>,
        filename: Option<String>,
    },
    Location {
        latitude: Num,
        longitude: Num,
        name: Option<String>,
        address: Option<String>,
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
pub enum ButtonParam {
    Payload(String),
    Coupon(String),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonComponent {
    pub index: usize,
    pub param: ButtonParam,
}

impl ButtonComponent {
    pub fn sub_type(&self) -> &'static str {
        match self.param {
            ButtonParam::Payload(_) => "quick_reply",
            ButtonParam::Coupon(_) => "copy_code",
            ButtonParam::Text(_) => "url",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered<'t> {
    pub header: Vec<Param<'t>>,
    pub body: Vec<Param<'t>>,
    pub buttons: Vec<ButtonComponent>,
    pub preview: String,
}

/// Appends `s` as a JSON string literal.
fn string(out: &mut Vec<u8>, s: &str) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
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
            out.extend_from_slice(b.index.to_string().as_bytes());
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
