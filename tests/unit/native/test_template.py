"""ccx._native.CompiledTemplate: behaviour of each rule, and agreement with the reference."""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from collections.abc import Callable
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from ccx import _native
from ccx.native_ref import template as ref


class Impl(NamedTuple):
    compile: Callable[[str | bytes], Any]
    hydration_error: type[Exception]
    template_error: type[Exception]


NATIVE = Impl(_native.CompiledTemplate, _native.HydrationError, _native.TemplateError)
REF = Impl(ref.CompiledTemplate, ref.RefHydrationError, ref.RefTemplateError)


@pytest.fixture(params=["native", "ref"])
def impl(request: pytest.FixtureRequest) -> Impl:
    return NATIVE if request.param == "native" else REF


ORDER_UPDATE: dict[str, Any] = {
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "status": "APPROVED",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships {{3}}."},
        {"type": "FOOTER", "text": "Reply STOP to opt out"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Stop"},
                {"type": "URL", "text": "Track", "url": "https://x.io/t/{{1}}"},
                {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550100"},
            ],
        },
    ],
}

NAMED: dict[str, Any] = {
    "name": "welcome",
    "language": "en",
    "category": "MARKETING",
    "parameter_format": "NAMED",
    "components": [
        {"type": "header", "format": "text", "text": "Hello {{first_name}}"},
        {"type": "body", "text": "{{first_name}}, you owe {{amount}} since {{since}}."},
        {"type": "buttons", "buttons": [{"type": "COPY_CODE", "example": "SAVE10"}]},
    ],
}

GOOD = {"header": ["#1234"], "body": ["Ana", "#1234", "today"], "buttons": [None, "1234"]}


def body_only(text: str, **extra: Any) -> dict[str, Any]:
    return {"name": "t", "language": "en", "components": [{"type": "BODY", "text": text}], **extra}


def errors_of(impl: Impl, template: Any, variables: Any) -> list[tuple[str, str]]:
    with pytest.raises(impl.hydration_error) as info:
        template.render(variables)
    errors: list[tuple[str, str]] = info.value.errors  # type: ignore[attr-defined]
    return errors


# ---------------------------------------------------------------- definitions


def test_compiles_str_and_bytes_with_properties(impl: Impl) -> None:
    for definition in (json.dumps(ORDER_UPDATE), orjson.dumps(ORDER_UPDATE)):
        t = impl.compile(definition)
        assert (t.name, t.language, t.category, t.parameter_format) == (
            "order_update",
            "en_US",
            "UTILITY",
            "POSITIONAL",
        )
        assert t.placeholders() == {"header": ["1"], "body": ["1", "2", "3"], "buttons": ["1"]}


def test_named_placeholders_in_first_appearance_order(impl: Impl) -> None:
    t = impl.compile(json.dumps(NAMED))
    assert t.parameter_format == "NAMED"
    assert t.placeholders() == {
        "header": ["first_name"],
        "body": ["first_name", "amount", "since"],
        "buttons": ["0"],
    }


def test_format_is_inferred_and_category_optional(impl: Impl) -> None:
    t = impl.compile(json.dumps(body_only("Hi {{name}}")))
    assert (t.parameter_format, t.category) == ("NAMED", "")
    assert impl.compile(json.dumps(body_only("static"))).parameter_format == "POSITIONAL"
    declared = impl.compile(json.dumps(body_only("static", parameter_format="named")))
    assert declared.parameter_format == "NAMED"


def test_media_header_placeholder_is_its_kind(impl: Impl) -> None:
    d = body_only("x")
    d["components"].insert(0, {"type": "HEADER", "format": "image"})
    assert impl.compile(json.dumps(d)).placeholders()["header"] == ["image"]


