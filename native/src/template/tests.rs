//! Hydration tests on the JSON path (the Python path shares the same core).

use serde_json::{json, Value};

use super::Template;

fn template(v: Value) -> Template {
    Template::compile(v.to_string().as_bytes()).unwrap()
}

fn order_update() -> Template {
    template(json!({
        "name": "order_update", "language": "en_US", "category": "UTILITY",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships {{3}}."},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Stop"},
                {"type": "URL", "text": "Track", "url": "https://x.io/t/{{1}}"},
                {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550100"}]}]}))
}

fn named() -> Template {
    template(json!({
        "name": "welcome", "language": "en", "category": "MARKETING", "parameter_format": "NAMED",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Hello {{first_name}}"},
            {"type": "BODY", "text": "{{first_name}}, you owe {{amount}} since {{since}}."},
            {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SAVE10"}]}]}))
}

fn render(t: &Template, vars: Value) -> Result<(Value, String), Vec<(String, String)>> {
    t.hydrate_json(vars.to_string().as_bytes())
        .map(|(json, preview)| (serde_json::from_slice(&json).unwrap(), preview))
}

fn errors(t: &Template, vars: Value) -> Vec<(String, String)> {
    render(t, vars).unwrap_err()
}

fn e(path: &str, msg: &str) -> (String, String) {
    (path.to_owned(), msg.to_owned())
}

#[test]
fn renders_positional_template() {
    let (components, preview) = render(
        &order_update(),
        json!({"header": ["#1234"], "body": ["Ana", "#1234", "today"], "buttons": [null, "1234"]}),
    )
    .unwrap();
    assert_eq!(
        components,
        json!([
            {"type": "header", "parameters": [{"type": "text", "text": "#1234"}]},
            {"type": "body", "parameters": [
                {"type": "text", "text": "Ana"}, {"type": "text", "text": "#1234"},
                {"type": "text", "text": "today"}]},
            {"type": "button", "sub_type": "url", "index": "1",
             "parameters": [{"type": "text", "text": "1234"}]}])
    );
    assert_eq!(
        preview,
        "Order #1234\n\nHi Ana, your order #1234 ships today.\n\nReply STOP to opt out"
    );
}

#[test]
fn output_is_compact_and_ordered() {
    let (json, _) = order_update()
        .hydrate_json(br#"{"header":["a"],"body":["b","c","d"],"buttons":["P","s"]}"#)
        .unwrap();
    assert_eq!(
        String::from_utf8(json).unwrap(),
        concat!(
            r#"[{"type":"header","parameters":[{"type":"text","text":"a"}]},"#,
            r#"{"type":"body","parameters":[{"type":"text","text":"b"},{"type":"text","text":"c"},{"type":"text","text":"d"}]},"#,
            r#"{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"P"}]},"#,
            r#"{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"s"}]}]"#
        )
    );
}

#[test]
fn renders_named_template_with_typed_params() {
    let (components, preview) = render(
        &named(),
        json!({
            "header": {"first_name": "Ana"},
            "body": {
                "first_name": "Ana",
                "amount": {"type": "currency", "fallback_value": "$10.00", "code": "USD", "amount_1000": 10000},
                "since": {"type": "date_time", "fallback_value": "Feb 2"}},
            "buttons": ["SAVE10"]}),
    )
    .unwrap();
    assert_eq!(
        components,
        json!([
            {"type": "header", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"}]},
            {"type": "body", "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Ana"},
                {"type": "currency", "parameter_name": "amount",
                 "currency": {"fallback_value": "$10.00", "code": "USD", "amount_1000": 10000}},
                {"type": "date_time", "parameter_name": "since", "date_time": {"fallback_value": "Feb 2"}}]},
            {"type": "button", "sub_type": "copy_code", "index": "0",
             "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}]}])
    );
    assert_eq!(preview, "Hello Ana\n\nAna, you owe $10.00 since Feb 2.");
}

#[test]
fn reports_missing_and_extra_variables() {
    assert_eq!(
        errors(
            &order_update(),
            json!({"body": ["a"], "extra": 1, "buttons": [null, null, null, 4]})
        ),
        vec![
            e("/extra", "unexpected variable"),
            e("/header/0", "missing variable"),
            e("/body/1", "missing variable"),
            e("/body/2", "missing variable"),
            e("/buttons/1", "missing variable"),
            e("/buttons/3", "unexpected variable"),
        ]
    );
    assert_eq!(
        errors(
            &named(),
            json!({"header": {"first_name": "A", "x/y~": "B"}, "body": {}})
        ),
        vec![
            e("/header/x~1y~0", "unexpected variable"),
            e("/body/first_name", "missing variable"),
            e("/body/amount", "missing variable"),
            e("/body/since", "missing variable"),
            e("/buttons/0", "missing variable"),
        ]
    );
    assert_eq!(
        errors(
            &order_update(),
            json!({"header": ["a"], "body": ["a", "b", "c", "d"], "buttons": [null, "x"]})
        ),
        vec![e("/body/3", "unexpected variable")]
    );
}

#[test]
fn reports_wrong_types() {
    assert_eq!(
        errors(&order_update(), json!([])),
        vec![e("", "expected an object")]
    );
    assert_eq!(
        errors(
            &order_update(),
            json!({"header": {"1": "a"}, "body": "abc", "buttons": {}})
        ),
        vec![
            e("/header", "expected a list"),
            e("/body", "expected a list"),
            e("/buttons", "expected a list"),
        ]
    );
    assert_eq!(
        errors(
            &named(),
            json!({"header": ["a"], "body": {"first_name": 1, "amount": [], "since": true}, "buttons": [5]})
        ),
        vec![
            e("/header", "expected an object"),
            e(
                "/body/first_name",
                "expected a string or a currency/date_time object"
            ),
            e(
                "/body/amount",
                "expected a string or a currency/date_time object"
            ),
            e(
                "/body/since",
                "expected a string or a currency/date_time object"
            ),
            e("/buttons/0", "expected a string"),
        ]
    );
    assert_eq!(
        errors(
            &order_update(),
            json!({"header": [{"type": "date_time", "fallback_value": "x"}], "body": ["a", "b", "c"], "buttons": [null, "x"]})
        ),
        vec![e("/header/0", "expected a string")]
    );
}

#[test]
fn enforces_text_rules() {
    let long = "x".repeat(61);
    assert_eq!(
        errors(
            &order_update(),
            json!({"header": [long], "body": ["  ", "a\nb", "a     b\t"], "buttons": [null, ""]})
        ),
        vec![
            e("/header/0", "must be at most 60 characters"),
            e("/body/0", "must not be empty or whitespace-only"),
            e("/body/1", "must not contain newline or tab characters"),
            e("/body/2", "must not contain newline or tab characters"),
            e("/body/2", "must not contain more than 4 consecutive spaces"),
            e("/buttons/1", "must not be empty or whitespace-only"),
        ]
    );
    // Exactly the limits pass; code points, not bytes, are counted.
    assert!(render(
        &order_update(),
        json!({"header": ["é".repeat(60)], "body": ["a    b", "\u{3000}x", "c"], "buttons": [null, "x"]})
    )
    .is_ok());
    assert_eq!(
        errors(
            &order_update(),
            json!({"header": ["\u{3000}\u{2003}"], "body": ["a", "b", "c"], "buttons": [null, "x"]})
        ),
        vec![e("/header/0", "must not be empty or whitespace-only")]
    );
}

#[test]
fn enforces_body_length_after_substitution() {
    let t = order_update();
    let fixed = "Hi , your order  ships .".chars().count();
    let fill = "y".repeat(1024 - fixed - 2);
    let ok = json!({"header": ["a"], "body": [fill, "b", "c"], "buttons": [null, "x"]});
    assert!(render(&t, ok).is_ok());
    let fill = "y".repeat(1024 - fixed - 1);
    assert_eq!(
        errors(
            &t,
            json!({"header": ["a"], "body": [fill, "b", "c"], "buttons": [null, "x"]})
        ),
        vec![e(
            "/body",
            "rendered body must be at most 1024 characters, got 1025"
        )]
    );
}

#[test]
fn enforces_button_limits() {
    let t = order_update();
    let vars = |qr: Value, url: Value| json!({"header": ["a"], "body": ["a", "b", "c"], "buttons": [qr, url]});
    assert!(render(&t, vars(json!("p".repeat(128)), json!("u".repeat(2000)))).is_ok());
    assert_eq!(
        errors(&t, vars(json!("p".repeat(129)), json!("u".repeat(2001)))),
        vec![
            e("/buttons/0", "must be at most 128 characters"),
            e("/buttons/1", "must be at most 2000 characters"),
        ]
    );
    let with_static =
        json!({"header": ["a"], "body": ["a", "b", "c"], "buttons": [null, "x", "+1"]});
    assert_eq!(
        errors(&t, with_static),
        vec![e("/buttons/2", "unexpected variable")]
    );
    let n = named();
    let mut v = json!({"header": {"first_name": "A"}, "body": {"first_name": "A", "amount": "1", "since": "2"}});
    v["buttons"] = json!(["1234567890123456"]);
    assert_eq!(
        errors(&n, v),
        vec![e("/buttons/0", "must be at most 15 characters")]
    );
}

#[test]
fn quick_reply_without_payload_has_no_component() {
    let (components, _) = render(
        &order_update(),
        json!({"header": ["a"], "body": ["a", "b", "c"], "buttons": [null, "x"]}),
    )
    .unwrap();
    assert_eq!(components.as_array().unwrap().len(), 3);
}

#[test]
fn otp_button_renders_as_url_text() {
    let t = template(
        json!({"name": "otp", "language": "en", "category": "AUTHENTICATION",
        "components": [{"type": "BODY", "text": "{{1}} is your code."},
                       {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}]}),
    );
    let (components, preview) =
        render(&t, json!({"body": ["123456"], "buttons": ["123456"]})).unwrap();
    assert_eq!(
        components[1],
        json!({"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "123456"}]})
    );
    assert_eq!(preview, "123456 is your code.");
}

#[test]
fn checks_typed_params() {
    let t = named();
    let vars = |amount: Value| json!({"header": {"first_name": "A"}, "body": {"first_name": "A", "amount": amount, "since": "x"}, "buttons": ["C"]});
    assert_eq!(
        errors(&t, vars(json!({"type": "money"}))),
        vec![e("/body/amount/type", "must be 'currency' or 'date_time'")]
    );
    assert_eq!(
        errors(&t, vars(json!({"fallback_value": "x"}))),
        vec![e("/body/amount/type", "is required")]
    );
    assert_eq!(
        errors(
            &t,
            vars(json!({"type": "currency", "code": "usd", "amount_1000": 1.5, "extra": 1}))
        ),
        vec![
            e("/body/amount/fallback_value", "is required"),
            e(
                "/body/amount/code",
                "must be a 3-letter ISO 4217 currency code"
            ),
            e("/body/amount/amount_1000", "must be a 64-bit integer"),
            e("/body/amount/extra", "unexpected key"),
        ]
    );
    assert_eq!(
        errors(
            &t,
            vars(
                json!({"type": "currency", "fallback_value": "a\tb", "code": "EUR", "amount_1000": 18446744073709551615u64})
            )
        ),
        vec![
            e(
                "/body/amount/fallback_value",
                "must not contain newline or tab characters"
            ),
            e("/body/amount/amount_1000", "must be a 64-bit integer"),
        ]
    );
    assert_eq!(
        errors(
            &t,
            vars(json!({"type": "date_time", "fallback_value": " ", "code": "EUR"}))
        ),
        vec![
            e(
                "/body/amount/fallback_value",
                "must not be empty or whitespace-only"
            ),
            e("/body/amount/code", "unexpected key"),
        ]
    );
}

#[test]
fn integral_float_amounts_are_integers() {
    let t = named();
    for (raw, amount) in [
        ("-0", 0),
        ("1e3", 1000),
        ("2.0", 2),
        ("-9223372036854775808.0", i64::MIN),
    ] {
        let vars = format!(
            r#"{{"header": {{"first_name": "A"}}, "body": {{"first_name": "A", "since": "x",
               "amount": {{"type": "currency", "fallback_value": "x", "code": "EUR", "amount_1000": {raw}}}}},
               "buttons": ["C"]}}"#
        );
        let (json, _) = t.hydrate_json(vars.as_bytes()).unwrap();
        let c: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            c[1]["parameters"][1]["currency"]["amount_1000"],
            json!(amount),
            "{raw}"
        );
    }
    for raw in ["2.5", "9223372036854775808.0", "1e19"] {
        let vars = format!(
            r#"{{"header": {{"first_name": "A"}}, "body": {{"first_name": "A", "since": "x",
               "amount": {{"type": "currency", "fallback_value": "x", "code": "EUR", "amount_1000": {raw}}}}},
               "buttons": ["C"]}}"#
        );
        let errs = t.hydrate_json(vars.as_bytes()).unwrap_err();
        assert_eq!(
            errs,
            vec![e("/body/amount/amount_1000", "must be a 64-bit integer")]
        );
    }
}

fn media_template(format: &str) -> Template {
    template(
        json!({"name": "m", "language": "en", "category": "MARKETING",
        "components": [{"type": "HEADER", "format": format}, {"type": "BODY", "text": "Look"}]}),
    )
}

#[test]
fn renders_media_headers() {
    let t = media_template("IMAGE");
    let (c, preview) = render(
        &t,
        json!({"header": [{"type": "image", "link": "https://x.io/p.jpg"}]}),
    )
    .unwrap();
    assert_eq!(
        c[0],
        json!({"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.io/p.jpg"}}]})
    );
    assert_eq!(preview, "Look");
    let (c2, _) = render(
        &t,
        json!({"header": {"type": "image", "link": "https://x.io/p.jpg"}}),
    )
    .unwrap();
    assert_eq!(c, c2);
    let t = media_template("document");
    let (c, _) = render(
        &t,
        json!({"header": [{"type": "document", "id": "123", "filename": "a.pdf"}]}),
    )
    .unwrap();
    assert_eq!(
        c[0]["parameters"][0],
        json!({"type": "document", "document": {"id": "123", "filename": "a.pdf"}})
    );
    let t = media_template("LOCATION");
    let (c, _) = render(&t, json!({"header": [{"type": "location", "latitude": 37.5, "longitude": -122, "name": "HQ"}]})).unwrap();
    assert_eq!(
        c[0]["parameters"][0],
        json!({"type": "location", "location": {"latitude": 37.5, "longitude": -122, "name": "HQ"}})
    );
}

