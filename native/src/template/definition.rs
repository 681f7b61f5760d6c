//! Compiling a template definition (Meta's template-management JSON) into segments.

use serde_json::{Map, Value};

use super::limits::{BUTTONS_MAX, PARAM_NAME_MAX};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Positional,
    Named,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Positional => "POSITIONAL",
            Format::Named => "NAMED",
        }
    }
}

/// A piece of a compiled text: a literal or the value of the `n`th parameter of its section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Lit(String),
    Var(usize),
}

/// A text with placeholders; `params` are the names in parameter order: "1".."n" for
/// positional templates, names in order of first appearance for named ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub segs: Vec<Seg>,
    pub params: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Document,
    Location,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Location => "location",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    None,
    Text(Section),
    Media(MediaKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    QuickReply,
    Url { dynamic: bool },
    PhoneNumber,
    CopyCode,
    Otp,
}

impl Button {
    /// Whether a value is required for this button in every send.
    pub fn needs_value(self) -> bool {
        matches!(
            self,
            Button::Url { dynamic: true } | Button::CopyCode | Button::Otp
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: String,
    pub language: String,
    pub category: String,
    pub format: Format,
    pub header: Header,
    pub body: Section,
    pub footer: String,
    pub buttons: Vec<Button>,
}

/// One placeholder as written: positional digits or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ph {
    Pos(String),
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Lit(String),
    Ph(Ph),
}

/// Splits `text` into literals and placeholders. `{{` must be closed by `}}` and enclose
/// `[1-9][0-9]*` or `[a-z][a-z0-9_]*` (at most 20 characters).
fn scan(text: &str, at: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(format!("{at}: unclosed placeholder '{{{{'"));
        };
        if open > 0 {
            items.push(Item::Lit(rest[..open].to_owned()));
        }
        items.push(Item::Ph(classify(&after[..close], at)?));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        items.push(Item::Lit(rest.to_owned()));
    }
    Ok(items)
}

fn classify(inner: &str, at: &str) -> Result<Ph, String> {
    let bytes = inner.as_bytes();
    if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) && bytes[0] != b'0' {
        return Ok(Ph::Pos(inner.to_owned()));
    }
    let named = matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
    if named {
        if bytes.len() > PARAM_NAME_MAX {
            return Err(format!(
                "{at}: placeholder name longer than {PARAM_NAME_MAX} characters"
            ));
        }
        return Ok(Ph::Named(inner.to_owned()));
    }
    Err(format!(
        "{at}: invalid placeholder (use {{{{1}}}}..{{{{n}}}} or {{{{lowercase_name}}}})"
    ))
}

fn has_kind(items: &[Item], named: bool) -> bool {
    items.iter().any(|i| {
        matches!(i, Item::Ph(Ph::Named(_)) if named) || matches!(i, Item::Ph(Ph::Pos(_)) if !named)
    })
}

fn placeholder_count(items: &[Item]) -> usize {
    let mut seen: Vec<&Ph> = Vec::new();
    for item in items {
        if let Item::Ph(ph) = item {
            if !seen.contains(&ph) {
                seen.push(ph);
            }
        }
    }
    seen.len()
}

/// Resolves scanned items into a section; positional placeholders must be exactly {{1}}..{{n}}.
fn build_section(items: Vec<Item>, format: Format, at: &str) -> Result<Section, String> {
    let mut params: Vec<String> = Vec::new();
    for item in &items {
        if let Item::Ph(Ph::Pos(s) | Ph::Named(s)) = item {
            if !params.contains(s) {
                params.push(s.clone());
            }
        }
    }
    if format == Format::Positional {
        let n = params.len();
        if let Some(k) = (1..=n).find(|k| !params.contains(&k.to_string())) {
            return Err(format!(
                "{at}: positional placeholders must run {{{{1}}}}..{{{{{n}}}}} without gaps ({{{{{k}}}}} is missing)"
            ));
        }
        params = (1..=n).map(|k| k.to_string()).collect();
    }
    let segs = items
        .into_iter()
        .map(|item| match item {
            Item::Lit(s) => Seg::Lit(s),
            Item::Ph(Ph::Pos(s) | Ph::Named(s)) => {
                Seg::Var(params.iter().position(|p| *p == s).unwrap_or_default())
            }
        })
        .collect();
    Ok(Section { segs, params })
}