BAD_DEFINITIONS = [
    ([1], "the definition must be a JSON object"),
    ({"language": "en", "components": []}, "'name' must be a non-empty string"),
    ({"name": "", "language": "en", "components": []}, "'name' must be a non-empty string"),
    ({"name": "t", "components": []}, "'language' must be a non-empty string"),
    ({"name": "t", "language": "en", "category": 1}, "'category' must be a string"),
    ({"name": "t", "language": "en", "status": None}, "'status' must be a string"),
    ({"name": "t", "language": "en"}, "'components' must be a list"),
    ({"name": "t", "language": "en", "components": []}, "a BODY component is required"),
    ({"name": "t", "language": "en", "components": ["x"]}, "components[0] must be an object"),
    (
        {"name": "t", "language": "en", "components": [{"type": "CAROUSEL"}]},
        "components[0].type must be one of HEADER, BODY, FOOTER, BUTTONS",
    ),
    (
        body_only("a")
        | {"components": [{"type": "BODY", "text": "a"}, {"type": "body", "text": "b"}]},
        "duplicate BODY component",
    ),
    (body_only(""), "BODY.'text' must be a non-empty string"),
    (body_only("x", parameter_format="BOTH"), "'parameter_format' must be POSITIONAL or NAMED"),
    (
        body_only("{{1}} {{3}}"),
        "BODY: positional placeholders must run {{1}}..{{2}} without gaps ({{2}} is missing)",
    ),
    (
        body_only("{{2}}"),
        "BODY: positional placeholders must run {{1}}..{{1}} without gaps ({{1}} is missing)",
    ),
    (body_only("{{1}} {{name}}"), "the template mixes named and positional placeholders"),
    (
        body_only("{{1}}", parameter_format="NAMED"),
        "parameter_format is NAMED but the placeholders are POSITIONAL",
    ),
    (
        body_only("{{a}}", parameter_format="POSITIONAL"),
        "parameter_format is POSITIONAL but the placeholders are NAMED",
    ),
    (body_only("hi {{1"), "BODY: unclosed placeholder '{{'"),
    (body_only("{{" + "a" * 21 + "}}"), "BODY: placeholder name longer than 20 characters"),
    (
        {"name": "t", "language": "en", "components": [{"type": "HEADER", "format": "GIF"}]},
        "HEADER.format must be one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION",
    ),
    (
        {"name": "t", "language": "en", "components": [{"type": "HEADER", "text": "{{1}}{{2}}"}]},
        "HEADER: at most one placeholder is allowed",
    ),
    (
        {"name": "t", "language": "en", "components": [{"type": "FOOTER", "text": "{{1}}"}]},
        "FOOTER: placeholders are not allowed",
    ),
    (
        {"name": "t", "language": "en", "components": [{"type": "FOOTER"}]},
        "FOOTER.'text' must be a string",
    ),
    (
        {"name": "t", "language": "en", "components": [{"type": "BUTTONS", "buttons": []}]},
        "BUTTONS.buttons must be a non-empty list",
    ),
    (
        {
            "name": "t",
            "language": "en",
            "components": [{"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY"}] * 11}],
        },
        "BUTTONS: at most 10 buttons are allowed",
    ),
    (
        {"name": "t", "language": "en", "components": [{"type": "BUTTONS", "buttons": [[]]}]},
        "BUTTONS[0] must be an object",
    ),
    (
        {
            "name": "t",
            "language": "en",
            "components": [{"type": "BUTTONS", "buttons": [{"type": "FLOW"}]}],
        },
        "BUTTONS[0].type must be one of QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP",
    ),
    (
        {
            "name": "t",
            "language": "en",
            "components": [{"type": "BUTTONS", "buttons": [{"type": "URL"}]}],
        },
        "BUTTONS[0].'url' must be a non-empty string",
    ),
    (
        {
            "name": "t",
            "language": "en",
            "components": [
                {"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x/{{1}}/a"}]}
            ],
        },
        "BUTTONS[0].url: only a single {{1}} at the end of the URL is allowed",
    ),
    (
        {
            "name": "t",
            "language": "en",
            "components": [
                {"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x/{{2"}]}
            ],
        },
        "BUTTONS[0].url: unclosed placeholder '{{'",
    ),
    (
        {
            "name": "t",
            "language": "en",
            "components": [{"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "x"}]}],
        },
        "BUTTONS[0].otp_type must be one of COPY_CODE, ONE_TAP, ZERO_TAP",
    ),
]


@pytest.mark.parametrize(("definition", "message"), BAD_DEFINITIONS)
def test_rejects_invalid_definitions(impl: Impl, definition: Any, message: str) -> None:
    with pytest.raises(impl.template_error) as info:
        impl.compile(json.dumps(definition))
    assert str(info.value) == message


@pytest.mark.parametrize(
    "text", ["{{0}}", "{{01}}", "{{ 1 }}", "{{First}}", "{{}}", "{{_a}}", "{{{1}}}", "{{١}}"]
)
def test_rejects_invalid_placeholders(impl: Impl, text: str) -> None:
    with pytest.raises(impl.template_error, match=r"^BODY: invalid placeholder"):
        impl.compile(json.dumps(body_only(text)))


@pytest.mark.parametrize("definition", ["{", b"\xff", "", "\ud800", '"\\ud800"', "[" * 200])
def test_rejects_invalid_json(impl: Impl, definition: str | bytes) -> None:
    with pytest.raises(impl.template_error, match=r"^invalid JSON: "):
        impl.compile(definition)


def test_native_errors_are_native_errors() -> None:
    assert issubclass(_native.TemplateError, _native.NativeError)
    assert issubclass(_native.HydrationError, ValueError)
    with pytest.raises(TypeError):
        _native.CompiledTemplate(1)  # type: ignore[arg-type]


# ---------------------------------------------------------------- rendering


def test_renders_positional_components_and_preview(impl: Impl) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    components, preview = t.render(GOOD)
    assert components == [
        {"type": "header", "parameters": [{"type": "text", "text": "#1234"}]},
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Ana"},
                {"type": "text", "text": "#1234"},
                {"type": "text", "text": "today"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "1",
            "parameters": [{"type": "text", "text": "1234"}],
        },
    ]
    assert (
        preview == "Order #1234\n\nHi Ana, your order #1234 ships today.\n\nReply STOP to opt out"
    )
    json_out, json_preview = t.render_json(orjson.dumps(GOOD))
    assert orjson.loads(json_out) == components
    assert json_preview == preview
    assert b" " not in json_out.replace(b"Hi ", b"")  # compact separators


def test_renders_named_with_currency_and_date_time(impl: Impl) -> None:
    t = impl.compile(json.dumps(NAMED))
    amount = {"type": "currency", "fallback_value": "$10", "code": "USD", "amount_1000": 10000}
    variables = {
        "header": {"first_name": "Ana"},
        "body": {
            "first_name": "Ana",
            "amount": amount,
            "since": {"type": "date_time", "fallback_value": "Feb 2"},
        },
        "buttons": ["SAVE10"],
    }
    components, preview = t.render(variables)
    assert components == [
        {
            "type": "header",
            "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Ana"},
                {
                    "type": "currency",
                    "parameter_name": "amount",
                    "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": 10000},
                },
                {
                    "type": "date_time",
                    "parameter_name": "since",
                    "date_time": {"fallback_value": "Feb 2"},
                },
            ],
        },
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "0",
            "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}],
        },
    ]
    assert preview == "Hello Ana\n\nAna, you owe $10 since Feb 2."


