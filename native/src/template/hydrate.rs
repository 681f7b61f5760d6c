//! Hydration: check the variables against a compiled template and build Meta's components.
//!
//! Every problem is collected as (JSON pointer into the variables, message); nothing stops at
//! the first error except a wrong container type, under which nothing more can be checked.

use std::borrow::Cow;

use super::definition::{Button, Header, MediaKind, Section, Seg, Template};
use super::limits::{
    BODY_RENDERED_MAX, COUPON_CODE_MAX, HEADER_PARAM_MAX, MAX_CONSECUTIVE_SPACES, OTP_CODE_MAX,
    QUICK_REPLY_PAYLOAD_MAX, URL_SUFFIX_MAX,
};
use super::output::{ButtonComponent, ButtonParam, Param, Rendered};
use super::vars::{Kind, Num, Var};

pub const MISSING: &str = "missing variable";
pub const EXTRA: &str = "unexpected variable";
pub const UNEXPECTED_KEY: &str = "unexpected key";
pub const REQUIRED: &str = "is required";
pub const BAD_KEYS: &str = "keys must be valid unicode strings";
pub const UNICODE: &str = "must be valid unicode (no lone surrogates)";
pub const EMPTY: &str = "must not be empty or whitespace-only";
pub const NEWLINE: &str = "must not contain newline or tab characters";
pub const SPACES: &str = "must not contain more than 4 consecutive spaces";
pub const EXPECTED_STRING: &str = "expected a string";
pub const EXPECTED_LIST: &str = "expected a list";
pub const EXPECTED_OBJECT: &str = "expected an object";
pub const EXPECTED_BODY_VALUE: &str = "expected a string or a currency/date_time object";
pub const TYPED_TYPE: &str = "must be 'currency' or 'date_time'";
pub const CURRENCY_CODE: &str = "must be a 3-letter ISO 4217 currency code";
pub const AMOUNT: &str = "must be a 64-bit integer";
pub const LINK: &str = "must be an http(s) URL";
pub const LINK_OR_ID: &str = "link or id is required";
pub const NOT_BOTH: &str = "give either link or id, not both";

pub type Errors = Vec<(String, String)>;

/// A JSON pointer built on the stack and only turned into a string when an error needs it.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: PSeg<'a>,
}

#[derive(Clone, Copy)]
enum PSeg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

const ROOT: Path<'static> = Path {
    parent: None,
    seg: PSeg::Root,
};

impl<'a> Path<'a> {
    fn key(&'a self, key: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: PSeg::Key(key),
        }
    }

    fn index(&'a self, i: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: PSeg::Index(i),
        }
    }

    fn write(&self, out: &mut String) {
        if let Some(p) = self.parent {
            p.write(out);
        }
        match self.seg {
            PSeg::Root => {}
            PSeg::Key(k) => {
                out.push('/');
                out.push_str(&k.replace('~', "~0").replace('/', "~1"));
            }
            PSeg::Index(i) => {
                out.push('/');
                out.push_str(&i.to_string());
            }
        }
    }
}

struct Errs(Errors);

impl Errs {
    fn push(&mut self, path: &Path<'_>, msg: impl Into<String>) {
        let mut p = String::new();
        path.write(&mut p);
        self.0.push((p, msg.into()));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Header,
    Body,
}

/// Meta's text rules; returns whether `s` passed. Lengths are in Unicode code points.
fn check_text(errs: &mut Errs, path: &Path<'_>, s: &str, param_rule: bool, max: usize) -> bool {
    if s.chars().all(char::is_whitespace) {
        errs.push(path, EMPTY);
        return false;
    }
    let mut ok = true;
    if param_rule {
        let (mut newline, mut spaces, mut run) = (false, false, 0);
        for &b in s.as_bytes() {
            match b {
                b'\n' | b'\r' | b'\t' => (newline, run) = (true, 0),
                b' ' => {
                    run += 1;
                    spaces |= run > MAX_CONSECUTIVE_SPACES;
                }
                _ => run = 0,
            }
        }
        if newline {
            errs.push(path, NEWLINE);
            ok = false;
        }
        if spaces {
            errs.push(path, SPACES);
            ok = false;
        }
    }
    // A string of at most `max` bytes has at most `max` code points.
    if max > 0 && s.len() > max && s.chars().count() > max {
        errs.push(path, format!("must be at most {max} characters"));
        ok = false;
    }
    ok
}

/// A string value with the text rules; `None` (after recording why) if it does not pass.
fn text_value<'v, V: Var<'v>>(
    errs: &mut Errs,
    path: &Path<'_>,
    v: &V,
    param_rule: bool,
    max: usize,
) -> Option<Cow<'v, str>> {
    match v.text() {
        None => {
            errs.push(path, EXPECTED_STRING);
            None
        }
        Some(None) => {
            errs.push(path, UNICODE);
            None
        }
        Some(Some(s)) => check_text(errs, path, &s, param_rule, max).then_some(s),
    }
}