fn non_empty_str<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(format!("{at}'{key}' must be a non-empty string")),
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, String> {
    match obj.get(key) {
        None => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{at}'{key}' must be a string")),
    }
}

fn upper_str(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) => Some(s.to_ascii_uppercase()),
        _ => None,
    }
}

/// What a component contributes before the format is known.
enum Raw {
    HeaderText(Vec<Item>),
    HeaderMedia(MediaKind),
    Body(Vec<Item>),
    Footer(String),
    Buttons(Vec<Button>),
}

fn parse_header(obj: &Map<String, Value>) -> Result<Raw, String> {
    let format = match obj.get("format") {
        None => "TEXT".to_owned(),
        Some(_) => upper_str(obj, "format").unwrap_or_default(),
    };
    let media = match format.as_str() {
        "TEXT" => None,
        "IMAGE" => Some(MediaKind::Image),
        "VIDEO" => Some(MediaKind::Video),
        "DOCUMENT" => Some(MediaKind::Document),
        "LOCATION" => Some(MediaKind::Location),
        _ => {
            return Err(
                "HEADER.format must be one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION".to_owned(),
            )
        }
    };
    if let Some(kind) = media {
        return Ok(Raw::HeaderMedia(kind));
    }
    let text = non_empty_str(obj, "text", "HEADER.")?;
    let items = scan(text, "HEADER")?;
    if placeholder_count(&items) > 1 {
        return Err("HEADER: at most one placeholder is allowed".to_owned());
    }
    Ok(Raw::HeaderText(items))
}

fn parse_button(i: usize, value: &Value) -> Result<Button, String> {
    let Value::Object(obj) = value else {
        return Err(format!("BUTTONS[{i}] must be an object"));
    };
    let kind = upper_str(obj, "type").unwrap_or_default();
    match kind.as_str() {
        "QUICK_REPLY" => Ok(Button::QuickReply),
        "PHONE_NUMBER" => Ok(Button::PhoneNumber),
        "COPY_CODE" => Ok(Button::CopyCode),
        "OTP" => match upper_str(obj, "otp_type").as_deref() {
            Some("COPY_CODE" | "ONE_TAP" | "ZERO_TAP") => Ok(Button::Otp),
            _ => Err(format!(
                "BUTTONS[{i}].otp_type must be one of COPY_CODE, ONE_TAP, ZERO_TAP"
            )),
        },
        "URL" => {
            let at = format!("BUTTONS[{i}].url");
            let url = non_empty_str(obj, "url", &format!("BUTTONS[{i}]."))?;
            let items = scan(url, &at)?;
            let phs = items.iter().filter(|i| matches!(i, Item::Ph(_))).count();
            let trailing_one = matches!(items.last(), Some(Item::Ph(Ph::Pos(s))) if s == "1");
            match (phs, trailing_one) {
                (0, _) => Ok(Button::Url { dynamic: false }),
                (1, true) => Ok(Button::Url { dynamic: true }),
                _ => Err(format!(
                    "{at}: only a single {{{{1}}}} at the end of the URL is allowed"
                )),
            }
        }
        _ => Err(format!(
            "BUTTONS[{i}].type must be one of QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP"
        )),
    }
}

fn parse_buttons(obj: &Map<String, Value>) -> Result<Raw, String> {
    let buttons = match obj.get("buttons") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err("BUTTONS.buttons must be a non-empty list".to_owned()),
    };
    if buttons.len() > BUTTONS_MAX {
        return Err(format!(
            "BUTTONS: at most {BUTTONS_MAX} buttons are allowed"
        ));
    }
    let parsed = buttons
        .iter()
        .enumerate()
        .map(|(i, b)| parse_button(i, b))
        .collect::<Result<_, _>>()?;
    Ok(Raw::Buttons(parsed))
}