def test_quick_reply_payload_is_optional(impl: Impl) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    components, _ = t.render({**GOOD, "buttons": ["STOP_1", "x"]})
    assert components[2] == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "STOP_1"}],
    }
    assert len(t.render({**GOOD, "buttons": [None, "x"]})[0]) == 3


def test_otp_button_sends_the_code_as_url_text(impl: Impl) -> None:
    d = body_only("{{1}} is your code.")
    d["components"].append(
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "ONE_TAP", "text": "Autofill"}]}
    )
    components, preview = impl.compile(json.dumps(d)).render(
        {"body": ["123456"], "buttons": ["123456"]}
    )
    assert components[1] == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "123456"}],
    }
    assert preview == "123456 is your code."


def media_template(impl: Impl, fmt: str) -> Any:
    d = body_only("Look")
    d["components"].insert(0, {"type": "HEADER", "format": fmt})
    d["components"].append({"type": "FOOTER", "text": "bye"})
    return impl.compile(json.dumps(d))


@pytest.mark.parametrize(
    ("fmt", "value", "param"),
    [
        (
            "IMAGE",
            {"type": "image", "link": "https://x.io/a.jpg"},
            {"type": "image", "image": {"link": "https://x.io/a.jpg"}},
        ),
        ("VIDEO", [{"type": "video", "id": "42"}], {"type": "video", "video": {"id": "42"}}),
        (
            "DOCUMENT",
            {"type": "document", "link": "http://x.io/a.pdf", "filename": "a.pdf"},
            {"type": "document", "document": {"link": "http://x.io/a.pdf", "filename": "a.pdf"}},
        ),
        (
            "LOCATION",
            {
                "type": "location",
                "latitude": -33.5,
                "longitude": 151,
                "name": "Sydney",
                "address": "NSW",
            },
            {
                "type": "location",
                "location": {
                    "latitude": -33.5,
                    "longitude": 151,
                    "name": "Sydney",
                    "address": "NSW",
                },
            },
        ),
    ],
)
def test_renders_media_headers(impl: Impl, fmt: str, value: Any, param: Any) -> None:
    components, preview = media_template(impl, fmt).render({"header": value})
    assert components == [{"type": "header", "parameters": [param]}]
    assert preview == "Look\n\nbye"


def test_static_template_accepts_empty_sections(impl: Impl) -> None:
    t = impl.compile(json.dumps(body_only("Hi")))
    cases: list[dict[str, Any]] = [{}, {"header": [], "body": {}, "buttons": []}, {"body": None}]
    for variables in cases:
        assert t.render(variables) == ([], "Hi")


def test_accepts_any_mapping_and_tuples(impl: Impl) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    variables = MappingProxyType(
        {"header": ("#1",), "body": ("a", "b", "c"), "buttons": (None, "x")}
    )
    assert t.render(variables)[1].startswith("Order #1")


# ---------------------------------------------------------------- hydration errors


