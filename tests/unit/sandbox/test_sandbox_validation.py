from __future__ import annotations

from typing import Any

import pytest

from ccx.sandbox.errors import MetaError
from ccx.sandbox.models.validation import normalize_phone, parse_json, validate_send


def code_of(payload: dict[str, Any]) -> int:
    with pytest.raises(MetaError) as info:
        validate_send(payload)
    return info.value.code


def test_reference_text_example_is_valid(text_payload: dict[str, Any]) -> None:
    req = validate_send(text_payload)
    assert req.to == "+16505555555"
    assert req.wa_id == "16505555555"
    assert req.type == "text"
    assert req.text_body == "Hello"
    assert req.biz_opaque_callback_data == "gw-msg-01HZX"


def test_reference_template_example_is_valid(template_payload: dict[str, Any]) -> None:
    req = validate_send(template_payload)
    assert req.template is not None
    assert req.template.name == "order_update"
    assert req.template.language == "en_US"
    assert len(req.template.components) == 4


def test_type_defaults_to_text(text_payload: dict[str, Any]) -> None:
    del text_payload["type"]
    assert validate_send(text_payload).type == "text"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda p: p.pop("messaging_product"), 100),
        (lambda p: p.update(messaging_product="sms"), 100),
        (lambda p: p.pop("to"), 100),
        (lambda p: p.update(unknown_field=1), 100),
        (lambda p: p.update(biz_opaque_callbackdata="x"), 100),
        (lambda p: p.update(type="carrier_pigeon"), 100),
        (lambda p: p.update(recipient_type="crowd"), 100),
        (lambda p: p["text"].update(extra=1), 100),
        (lambda p: p.pop("text"), 131008),
        (lambda p: p["text"].pop("body"), 131008),
        (lambda p: p["text"].update(body=""), 131008),
        (lambda p: p.update(to="not-a-number"), 131009),
        (lambda p: p.update(to="12"), 131009),
        (lambda p: p.update(to=14085551234), 131009),
        (lambda p: p["text"].update(body=5), 131009),
        (lambda p: p["text"].update(body="x" * 4097), 131009),
        (lambda p: p["text"].update(preview_url="yes"), 131009),
        (lambda p: p.update(biz_opaque_callback_data="x" * 513), 131009),
        (lambda p: p.update(recipient_type="group"), 131009),
        (lambda p: p.update(type="image"), 131051),
    ],
)
def test_text_errors(text_payload: dict[str, Any], mutate: Any, code: int) -> None:
    mutate(text_payload)
    assert code_of(text_payload) == code


def test_max_lengths_are_allowed(text_payload: dict[str, Any]) -> None:
    text_payload["text"]["body"] = "x" * 4096
    text_payload["biz_opaque_callback_data"] = "y" * 512
    assert validate_send(text_payload).text_body == "x" * 4096


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda p: p.pop("template"), 131008),
        (lambda p: p["template"].pop("name"), 131008),
        (lambda p: p["template"].pop("language"), 131008),
        (lambda p: p["template"]["language"].pop("code"), 131008),
        (lambda p: p["template"]["components"][0].pop("type"), 131008),
        (lambda p: p["template"].update(name=7), 131009),
        (lambda p: p["template"]["language"].update(policy="fallback"), 131009),
        (lambda p: p["template"].update(components={}), 131009),
        (lambda p: p["template"].update(foo=1), 100),
        (lambda p: p["template"]["language"].update(foo=1), 100),
    ],
)
def test_template_request_errors(template_payload: dict[str, Any], mutate: Any, code: int) -> None:
    mutate(template_payload)
    assert code_of(template_payload) == code


def test_graph_messages_look_like_meta() -> None:
    with pytest.raises(MetaError) as info:
        validate_send({"to": "14085551234"})
    assert info.value.message == "(#100) The parameter messaging_product is required."


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_parse_json_rejects_non_objects(raw: bytes) -> None:
    with pytest.raises(MetaError) as info:
        parse_json(raw)
    assert info.value.code == 100


def test_normalize_phone() -> None:
    assert normalize_phone("+1 (650) 555-5555") == "16505555555"
