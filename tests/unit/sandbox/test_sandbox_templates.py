from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccx.sandbox.errors import MetaError
from ccx.sandbox.models.validation import validate_send
from ccx.sandbox.templates import Template, TemplateRegistry, default_registry


@pytest.fixture
def registry() -> TemplateRegistry:
    return default_registry()


def check(registry: TemplateRegistry, payload: dict[str, Any]) -> str:
    req = validate_send(payload)
    assert req.template is not None
    tpl = registry.resolve(req.template.name, req.template.language)
    return registry.check_send(tpl, req.template.components)


def error_of(registry: TemplateRegistry, payload: dict[str, Any]) -> MetaError:
    with pytest.raises(MetaError) as info:
        check(registry, payload)
    return info.value


def otp(code: str = "123456", language: str = "en_US") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": "5511999998888",
        "type": "template",
        "template": {
            "name": "otp_code",
            "language": {"code": language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": code}]},
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": code}],
                },
            ],
        },
    }


def test_reference_example_renders(
    registry: TemplateRegistry, template_payload: dict[str, Any]
) -> None:
    assert check(registry, template_payload) == "Hi Ana, your order #1234 is on its way."


def test_otp_in_two_languages(registry: TemplateRegistry) -> None:
    assert check(registry, otp()).startswith("123456 is your verification code")
    assert check(registry, otp(language="pt_BR")).startswith("123456 é o seu código")


@pytest.mark.parametrize(
    ("name", "language", "code"),
    [
        ("no_such_template", "en_US", 132001),
        ("otp_code", "de_DE", 132001),
        ("new_feature", "en_US", 132001),  # PENDING
        ("spring_sale", "en_US", 132015),  # PAUSED
        ("old_notice", "en_US", 132016),  # DISABLED
    ],
)
def test_resolve_errors(registry: TemplateRegistry, name: str, language: str, code: int) -> None:
    with pytest.raises(MetaError) as info:
        registry.resolve(name, language)
    assert info.value.code == code


def test_132001_is_404_and_names_the_template(registry: TemplateRegistry) -> None:
    with pytest.raises(MetaError) as info:
        registry.resolve("nope", "en_US")
    assert info.value.http_status == 404
    assert info.value.details == "template name (nope) does not exist in en_US"


def test_body_param_count_mismatch(
    registry: TemplateRegistry, template_payload: dict[str, Any]
) -> None:
    template_payload["template"]["components"][1]["parameters"].pop()
    err = error_of(registry, template_payload)
    assert err.code == 132000
    assert err.details == (
        "body: number of localizable_params (1) does not match the expected number of params (2)"
    )


def test_missing_header_param(registry: TemplateRegistry, template_payload: dict[str, Any]) -> None:
    del template_payload["template"]["components"][0]
    assert error_of(registry, template_payload).code == 132000


def test_missing_dynamic_button_param(registry: TemplateRegistry) -> None:
    payload = otp()
    del payload["template"]["components"][1]
    assert error_of(registry, payload).code == 132000


def test_params_for_a_template_without_params(registry: TemplateRegistry) -> None:
    payload = otp()
    payload["template"]["name"] = "hello_world"
    assert error_of(registry, payload).code == 132000


def test_quick_reply_payload_is_optional(
    registry: TemplateRegistry, template_payload: dict[str, Any]
) -> None:
    del template_payload["template"]["components"][2]
    assert check(registry, template_payload).startswith("Hi Ana")


@pytest.mark.parametrize(
    "mutate",
    [
        # header is IMAGE, a text param is the wrong format
        lambda c: c[0].update(parameters=[{"type": "text", "text": "hi"}]),
        # url button needs a text param, not a payload
        lambda c: c[3].update(parameters=[{"type": "payload", "payload": "x"}]),
        # button 1 is URL, not quick_reply
        lambda c: c[3].update(sub_type="quick_reply"),
        # positional template given a named param
        lambda c: c[1]["parameters"][0].update(parameter_name="first_name"),
    ],
)
def test_format_mismatch_132012(
    registry: TemplateRegistry, template_payload: dict[str, Any], mutate: Any
) -> None:
    mutate(template_payload["template"]["components"])
    assert error_of(registry, template_payload).code == 132012