@pytest.mark.parametrize(
    ("variables", "errors"),
    [
        ([], [("", "expected an object")]),
        (
            {"body": ["a"], "extra": 1, "buttons": [None, None, None, 4]},
            [
                ("/extra", "unexpected variable"),
                ("/header/0", "missing variable"),
                ("/body/1", "missing variable"),
                ("/body/2", "missing variable"),
                ("/buttons/1", "missing variable"),
                ("/buttons/3", "unexpected variable"),
            ],
        ),
        (
            {"header": {"1": "a"}, "body": "abc", "buttons": {}},
            [
                ("/header", "expected a list"),
                ("/body", "expected a list"),
                ("/buttons", "expected a list"),
            ],
        ),
        ({**GOOD, "body": ["a", "b", "c", "d"]}, [("/body/3", "unexpected variable")]),
        ({**GOOD, "body": ["a", None, "c"]}, [("/body/1", "missing variable")]),
        ({**GOOD, "header": ["x" * 61]}, [("/header/0", "must be at most 60 characters")]),
        (
            {**GOOD, "header": [{"type": "date_time", "fallback_value": "x"}]},
            [("/header/0", "expected a string")],
        ),
        ({**GOOD, "body": ["", "b", "c"]}, [("/body/0", "must not be empty or whitespace-only")]),
        (
            {**GOOD, "body": ["\u3000\u00a0 ", "b", "c"]},
            [("/body/0", "must not be empty or whitespace-only")],
        ),
        (
            {**GOOD, "body": ["a\nb", "b\r", "\tc"]},
            [(f"/body/{i}", "must not contain newline or tab characters") for i in range(3)],
        ),
        (
            {**GOOD, "body": ["a     b", "b", "c"]},
            [("/body/0", "must not contain more than 4 consecutive spaces")],
        ),
        (
            {**GOOD, "body": [1, True, 2.5]},
            [(f"/body/{i}", "expected a string or a currency/date_time object") for i in range(3)],
        ),
        (
            {**GOOD, "body": ["\ud800", "b", "c"]},
            [("/body/0", "must be valid unicode (no lone surrogates)")],
        ),
        (
            {**GOOD, "buttons": [None, "u" * 2001]},
            [("/buttons/1", "must be at most 2000 characters")],
        ),
        ({**GOOD, "buttons": ["p" * 129, "x"]}, [("/buttons/0", "must be at most 128 characters")]),
        ({**GOOD, "buttons": [None, "x", "+1"]}, [("/buttons/2", "unexpected variable")]),
        ({**GOOD, "buttons": [None, 7]}, [("/buttons/1", "expected a string")]),
        (
            {**GOOD, "a/b~": 1} | dict[Any, Any]({3: 4}),
            [("/a~1b~0", "unexpected variable"), ("", "keys must be valid unicode strings")],
        ),
    ],
)
def test_hydration_errors(impl: Impl, variables: Any, errors: list[tuple[str, str]]) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    assert errors_of(impl, t, variables) == errors


def test_body_length_is_checked_after_substitution(impl: Impl) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    fixed = len("Hi , your order  ships .")
    ok = {**GOOD, "body": ["y" * (1024 - fixed - 2), "b", "c"]}
    assert t.render(ok)
    too_long = {**GOOD, "body": ["é" * (1024 - fixed - 1), "b", "c"]}
    assert errors_of(impl, t, too_long) == [
        ("/body", "rendered body must be at most 1024 characters, got 1025")
    ]


@pytest.mark.parametrize(
    ("amount", "errors"),
    [
        ({"type": "money"}, [("/body/amount/type", "must be 'currency' or 'date_time'")]),
        ({"fallback_value": "x"}, [("/body/amount/type", "is required")]),
        (
            {"type": "currency", "code": "usd", "amount_1000": 1.5, "extra": 1},
            [
                ("/body/amount/fallback_value", "is required"),
                ("/body/amount/code", "must be a 3-letter ISO 4217 currency code"),
                ("/body/amount/amount_1000", "must be a 64-bit integer"),
                ("/body/amount/extra", "unexpected key"),
            ],
        ),
        (
            {"type": "currency", "fallback_value": "$1", "code": "EUR", "amount_1000": True},
            [("/body/amount/amount_1000", "must be a 64-bit integer")],
        ),
        (
            {"type": "currency", "fallback_value": "$1", "code": "EUR", "amount_1000": 2**63},
            [("/body/amount/amount_1000", "must be a 64-bit integer")],
        ),
        (
            {"type": "date_time", "fallback_value": " ", "code": "EUR"},
            [
                ("/body/amount/fallback_value", "must not be empty or whitespace-only"),
                ("/body/amount/code", "unexpected key"),
            ],
        ),
    ],
)
def test_typed_parameter_errors(impl: Impl, amount: Any, errors: list[tuple[str, str]]) -> None:
    t = impl.compile(json.dumps(NAMED))
    variables = {
        "header": {"first_name": "A"},
        "body": {"first_name": "A", "amount": amount, "since": "x"},
        "buttons": ["C"],
    }
    assert errors_of(impl, t, variables) == errors


def test_named_errors(impl: Impl) -> None:
    t = impl.compile(json.dumps(NAMED))
    variables = {"header": ["x"], "body": {"first_name": "A", "nick": "B"}, "buttons": ["C" * 16]}
    assert errors_of(impl, t, variables) == [
        ("/header", "expected an object"),
        ("/body/amount", "missing variable"),
        ("/body/since", "missing variable"),
        ("/body/nick", "unexpected variable"),
        ("/buttons/0", "must be at most 15 characters"),
    ]