fn parse_component(i: usize, value: &Value) -> Result<(&'static str, Raw), String> {
    let Value::Object(obj) = value else {
        return Err(format!("components[{i}] must be an object"));
    };
    let kind = upper_str(obj, "type").unwrap_or_default();
    match kind.as_str() {
        "HEADER" => Ok(("HEADER", parse_header(obj)?)),
        "BODY" => {
            let text = non_empty_str(obj, "text", "BODY.")?;
            Ok(("BODY", Raw::Body(scan(text, "BODY")?)))
        }
        "FOOTER" => {
            let text = match obj.get("text") {
                Some(Value::String(s)) => s,
                _ => return Err("FOOTER.'text' must be a string".to_owned()),
            };
            if scan(text, "FOOTER")?
                .iter()
                .any(|i| matches!(i, Item::Ph(_)))
            {
                return Err("FOOTER: placeholders are not allowed".to_owned());
            }
            Ok(("FOOTER", Raw::Footer(text.clone())))
        }
        "BUTTONS" => Ok(("BUTTONS", parse_buttons(obj)?)),
        _ => Err(format!(
            "components[{i}].type must be one of HEADER, BODY, FOOTER, BUTTONS"
        )),
    }
}

/// The format declared or inferred from the header and body placeholders (URL buttons always
/// use {{1}} and do not count). No placeholder at all means POSITIONAL.
fn decide_format(declared: Option<Format>, texts: &[&[Item]]) -> Result<Format, String> {
    let pos = texts.iter().any(|t| has_kind(t, false));
    let named = texts.iter().any(|t| has_kind(t, true));
    if pos && named {
        return Err("the template mixes named and positional placeholders".to_owned());
    }
    let used = match (pos, named) {
        (true, _) => Some(Format::Positional),
        (_, true) => Some(Format::Named),
        _ => None,
    };
    match (declared, used) {
        (Some(d), Some(u)) if d != u => Err(format!(
            "parameter_format is {} but the placeholders are {}",
            d.as_str(),
            u.as_str()
        )),
        (Some(d), _) => Ok(d),
        (None, Some(u)) => Ok(u),
        (None, None) => Ok(Format::Positional),
    }
}