/// A required string field of an object.
fn text_field<'v, V: Var<'v>>(
    errs: &mut Errs,
    path: &Path<'_>,
    obj: &V,
    key: &str,
    param_rule: bool,
) -> Option<Cow<'v, str>> {
    let p = path.key(key);
    match obj.get(key) {
        None => {
            errs.push(&p, REQUIRED);
            None
        }
        Some(v) => text_value(errs, &p, &v, param_rule, 0),
    }
}

/// An optional string field, any content.
fn loose_field<'v, V: Var<'v>>(
    errs: &mut Errs,
    path: &Path<'_>,
    obj: &V,
    key: &str,
) -> Option<Cow<'v, str>> {
    let v = obj.get(key)?;
    match v.text() {
        None => errs.push(&path.key(key), EXPECTED_STRING),
        Some(None) => errs.push(&path.key(key), UNICODE),
        Some(Some(s)) => return Some(s),
    }
    None
}

/// Flags the keys of `obj` that are not `known` with `msg`.
fn extra_keys<'v, V: Var<'v>>(
    errs: &mut Errs,
    path: &Path<'_>,
    obj: &V,
    known: &dyn Fn(&str) -> bool,
    msg: &str,
) {
    obj.for_each_key(&mut |k| match k {
        None => errs.push(path, BAD_KEYS),
        Some(k) if !known(k) => errs.push(&path.key(k), msg),
        Some(_) => {}
    });
}

/// Flags the keys of `obj` outside `allowed` as unexpected.
fn only_keys<'v, V: Var<'v>>(errs: &mut Errs, path: &Path<'_>, obj: &V, allowed: &[&str]) {
    extra_keys(errs, path, obj, &|k| allowed.contains(&k), UNEXPECTED_KEY);
}

fn is_currency_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn typed_param<'t, 'v: 't, V: Var<'v>>(
    errs: &mut Errs,
    path: &Path<'_>,
    v: &V,
    name: Option<&'t str>,
) -> Option<Param<'t>> {
    let type_path = path.key("type");
    let kind = match v.get("type") {
        None => {
            errs.push(&type_path, REQUIRED);
            return None;
        }
        Some(t) => match t.text() {
            Some(Some(s)) if s == "currency" => "currency",
            Some(Some(s)) if s == "date_time" => "date_time",
            _ => {
                errs.push(&type_path, TYPED_TYPE);
                return None;
            }
        },
    };
    let before = errs.0.len();
    let fallback = text_field(errs, path, v, "fallback_value", true);
    let param = if kind == "currency" {
        let code = match v.get("code") {
            None => {
                errs.push(&path.key("code"), REQUIRED);
                None
            }
            Some(c) => match c.text() {
                Some(Some(s)) if is_currency_code(&s) => Some(s),
                _ => {
                    errs.push(&path.key("code"), CURRENCY_CODE);
                    None
                }
            },
        };
        let amount = match v.get("amount_1000") {
            None => {
                errs.push(&path.key("amount_1000"), REQUIRED);
                None
            }
            Some(a) => {
                let i = a.int();
                if i.is_none() {
                    errs.push(&path.key("amount_1000"), AMOUNT);
                }
                i
            }
        };
        only_keys(
            errs,
            path,
            v,
            &["type", "fallback_value", "code", "amount_1000"],
        );
        match (fallback, code, amount) {
            (Some(fallback), Some(code), Some(amount_1000)) => Some(Param::Currency {
                name,
                fallback,
                code,
                amount_1000,
            }),
            _ => None,
        }
    } else {
        only_keys(errs, path, v, &["type", "fallback_value"]);
        fallback.map(|fallback| Param::DateTime { name, fallback })
    };
    param.filter(|_| errs.0.len() == before)
}