@pytest.mark.parametrize(
    ("fmt", "header", "errors"),
    [
        ("VIDEO", None, [("/header", "missing variable")]),
        ("VIDEO", [], [("/header/0", "missing variable")]),
        ("VIDEO", ["https://x"], [("/header/0", "expected an object")]),
        (
            "VIDEO",
            [{"type": "image", "link": "https://x"}, 2],
            [("/header/1", "unexpected variable"), ("/header/0/type", "must be 'video'")],
        ),
        ("VIDEO", {"type": "video"}, [("/header", "link or id is required")]),
        (
            "VIDEO",
            {"type": "video", "link": "https://x", "id": "1"},
            [("/header", "give either link or id, not both")],
        ),
        (
            "IMAGE",
            {"type": "image", "link": "ftp://x", "filename": "a"},
            [("/header/link", "must be an http(s) URL"), ("/header/filename", "unexpected key")],
        ),
        (
            "DOCUMENT",
            {"type": "document", "id": "", "filename": 1},
            [
                ("/header/id", "must not be empty or whitespace-only"),
                ("/header/filename", "expected a string"),
            ],
        ),
        (
            "LOCATION",
            {"type": "location", "latitude": 91, "longitude": "1", "name": 3},
            [
                ("/header/latitude", "must be a number between -90 and 90"),
                ("/header/longitude", "must be a number between -180 and 180"),
                ("/header/name", "expected a string"),
            ],
        ),
        (
            "LOCATION",
            {"type": "location", "latitude": math.nan},
            [
                ("/header/latitude", "must be a number between -90 and 90"),
                ("/header/longitude", "is required"),
            ],
        ),
    ],
)
def test_media_header_errors(
    impl: Impl, fmt: str, header: Any, errors: list[tuple[str, str]]
) -> None:
    assert errors_of(impl, media_template(impl, fmt), {"header": header}) == errors


def test_hydration_error_carries_errors_and_a_summary() -> None:
    t = _native.CompiledTemplate(json.dumps(ORDER_UPDATE))
    with pytest.raises(_native.HydrationError) as info:
        t.render({"k" * 1000: 1})
    assert isinstance(info.value, _native.NativeError)
    assert info.value.errors[0] == ("/" + "k" * 1000, "unexpected variable")
    assert len(str(info.value)) < 600
    assert "(+" in str(info.value)


@pytest.mark.parametrize(
    "data", [b"{", b"\xff\xfe", b"[1,]", b'{"body": ["\\ud800"]}', b"NaN", b"\xef\xbb\xbf{}"]
)
def test_render_json_rejects_invalid_json(impl: Impl, data: bytes) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    with pytest.raises(impl.hydration_error) as info:
        t.render_json(data)
    [(path, message)] = info.value.errors  # type: ignore[attr-defined]
    assert path == ""
    assert message.startswith("invalid JSON: ")


@pytest.mark.parametrize(("depth", "valid"), [(127, True), (128, False), (5000, False)])
def test_render_json_nesting_limit(impl: Impl, depth: int, valid: bool) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    data = b'{"x":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
    with pytest.raises(impl.hydration_error) as info:
        t.render_json(data)
    first_path = info.value.errors[0][0]  # type: ignore[attr-defined]
    assert (first_path == "/x") is valid


def test_render_batch_mixes_results_and_errors(impl: Impl) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    good = orjson.dumps(GOOD)
    results = t.render_batch([good, b"{", orjson.dumps({"body": []}), good])
    assert results[0] == (*t.render_json(good), [])
    assert results[3] == results[0]
    assert results[1][:2] == (None, None)
    assert results[1][2][0][0] == ""
    assert results[2][0] is None
    assert ("/body/0", "missing variable") in results[2][2]
    assert t.render_batch([]) == []


def test_render_batch_from_threads() -> None:
    t = _native.CompiledTemplate(json.dumps(ORDER_UPDATE))
    items = [orjson.dumps({**GOOD, "body": [f"n{i}", "b", "c"]}) for i in range(200)]
    expected = [t.render_json(x) for x in items]
    failures: list[str] = []

    def work() -> None:
        for _ in range(20):
            got = t.render_batch(items)
            if [(j, p) for j, p, _ in got] != expected:
                failures.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []


def test_huge_values(impl: Impl) -> None:
    t = impl.compile(json.dumps(ORDER_UPDATE))
    huge = "x" * 1_000_000
    errors = errors_of(
        impl, t, {"header": [huge], "body": [huge, "b", "c"], "buttons": [huge, huge]}
    )
    assert errors == [
        ("/header/0", "must be at most 60 characters"),
        ("/body", "rendered body must be at most 1024 characters, got 1000026"),
        ("/buttons/0", "must be at most 128 characters"),
        ("/buttons/1", "must be at most 2000 characters"),
    ]


# ---------------------------------------------------------------- native == reference