impl Template {
    /// Compiles a definition; the error is the first problem found, with where it is.
    pub fn compile(json: &[u8]) -> Result<Template, String> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| format!("invalid JSON: {e}"))?;
        let Value::Object(obj) = value else {
            return Err("the definition must be a JSON object".to_owned());
        };
        let name = non_empty_str(&obj, "name", "")?.to_owned();
        let language = non_empty_str(&obj, "language", "")?.to_owned();
        let category = opt_str(&obj, "category", "")?.to_owned();
        opt_str(&obj, "status", "")?;
        let declared = match obj.get("parameter_format") {
            None => None,
            Some(_) => match upper_str(&obj, "parameter_format").as_deref() {
                Some("POSITIONAL") => Some(Format::Positional),
                Some("NAMED") => Some(Format::Named),
                _ => return Err("'parameter_format' must be POSITIONAL or NAMED".to_owned()),
            },
        };
        let Some(Value::Array(components)) = obj.get("components") else {
            return Err("'components' must be a list".to_owned());
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut raws = Vec::new();
        for (i, c) in components.iter().enumerate() {
            let (kind, raw) = parse_component(i, c)?;
            if seen.contains(&kind) {
                return Err(format!("duplicate {kind} component"));
            }
            seen.push(kind);
            raws.push(raw);
        }
        let texts: Vec<&[Item]> = raws
            .iter()
            .filter_map(|r| match r {
                Raw::HeaderText(items) | Raw::Body(items) => Some(items.as_slice()),
                _ => None,
            })
            .collect();
        if !seen.contains(&"BODY") {
            return Err("a BODY component is required".to_owned());
        }
        let format = decide_format(declared, &texts)?;
        let mut template = Template {
            name,
            language,
            category,
            format,
            header: Header::None,
            body: Section::default(),
            footer: String::new(),
            buttons: Vec::new(),
        };
        for raw in raws {
            match raw {
                Raw::HeaderText(items) => {
                    template.header = Header::Text(build_section(items, format, "HEADER")?);
                }
                Raw::HeaderMedia(kind) => template.header = Header::Media(kind),
                Raw::Body(items) => template.body = build_section(items, format, "BODY")?,
                Raw::Footer(text) => template.footer = text,
                Raw::Buttons(buttons) => template.buttons = buttons,
            }
        }
        Ok(template)
    }

    /// What variables a send needs: header/body parameter names (or the media kind of a media
    /// header) and the indexes of the buttons that take a value.
    pub fn placeholders(&self) -> [(&'static str, Vec<String>); 3] {
        let header = match &self.header {
            Header::None => Vec::new(),
            Header::Text(s) => s.params.clone(),
            Header::Media(kind) => vec![kind.as_str().to_owned()],
        };
        let buttons = self
            .buttons
            .iter()
            .enumerate()
            .filter(|(_, b)| b.needs_value())
            .map(|(i, _)| i.to_string())
            .collect();
        [
            ("header", header),
            ("body", self.body.params.clone()),
            ("buttons", buttons),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(v: serde_json::Value) -> Result<Template, String> {
        Template::compile(v.to_string().as_bytes())
    }

    fn body(text: &str) -> serde_json::Value {
        serde_json::json!({"name": "t", "language": "en_US", "category": "UTILITY",
            "components": [{"type": "BODY", "text": text}]})
    }

    #[test]
    fn scans_positional_placeholders_in_order() {
        let t = compile(body("Hi {{2}} and {{1}}, again {{2}}.")).unwrap();
        assert_eq!(t.format, Format::Positional);
        assert_eq!(t.body.params, vec!["1", "2"]);
        assert_eq!(
            t.body.segs,
            vec![
                Seg::Lit("Hi ".into()),
                Seg::Var(1),
                Seg::Lit(" and ".into()),
                Seg::Var(0),
                Seg::Lit(", again ".into()),
                Seg::Var(1),
                Seg::Lit(".".into()),
            ]
        );
    }

    #[test]
    fn scans_named_placeholders_in_first_appearance_order() {
        let t = compile(body("{{last_name}}, {{first_name}} {{last_name}}")).unwrap();
        assert_eq!(t.format, Format::Named);
        assert_eq!(t.body.params, vec!["last_name", "first_name"]);
    }

    #[test]
    fn no_placeholder_is_positional() {
        let t = compile(body("static")).unwrap();
        assert_eq!(t.format, Format::Positional);
        assert!(t.body.params.is_empty());
    }

    #[test]
    fn rejects_gaps() {
        let err = compile(body("{{1}} {{3}}")).unwrap_err();
        assert_eq!(
            err,
            "BODY: positional placeholders must run {{1}}..{{2}} without gaps ({{2}} is missing)"
        );
        assert!(compile(body("{{2}}"))
            .unwrap_err()
            .contains("({{1}} is missing)"));
        assert!(compile(body("{{99999999999999999999999}}")).is_err());
    }

    #[test]
    fn rejects_invalid_placeholders() {
        for text in [
            "{{0}}",
            "{{01}}",
            "{{ 1 }}",
            "{{First}}",
            "{{}}",
            "{{_a}}",
            "{{{1}}}",
        ] {
            let err = compile(body(text)).unwrap_err();
            assert!(
                err.starts_with("BODY: invalid placeholder"),
                "{text}: {err}"
            );
        }
        assert_eq!(
            compile(body("hi {{1")).unwrap_err(),
            "BODY: unclosed placeholder '{{'"
        );
        let long = format!("{{{{{}}}}}", "a".repeat(21));
        assert!(compile(body(&long)).unwrap_err().contains("longer than 20"));
        assert!(compile(body(&format!("{{{{{}}}}}", "a".repeat(20)))).is_ok());
    }

    #[test]
    fn rejects_mixing_and_conflicting_format() {
        assert_eq!(
            compile(body("{{1}} {{name}}")).unwrap_err(),
            "the template mixes named and positional placeholders"
        );
        let mut v = body("{{1}}");
        v["components"].as_array_mut().unwrap().insert(
            0,
            serde_json::json!({"type": "header", "format": "text", "text": "{{x}}"}),
        );
        assert_eq!(
            compile(v).unwrap_err(),
            "the template mixes named and positional placeholders"
        );
        let mut v = body("{{1}}");
        v["parameter_format"] = "NAMED".into();
        assert_eq!(
            compile(v).unwrap_err(),
            "parameter_format is NAMED but the placeholders are POSITIONAL"
        );
        let mut v = body("static");
        v["parameter_format"] = "named".into();
        assert_eq!(compile(v).unwrap().format, Format::Named);
    }

    #[test]
    fn parses_all_component_kinds_case_insensitively() {
        let t = compile(serde_json::json!({
            "name": "order_update", "language": "en_US", "category": "UTILITY", "status": "APPROVED",
            "id": "123", "components": [
                {"type": "header", "format": "Text", "text": "Order {{1}}"},
                {"type": "Body", "text": "Hi {{1}}"},
                {"type": "FOOTER", "text": "static"},
                {"type": "buttons", "buttons": [
                    {"type": "quick_reply", "text": "Stop"},
                    {"type": "URL", "text": "Track", "url": "https://x.io/t/{{1}}"},
                    {"type": "URL", "text": "Home", "url": "https://x.io/"},
                    {"type": "COPY_CODE", "example": "SAVE"},
                    {"type": "OTP", "otp_type": "one_tap", "text": "Copy"},
                    {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+1555"}]}]}))
        .unwrap();
        assert_eq!(t.name, "order_update");
        assert_eq!(t.category, "UTILITY");
        assert_eq!(t.footer, "static");
        assert!(matches!(&t.header, Header::Text(s) if s.params == ["1"]));
        assert_eq!(
            t.buttons,
            vec![
                Button::QuickReply,
                Button::Url { dynamic: true },
                Button::Url { dynamic: false },
                Button::CopyCode,
                Button::Otp,
                Button::PhoneNumber,
            ]
        );
        let [(_, h), (_, b), (_, btn)] = t.placeholders();
        assert_eq!(
            (h, b, btn),
            (
                vec!["1".to_owned()],
                vec!["1".to_owned()],
                vec!["1".to_owned(), "3".to_owned(), "4".to_owned()]
            )
        );
    }

    #[test]
    fn media_header_placeholder_is_its_kind() {
        let mut v = body("x");
        v["components"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "HEADER", "format": "DOCUMENT"}));
        let t = compile(v).unwrap();
        assert_eq!(t.header, Header::Media(MediaKind::Document));
        assert_eq!(t.placeholders()[0].1, vec!["document"]);
    }

    #[test]
    fn structural_errors() {
        let base = || body("x");
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (
                serde_json::json!([1]),
                "the definition must be a JSON object",
            ),
            (
                serde_json::json!({"language": "en", "components": []}),
                "'name' must be a non-empty string",
            ),
            (
                serde_json::json!({"name": "t", "components": []}),
                "'language' must be a non-empty string",
            ),
            (
                serde_json::json!({"name": "t", "language": "en"}),
                "'components' must be a list",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": []}),
                "a BODY component is required",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [1]}),
                "components[0] must be an object",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "CAROUSEL"}]}),
                "components[0].type must be one of HEADER, BODY, FOOTER, BUTTONS",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "BODY", "text": "a"}, {"type": "body", "text": "b"}]}),
                "duplicate BODY component",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "BODY"}]}),
                "BODY.'text' must be a non-empty string",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "HEADER", "format": "GIF"}]}),
                "HEADER.format must be one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "HEADER", "text": "{{1}} {{2}}"}]}),
                "HEADER: at most one placeholder is allowed",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "FOOTER", "text": "{{1}}"}]}),
                "FOOTER: placeholders are not allowed",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "BUTTONS", "buttons": []}]}),
                "BUTTONS.buttons must be a non-empty list",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x/{{1}}/y"}]}]}),
                "BUTTONS[0].url: only a single {{1}} at the end of the URL is allowed",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x/{{name}}"}]}]}),
                "BUTTONS[0].url: only a single {{1}} at the end of the URL is allowed",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "BUTTONS", "buttons": [{"type": "OTP"}]}]}),
                "BUTTONS[0].otp_type must be one of COPY_CODE, ONE_TAP, ZERO_TAP",
            ),
            (
                serde_json::json!({"name": "t", "language": "en", "components": [{"type": "BUTTONS", "buttons": [{"type": "FLOW"}]}]}),
                "BUTTONS[0].type must be one of QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP",
            ),
        ];
        for (v, msg) in cases {
            assert_eq!(compile(v.clone()).unwrap_err(), msg, "{v}");
        }
        let mut v = base();
        v["parameter_format"] = "BOTH".into();
        assert_eq!(
            compile(v).unwrap_err(),
            "'parameter_format' must be POSITIONAL or NAMED"
        );
        let eleven: Vec<_> = (0..11)
            .map(|_| serde_json::json!({"type": "QUICK_REPLY"}))
            .collect();
        let mut v = base();
        v["components"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "BUTTONS", "buttons": eleven}));
        assert_eq!(
            compile(v).unwrap_err(),
            "BUTTONS: at most 10 buttons are allowed"
        );
        assert!(Template::compile(b"{")
            .unwrap_err()
            .starts_with("invalid JSON: "));
        assert!(Template::compile(b"\xff")
            .unwrap_err()
            .starts_with("invalid JSON: "));
    }
}