fn text_param<'t, 'v: 't, V: Var<'v>>(
    errs: &mut Errs,
    path: &Path<'_>,
    v: &V,
    role: Role,
    name: Option<&'t str>,
) -> Option<Param<'t>> {
    match (v.kind(), role) {
        (Kind::Null, _) => {
            errs.push(path, MISSING);
            None
        }
        (Kind::Str, Role::Header) => {
            text_value(errs, path, v, true, HEADER_PARAM_MAX).map(|text| Param::Text { name, text })
        }
        (Kind::Str, Role::Body) => {
            text_value(errs, path, v, true, 0).map(|text| Param::Text { name, text })
        }
        (Kind::Object, Role::Body) => typed_param(errs, path, v, name),
        (_, Role::Header) => {
            errs.push(path, EXPECTED_STRING);
            None
        }
        (_, Role::Body) => {
            errs.push(path, EXPECTED_BODY_VALUE);
            None
        }
    }
}

fn in_range(n: Option<Num>, limit: f64) -> Option<Num> {
    n.filter(|n| (-limit..=limit).contains(&n.as_f64()))
}

fn coordinate<'v, V: Var<'v>>(
    errs: &mut Errs,
    path: &Path<'_>,
    v: &V,
    key: &str,
    limit: f64,
) -> Option<Num> {
    let p = path.key(key);
    match v.get(key) {
        None => {
            errs.push(&p, REQUIRED);
            None
        }
        Some(x) => {
            let n = in_range(x.num(), limit);
            if n.is_none() {
                errs.push(&p, format!("must be a number between -{limit} and {limit}"));
            }
            n
        }
    }
}

fn media_param<'v, V: Var<'v>>(
    errs: &mut Errs,
    path: &Path<'_>,
    v: &V,
    kind: MediaKind,
) -> Option<Param<'v>> {
    match v.kind() {
        Kind::Null => {
            errs.push(path, MISSING);
            return None;
        }
        Kind::Object => {}
        _ => {
            errs.push(path, EXPECTED_OBJECT);
            return None;
        }
    }
    let wanted = kind.as_str();
    match v.get("type") {
        None => {
            errs.push(&path.key("type"), REQUIRED);
            return None;
        }
        Some(t) => {
            if !matches!(t.text(), Some(Some(s)) if s == wanted) {
                errs.push(&path.key("type"), format!("must be '{wanted}'"));
                return None;
            }
        }
    }
    let before = errs.0.len();
    let param = if kind == MediaKind::Location {
        let latitude = coordinate(errs, path, v, "latitude", 90.0);
        let longitude = coordinate(errs, path, v, "longitude", 180.0);
        let name = loose_field(errs, path, v, "name");
        let address = loose_field(errs, path, v, "address");
        only_keys(
            errs,
            path,
            v,
            &["type", "latitude", "longitude", "name", "address"],
        );
        match (latitude, longitude) {
            (Some(latitude), Some(longitude)) => Some(Param::Location {
                latitude,
                longitude,
                name,
                address,
            }),
            _ => None,
        }
    } else {
        let (link, id) = match (v.get("link"), v.get("id")) {
            (None, None) => {
                errs.push(path, LINK_OR_ID);
                (None, None)
            }
            (Some(_), Some(_)) => {
                errs.push(path, NOT_BOTH);
                (None, None)
            }
            (Some(link), None) => {
                let p = path.key("link");
                let link = text_value(errs, &p, &link, false, 0);
                let ok = link
                    .as_deref()
                    .filter(|l| l.starts_with("https://") || l.starts_with("http://"));
                if link.is_some() && ok.is_none() {
                    errs.push(&p, LINK);
                }
                (link, None)
            }
            (None, Some(id)) => (None, text_value(errs, &path.key("id"), &id, false, 0)),
        };
        let mut allowed = vec!["type", "link", "id"];
        let filename = if kind == MediaKind::Document {
            allowed.push("filename");
            v.get("filename")
                .and_then(|f| text_value(errs, &path.key("filename"), &f, false, 0))
        } else {
            None
        };
        only_keys(errs, path, v, &allowed);
        Some(Param::Media {
            kind,
            link,
            id,
            filename,
        })
    };
    param.filter(|_| errs.0.len() == before)
}