def outcome(impl: Impl, fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except impl.hydration_error as e:
        errors = e.errors  # type: ignore[attr-defined]
        if len(errors) == 1 and errors[0][1].startswith("invalid JSON"):
            return ("invalid json", errors[0][0])
        return ("errors", errors)
    except impl.template_error as e:
        message = str(e)
        return ("template error", "invalid JSON" if message.startswith("invalid JSON") else message)


def same(a: Any, b: Any) -> bool:
    """Equality where floats may differ in the last bit (serde_json parses floats fast)."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=1e-15)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


LITERALS = st.one_of(
    st.text(st.characters(exclude_characters="{}", codec="utf-8"), max_size=12),
    st.sampled_from(["{", "}", "{{", "}}", "{{{", "{{ 1 }}", "{{01}}", "{{Name}}", "\n", "     "]),
)
POSITIONAL = st.integers(0, 5).map(lambda k: f"{{{{{k}}}}}")
NAMED_PH = st.sampled_from(["first_name", "b", "x1", "a" * 20, "a" * 21]).map(
    lambda s: f"{{{{{s}}}}}"
)


@st.composite
def texts(draw: st.DrawFn, placeholder: st.SearchStrategy[str]) -> str:
    pieces = draw(st.lists(st.one_of(LITERALS, placeholder), max_size=6))
    return "".join(pieces)


BUTTON_DEFS = st.sampled_from(
    [
        {"type": "QUICK_REPLY", "text": "Stop"},
        {"type": "quick_reply"},
        {"type": "URL", "url": "https://x.io/t/{{1}}"},
        {"type": "URL", "url": "https://x.io/"},
        {"type": "URL", "url": "https://x.io/{{2}}"},
        {"type": "COPY_CODE", "example": "X"},
        {"type": "OTP", "otp_type": "COPY_CODE"},
        {"type": "OTP", "otp_type": "magic"},
        {"type": "PHONE_NUMBER", "phone_number": "+1"},
        {"type": "FLOW"},
        "not a button",
    ]
)


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    placeholder = draw(st.sampled_from([POSITIONAL, NAMED_PH, st.one_of(POSITIONAL, NAMED_PH)]))
    components: list[Any] = [
        {"type": draw(st.sampled_from(["BODY", "body"])), "text": draw(texts(placeholder))}
    ]
    header = draw(st.sampled_from([None, "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION", "gif"]))
    if header == "TEXT":
        components.append({"type": "HEADER", "format": "TEXT", "text": draw(texts(placeholder))})
    elif header:
        components.append({"type": "HEADER", "format": header})
    if draw(st.booleans()):
        components.append({"type": "FOOTER", "text": draw(texts(st.just("")))})
    if draw(st.booleans()):
        components.append({"type": "BUTTONS", "buttons": draw(st.lists(BUTTON_DEFS, max_size=4))})
    if draw(st.integers(0, 9)) == 0:
        components.append(
            draw(st.sampled_from([{"type": "BODY", "text": "dup"}, {"type": "X"}, 3]))
        )
    components = draw(st.permutations(components))
    d: dict[str, Any] = {
        "name": "t",
        "language": "en",
        "category": "UTILITY",
        "components": components,
    }
    fmt = draw(st.sampled_from([None, "POSITIONAL", "NAMED", "named", "other"]))
    if fmt:
        d["parameter_format"] = fmt
    return d


SAFE_LITERALS = st.text(st.characters(exclude_characters="{}", codec="utf-8"), max_size=12)
VALID_BUTTONS = st.sampled_from(
    [
        {"type": "QUICK_REPLY", "text": "Stop"},
        {"type": "URL", "url": "https://x.io/t/{{1}}"},
        {"type": "url", "url": "https://x.io/"},
        {"type": "COPY_CODE", "example": "X"},
        {"type": "OTP", "otp_type": "one_tap"},
        {"type": "PHONE_NUMBER", "phone_number": "+1"},
    ]
)


@st.composite
def valid_text(draw: st.DrawFn, tokens: list[str]) -> str:
    tokens = draw(
        st.permutations(
            tokens + draw(st.lists(st.sampled_from(tokens), max_size=2)) if tokens else []
        )
    )
    pieces = [draw(SAFE_LITERALS)]
    for token in tokens:
        pieces += ["{{" + token + "}}", draw(SAFE_LITERALS)]
    return "".join(pieces) or "x"


@st.composite
def valid_definitions(draw: st.DrawFn) -> dict[str, Any]:
    named = draw(st.booleans())
    pool = ["first_name", "b", "x1", "order_id_2", "a" * 20]
    if named:
        body_tokens = draw(st.lists(st.sampled_from(pool), unique=True, max_size=4))
    else:
        body_tokens = [str(k) for k in range(1, draw(st.integers(0, 4)) + 1)]
    components: list[Any] = [{"type": "BODY", "text": draw(valid_text(body_tokens))}]
    header = draw(st.sampled_from([None, "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"]))
    if header == "TEXT":
        header_tokens = draw(st.sampled_from([[], [pool[0] if named else "1"]]))
        components.append(
            {"type": "HEADER", "format": "TEXT", "text": draw(valid_text(header_tokens))}
        )
    elif header:
        components.append({"type": "HEADER", "format": header})
    if draw(st.booleans()):
        components.append({"type": "FOOTER", "text": draw(SAFE_LITERALS)})
    if draw(st.booleans()):
        buttons = draw(st.lists(VALID_BUTTONS, min_size=1, max_size=4))
        components.append({"type": "BUTTONS", "buttons": buttons})
    return {"name": "t", "language": "en", "components": draw(st.permutations(components))}


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


TEXT_VALUES = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8", exclude_characters="\n\r\t"), min_size=1, max_size=8),
    st.sampled_from(
        [
            "Ana",
            "",
            "   ",
            "\u3000",
            "\x1c",
            "\u180e",
            "a\u2028b",
            "\ud800",
            "a\udfffb",
            "x" * 61,
            "é" * 60,
            "y" * 2001,
            "a    b",
            "a     b",
            "ÅÅÅ",
            "🦀" * 16,
        ]
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from([2**63, -(2**63), 2**63 - 1, 10**30, -0.0, 1e300]),
)
TYPED = st.fixed_dictionaries(
    {"type": st.sampled_from(["currency", "date_time", "money", 1])},
    optional={
        "fallback_value": TEXT_VALUES,
        "code": st.sampled_from(["USD", "usd", "US", "ÉUR", 5]),
        "amount_1000": SCALARS,
        "extra": st.just(1),
    },
)
MEDIA = st.fixed_dictionaries(
    {"type": st.sampled_from(["image", "video", "document", "location", "gif"])},
    optional={
        "link": st.sampled_from(["https://x.io/a", "http://x", "ftp://x", "", "\ud800", 3]),
        "id": st.sampled_from(["123", "", " "]),
        "filename": TEXT_VALUES,
        "latitude": SCALARS,
        "longitude": SCALARS,
        "name": TEXT_VALUES,
        "address": st.just(None),
        "caption": st.just("c"),
    },
)
VALUES = st.one_of(
    TEXT_VALUES,
    TEXT_VALUES,
    SCALARS,
    TYPED,
    MEDIA,
    st.integers(1, 300).map(nested),
    st.lists(st.text(max_size=3), max_size=2),
)


GOOD_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="\n\r\t"), min_size=1, max_size=20
).filter(lambda t: not all(c in ref.WHITESPACE for c in t) and "     " not in t)
GOOD_BODY = st.one_of(
    GOOD_TEXT,
    GOOD_TEXT,
    st.builds(
        lambda f, a: {"type": "currency", "fallback_value": f, "code": "EUR", "amount_1000": a},
        GOOD_TEXT,
        st.integers(-(2**63), 2**63 - 1),
    ),
    GOOD_TEXT.map(lambda f: {"type": "date_time", "fallback_value": f}),
)
COORD = st.one_of(st.integers(-90, 90), st.floats(-90, 90))


def good_media(kind: str) -> st.SearchStrategy[Any]:
    if kind == "location":
        return st.fixed_dictionaries(
            {"type": st.just("location"), "latitude": COORD, "longitude": COORD},
            optional={"name": st.text(max_size=5), "address": st.text(max_size=5)},
        )
    source = st.one_of(
        st.fixed_dictionaries({"link": GOOD_TEXT.map(lambda t: "https://x.io/" + t)}),
        st.fixed_dictionaries({"id": GOOD_TEXT}),
    )
    extra = {"filename": GOOD_TEXT} if kind == "document" else {}
    return st.tuples(source, st.fixed_dictionaries({}, optional=extra)).map(
        lambda t: {"type": kind, **t[0], **t[1]}
    )


def button_kinds(definition: dict[str, Any]) -> list[str]:
    for c in definition["components"]:
        if isinstance(c, dict) and str(c.get("type")).upper() == "BUTTONS":
            kinds = []
            for b in c["buttons"]:
                kind = str(b["type"]).upper()
                kinds.append(kind + "+" if "{{" in b.get("url", "") else kind)
            return kinds
    return []


def good_button(kind: str) -> st.SearchStrategy[Any]:
    short = GOOD_TEXT.filter(lambda t: len(t) <= 15)
    return {
        "QUICK_REPLY": st.one_of(st.none(), GOOD_TEXT),
        "URL+": GOOD_TEXT,
        "COPY_CODE": short,
        "OTP": short,
    }.get(kind, st.none())


@st.composite
def variables_for(draw: st.DrawFn, template: Any, definition: dict[str, Any]) -> Any:
    """Mostly valid variables with some hostile values, or anything at all."""
    placeholders, named = template.placeholders(), template.parameter_format == "NAMED"
    mode = draw(st.integers(0, 3))
    if mode == 3:
        return draw(random_variables(placeholders, named))

    def pick(good: st.SearchStrategy[Any]) -> Any:
        return draw(VALUES) if mode == 2 and draw(st.integers(0, 4)) == 0 else draw(good)

    out: dict[str, Any] = {}
    header = placeholders["header"]
    if header and header[0] in ("image", "video", "document", "location"):
        media = pick(good_media(header[0]))
        out["header"] = media if draw(st.booleans()) else [media]
    elif header:
        good = GOOD_TEXT.filter(lambda t: len(t) <= 60)
        out["header"] = {header[0]: pick(good)} if named else [pick(good)]
    body = [pick(GOOD_BODY) for _ in placeholders["body"]]
    out["body"] = dict(zip(placeholders["body"], body, strict=True)) if named else body
    out["buttons"] = [pick(good_button(kind)) for kind in button_kinds(definition)]
    return out


@st.composite
def random_variables(draw: st.DrawFn, placeholders: dict[str, list[str]], named: bool) -> Any:
    def section(names: list[str]) -> Any:
        shape = draw(st.integers(0, 9))
        if shape == 0:
            return draw(VALUES)
        names = names + draw(st.lists(st.sampled_from(["zz", "a/b", "~"]), max_size=1))
        if shape == 1:
            names = names[:-1]
        if named:
            return {n: draw(VALUES) for n in names}
        return [draw(VALUES) for _ in names]

    out: dict[Any, Any] = {}
    for key in ("header", "body", "buttons"):
        if draw(st.integers(0, 9)) > 0:
            out[key] = section(placeholders[key])
    if placeholders["header"] and placeholders["header"][0] in (
        "image",
        "video",
        "document",
        "location",
    ):
        out["header"] = draw(st.one_of(MEDIA, st.lists(MEDIA, max_size=2), VALUES))
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.sampled_from(["extra", "\ud800", 7]))] = 1
    if draw(st.integers(0, 19)) == 0:
        return draw(st.one_of(st.lists(VALUES, max_size=2), SCALARS))
    return out


def buttons_of(definition: dict[str, Any]) -> int:
    for c in definition["components"]:
        if isinstance(c, dict) and c.get("type") == "BUTTONS":
            return len(c["buttons"])
    return 0


def to_json(value: Any) -> bytes:
    """JSON the way a client might send it; lone surrogates become \\ud800 escapes."""
    return json.dumps(value, ensure_ascii=True).encode()


#: CCX_HYPOTHESIS_EXAMPLES=5000 for a deeper local run.
FAST = settings(
    max_examples=int(os.environ.get("CCX_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@FAST
@given(definitions())
@example(body_only("{{1}} {{2}} {{1}}"))
@example(body_only("{{poſitional}}", parameter_format="poſitional"))
def test_definitions_agree(definition: dict[str, Any]) -> None:
    text = json.dumps(definition)
    a = outcome(NATIVE, lambda: NATIVE.compile(text))
    b = outcome(REF, lambda: REF.compile(text))
    assert a[0] == b[0]
    if a[0] == "ok":
        n, r = a[1], b[1]
        assert (n.name, n.language, n.category, n.parameter_format) == (
            r.name,
            r.language,
            r.category,
            r.parameter_format,
        )
        assert n.placeholders() == r.placeholders()
    else:
        assert a == b


@FAST
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64)))
def test_garbage_definitions_agree(data: bytes | str) -> None:
    a = outcome(NATIVE, lambda: NATIVE.compile(data))
    b = outcome(REF, lambda: REF.compile(data))
    assert a == b


@FAST
@given(st.data())
def test_renders_agree(data: st.DataObject) -> None:
    definition = data.draw(st.one_of(valid_definitions(), valid_definitions(), definitions()))
    text = json.dumps(definition)
    try:
        native, reference = NATIVE.compile(text), REF.compile(text)
    except (NATIVE.template_error, REF.template_error):
        native = reference = None
    assume(native is not None)
    variables = data.draw(variables_for(native, definition))
    a = outcome(NATIVE, lambda: native.render(variables))
    b = outcome(REF, lambda: reference.render(variables))
    event(f"render: {a[0]}")
    assert same(a, b), (a, b)
    payload = to_json(variables)
    a = outcome(NATIVE, lambda: native.render_json(payload))
    b = outcome(REF, lambda: reference.render_json(payload))
    if a[0] == "ok" and b[0] == "ok":
        assert same((orjson.loads(a[1][0]), a[1][1]), (orjson.loads(b[1][0]), b[1][1]))
    else:
        assert same(a, b), (a, b)
    [(nj, npv, nerr)] = native.render_batch([payload])
    assert (nj, npv) == (a[1] if a[0] == "ok" else (None, None))
    assert bool(nerr) is (a[0] != "ok")


@FAST
@given(st.binary(max_size=80), st.integers(0, 79), st.binary(max_size=3))
def test_mangled_json_agrees(junk: bytes, at: int, insert: bytes) -> None:
    t_native, t_ref = (
        NATIVE.compile(json.dumps(ORDER_UPDATE)),
        REF.compile(json.dumps(ORDER_UPDATE)),
    )
    good = orjson.dumps(GOOD)
    for payload in (junk, good[:at] + insert + good[at:]):
        a = outcome(NATIVE, functools.partial(t_native.render_json, payload))
        b = outcome(REF, functools.partial(t_ref.render_json, payload))
        if a[0] == "ok" and b[0] == "ok":
            assert orjson.loads(a[1][0]) == orjson.loads(b[1][0])
            assert a[1][1] == b[1][1]
        else:
            assert a == b