#[test]
fn checks_media_headers() {
    let t = media_template("VIDEO");
    assert_eq!(
        errors(&t, json!({})),
        vec![e("/header", "missing variable")]
    );
    assert_eq!(
        errors(&t, json!({"header": []})),
        vec![e("/header/0", "missing variable")]
    );
    assert_eq!(
        errors(&t, json!({"header": ["https://x"]})),
        vec![e("/header/0", "expected an object")]
    );
    assert_eq!(
        errors(
            &t,
            json!({"header": [{"type": "image", "link": "https://x"}, 2]})
        ),
        vec![
            e("/header/1", "unexpected variable"),
            e("/header/0/type", "must be 'video'")
        ]
    );
    assert_eq!(
        errors(&t, json!({"header": {"type": "video"}})),
        vec![e("/header", "link or id is required")]
    );
    assert_eq!(
        errors(
            &t,
            json!({"header": {"type": "video", "link": "ftp://x", "filename": "a"}})
        ),
        vec![
            e("/header/link", "must be an http(s) URL"),
            e("/header/filename", "unexpected key")
        ]
    );
    assert_eq!(
        errors(
            &t,
            json!({"header": {"type": "video", "link": "https://x", "id": "1"}})
        ),
        vec![e("/header", "give either link or id, not both")]
    );
    let t = media_template("LOCATION");
    assert_eq!(
        errors(
            &t,
            json!({"header": {"type": "location", "latitude": 91, "longitude": "1", "name": 3}})
        ),
        vec![
            e("/header/latitude", "must be a number between -90 and 90"),
            e("/header/longitude", "must be a number between -180 and 180"),
            e("/header/name", "expected a string"),
        ]
    );
}