impl Template {
    fn named(&self) -> bool {
        self.format == super::definition::Format::Named
    }

    /// The parameters of one text section (header text or body), in parameter order.
    fn section<'t, 'v: 't, V: Var<'v>>(
        &'t self,
        errs: &mut Errs,
        path: &Path<'_>,
        sec: &'t Section,
        value: Option<V>,
        role: Role,
    ) -> Option<Vec<Param<'t>>> {
        let before = errs.0.len();
        let n = sec.params.len();
        let mut params = Vec::with_capacity(n);
        let named = self.named();
        match value {
            None => {
                for (i, name) in sec.params.iter().enumerate() {
                    if named {
                        errs.push(&path.key(name), MISSING);
                    } else {
                        errs.push(&path.index(i), MISSING);
                    }
                }
            }
            Some(v) => match v.kind() {
                Kind::List if !named || n == 0 => {
                    for i in 0..n.max(v.len()) {
                        let p = path.index(i);
                        match v.item(i) {
                            None => errs.push(&p, MISSING),
                            Some(_) if i >= n => errs.push(&p, EXTRA),
                            Some(item) => params.extend(text_param(errs, &p, &item, role, None)),
                        }
                    }
                }
                Kind::Object if named || n == 0 => {
                    for name in &sec.params {
                        let p = path.key(name);
                        match v.get(name) {
                            None => errs.push(&p, MISSING),
                            Some(item) => {
                                params.extend(text_param(errs, &p, &item, role, Some(name)))
                            }
                        }
                    }
                    extra_keys(
                        errs,
                        path,
                        &v,
                        &|k| sec.params.iter().any(|p| p == k),
                        EXTRA,
                    );
                }
                _ => errs.push(
                    path,
                    if named {
                        EXPECTED_OBJECT
                    } else {
                        EXPECTED_LIST
                    },
                ),
            },
        }
        (errs.0.len() == before).then_some(params)
    }

    fn media_header<'v, V: Var<'v>>(
        &self,
        errs: &mut Errs,
        path: &Path<'_>,
        value: Option<V>,
        kind: MediaKind,
    ) -> Option<Param<'v>> {
        let Some(v) = value else {
            errs.push(path, MISSING);
            return None;
        };
        match v.kind() {
            Kind::List => {
                for i in 1..v.len() {
                    errs.push(&path.index(i), EXTRA);
                }
                match v.item(0) {
                    None => {
                        errs.push(&path.index(0), MISSING);
                        None
                    }
                    Some(item) => media_param(errs, &path.index(0), &item, kind),
                }
            }
            _ => media_param(errs, path, &v, kind),
        }
    }

    fn buttons<'v, V: Var<'v>>(
        &self,
        errs: &mut Errs,
        path: &Path<'_>,
        value: Option<V>,
    ) -> Vec<ButtonComponent<'v>> {
        let mut out = Vec::new();
        if let Some(v) = &value {
            if v.kind() != Kind::List {
                errs.push(path, EXPECTED_LIST);
                return out;
            }
        }
        let len = value.as_ref().map_or(0, |v| v.len());
        for i in 0..len.max(self.buttons.len()) {
            let p = path.index(i);
            let item = value
                .as_ref()
                .and_then(|v| v.item(i))
                .filter(|x| x.kind() != Kind::Null);
            let Some(&button) = self.buttons.get(i) else {
                errs.push(&p, EXTRA);
                continue;
            };
            let (max, make): (usize, fn(Cow<'v, str>) -> ButtonParam<'v>) = match button {
                Button::QuickReply => (QUICK_REPLY_PAYLOAD_MAX, ButtonParam::Payload),
                Button::Url { dynamic: true } => (URL_SUFFIX_MAX, ButtonParam::Text),
                Button::CopyCode => (COUPON_CODE_MAX, ButtonParam::Coupon),
                Button::Otp => (OTP_CODE_MAX, ButtonParam::Text),
                Button::Url { dynamic: false } | Button::PhoneNumber => {
                    if item.is_some() {
                        errs.push(&p, EXTRA);
                    }
                    continue;
                }
            };
            match item {
                None if button == Button::QuickReply => {}
                None => errs.push(&p, MISSING),
                Some(x) => {
                    if let Some(s) = text_value(errs, &p, &x, false, max) {
                        out.push(ButtonComponent {
                            index: i,
                            param: make(s),
                        });
                    }
                }
            }
        }
        out
    }

    /// Checks `vars` and renders the components and the preview, or lists every problem.
    pub fn hydrate<'a, 'v: 'a, V: Var<'v>>(&'a self, vars: &V) -> Result<Rendered<'a>, Errors> {
        let mut errs = Errs(Vec::new());
        if vars.kind() != Kind::Object {
            errs.push(&ROOT, EXPECTED_OBJECT);
            return Err(errs.0);
        }
        extra_keys(
            &mut errs,
            &ROOT,
            vars,
            &|k| matches!(k, "header" | "body" | "buttons"),
            EXTRA,
        );
        let header_path = ROOT.key("header");
        let header_value = vars.get("header");
        let (header, header_text) = match &self.header {
            Header::None => {
                let empty = Section::default();
                let ok = self
                    .section(&mut errs, &header_path, &empty, header_value, Role::Header)
                    .is_some();
                (ok.then(Vec::new), String::new())
            }
            Header::Text(sec) => {
                let params = self.section(&mut errs, &header_path, sec, header_value, Role::Header);
                let text = params
                    .as_ref()
                    .map(|p| substitute(sec, p))
                    .unwrap_or_default();
                (params, text)
            }
            Header::Media(kind) => {
                let param = self.media_header(&mut errs, &header_path, header_value, *kind);
                (param.map(|p| vec![p]), String::new())
            }
        };
        let body_path = ROOT.key("body");
        let body = self.section(
            &mut errs,
            &body_path,
            &self.body,
            vars.get("body"),
            Role::Body,
        );
        let body_text = match &body {
            Some(params) => {
                let text = substitute(&self.body, params);
                let n = text.chars().count();
                if n > BODY_RENDERED_MAX {
                    errs.push(
                        &body_path,
                        format!(
                            "rendered body must be at most {BODY_RENDERED_MAX} characters, got {n}"
                        ),
                    );
                }
                text
            }
            None => String::new(),
        };
        let buttons = self.buttons(&mut errs, &ROOT.key("buttons"), vars.get("buttons"));
        match (header, body) {
            (Some(header), Some(body)) if errs.0.is_empty() => {
                let parts = [
                    header_text.as_str(),
                    body_text.as_str(),
                    self.footer.as_str(),
                ];
                let preview = parts
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("\n\n");
                Ok(Rendered {
                    header,
                    body,
                    buttons,
                    preview,
                })
            }
            _ => Err(errs.0),
        }
    }
}

fn substitute(sec: &Section, params: &[Param<'_>]) -> String {
    let mut out = String::new();
    for seg in &sec.segs {
        match seg {
            Seg::Lit(s) => out.push_str(s),
            Seg::Var(i) => out.push_str(params.get(*i).map_or("", Param::shown)),
        }
    }
    out
}