def test_named_parameters(registry: TemplateRegistry) -> None:
    payload = otp()
    payload["template"] = {
        "name": "welcome",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"}],
            }
        ],
    }
    assert check(registry, payload) == "Welcome aboard, Ana!"
    payload["template"]["components"][0]["parameters"][0]["parameter_name"] = "last_name"
    assert error_of(registry, payload).code == 132012
    del payload["template"]["components"][0]["parameters"][0]["parameter_name"]
    assert error_of(registry, payload).code == 132012


def test_copy_code_coupon(registry: TemplateRegistry) -> None:
    payload = otp()
    payload["template"] = {
        "name": "promo",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana"},
                    {
                        "type": "currency",
                        "currency": {"fallback_value": "$5", "code": "USD", "amount_1000": 5000},
                    },
                ],
            },
            {
                "type": "button",
                "sub_type": "copy_code",
                "index": 0,
                "parameters": [{"type": "coupon_code", "coupon_code": "SAVE5"}],
            },
        ],
    }
    assert check(registry, payload) == "Hi Ana, this week only: $5 off everything."


@pytest.mark.parametrize(
    ("param", "code"),
    [
        ({"type": "text"}, 131008),
        ({"type": "text", "text": ""}, 131008),
        ({"type": "currency", "currency": {"fallback_value": "$5"}}, 131008),
        ({"type": "date_time"}, 131008),
        ({"type": "image", "image": {"link": "x"}}, 131009),
    ],
)
def test_body_param_values(registry: TemplateRegistry, param: dict[str, Any], code: int) -> None:
    payload = otp()
    payload["template"]["components"][0]["parameters"] = [param]
    assert error_of(registry, payload).code == code


@pytest.mark.parametrize(
    ("button", "code"),
    [
        ({"type": "button", "index": "0", "parameters": []}, 131008),
        ({"type": "button", "sub_type": "url", "index": "x"}, 131009),
        ({"type": "button", "sub_type": "url", "index": "5"}, 131009),
    ],
)
def test_button_shape(registry: TemplateRegistry, button: dict[str, Any], code: int) -> None:
    payload = otp()
    payload["template"]["components"][1] = button
    assert error_of(registry, payload).code == code


def test_unknown_component_type(registry: TemplateRegistry) -> None:
    payload = otp()
    payload["template"]["components"].append({"type": "footer", "parameters": []})
    assert error_of(registry, payload).code == 131009


def test_from_json_validates() -> None:
    with pytest.raises(ValueError, match="category"):
        Template.from_json({"name": "x", "language": "en", "category": "SPAM"})
    with pytest.raises(ValueError, match="status"):
        Template.from_json({"name": "x", "language": "en", "status": "MAYBE"})
    with pytest.raises(ValueError, match="missing"):
        Template.from_json({"name": "x"})
    with pytest.raises(ValueError, match="NAMED"):
        Template.from_json(
            {"name": "x", "language": "en", "parameter_format": "NAMED", "body_params": 1}
        )


def test_round_trip_and_file(tmp_path: Path) -> None:
    tpl = default_registry().get("order_update", "en_US")
    assert tpl is not None
    assert Template.from_json(tpl.to_json()) == tpl
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"templates": [tpl.to_json()]}))
    loaded = TemplateRegistry.from_file(path)
    assert [t.name for t in loaded.all()] == ["order_update"]


def test_graph_shape() -> None:
    tpl = default_registry().get("order_update", "en_US")
    assert tpl is not None
    graph = tpl.to_graph()
    assert graph["status"] == "APPROVED"
    assert graph["category"] == "UTILITY"
    assert [c["type"] for c in graph["components"]] == ["HEADER", "BODY", "BUTTONS"]
    assert graph["components"][0]["format"] == "IMAGE"
    assert graph["id"].isdigit()