#[test]
fn static_template_accepts_empty_variables() {
    let t = template(
        json!({"name": "s", "language": "en", "components": [{"type": "BODY", "text": "Hi"}]}),
    );
    for vars in [
        json!({}),
        json!({"header": [], "body": {}, "buttons": []}),
        json!({"header": null}),
    ] {
        let (c, preview) = render(&t, vars).unwrap();
        assert_eq!((c, preview.as_str()), (json!([]), "Hi"));
    }
    assert_eq!(
        errors(&t, json!({"body": ["x"]})),
        vec![e("/body/0", "unexpected variable")]
    );
    assert_eq!(
        errors(&t, json!({"header": {"a": 1}})),
        vec![e("/header/a", "unexpected variable")]
    );
}

#[test]
fn invalid_json_is_one_error() {
    let t = order_update();
    for bad in [&b"{"[..], b"\xff", b"[1,]", br#"{"body": ["\ud800"]}"#] {
        let errs = t.hydrate_json(bad).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, "");
        assert!(errs[0].1.starts_with("invalid JSON: "), "{:?}", errs[0]);
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(t.hydrate_json(deep.as_bytes()).unwrap_err()[0]
        .1
        .starts_with("invalid JSON"));
}

#[test]
fn repeated_placeholders_reuse_one_value() {
    let t = template(
        json!({"name": "r", "language": "en", "components": [{"type": "BODY", "text": "{{1}}-{{1}}"}]}),
    );
    let (c, preview) = render(&t, json!({"body": ["x"]})).unwrap();
    assert_eq!(c[0]["parameters"].as_array().unwrap().len(), 1);
    assert_eq!(preview, "x-x");
}
