"""The request schemas are valid 2020-12 and accept/reject what the contract says."""

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ccx.ingest.schemas import MESSAGE, MESSAGE_BATCH, SCHEMAS

TEMPLATE_MSG = {
    "to": "+5511999998888",
    "from": "1234567890",
    "type": "template",
    "template": {
        "name": "otp_code",
        "language": "pt_BR",
        "variables": {"body": ["123456"], "header": [], "buttons": ["123456"]},
    },
    "priority": "critical",
    "idempotency_key": "order-42-otp",
    "metadata": {"order_id": 42},
    "on_ambiguous": "resend",
}
TEXT_MSG = {"to": "5511999998888", "type": "text", "text": {"body": "hello"}}


def paths(schema: dict[str, Any], doc: Any) -> set[str]:
    validator = Draft202012Validator(schema)
    return {"/" + "/".join(str(p) for p in e.absolute_path) for e in validator.iter_errors(doc)}


@pytest.mark.parametrize("schema", SCHEMAS.values())
def test_schemas_are_valid_2020_12(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("doc", [TEMPLATE_MSG, TEXT_MSG])
def test_contract_examples_are_valid(doc: dict[str, Any]) -> None:
    assert paths(MESSAGE, doc) == set()


def test_named_variables_are_valid() -> None:
    doc = {**TEMPLATE_MSG, "template": {**TEMPLATE_MSG["template"]}}
    doc["template"]["variables"] = {"body": {"first_name": "Ana"}}
    assert paths(MESSAGE, doc) == set()


@pytest.mark.parametrize(
    ("change", "bad_path"),
    [
        ({"to": "12"}, "/to"),
        ({"to": "+0123456789"}, "/to"),
        ({"type": "image"}, "/type"),
        ({"priority": "urgent"}, "/priority"),
        ({"on_ambiguous": "maybe"}, "/on_ambiguous"),
        ({"from": "abc"}, "/from"),
        ({"idempotency_key": ""}, "/idempotency_key"),
        ({"surprise": 1}, "/"),
    ],
)
def test_invalid_fields_are_reported_at_their_path(change: dict[str, Any], bad_path: str) -> None:
    assert bad_path in paths(MESSAGE, {**TEMPLATE_MSG, **change})


def test_type_and_body_must_agree() -> None:
    assert paths(MESSAGE, {"to": "+5511999998888", "type": "template"}) != set()
    assert paths(MESSAGE, {**TEXT_MSG, "template": TEMPLATE_MSG["template"]}) != set()
    assert paths(MESSAGE, {"to": "+5511999998888", "type": "text"}) != set()


def test_batch_limits() -> None:
    assert paths(MESSAGE_BATCH, {"messages": [TEXT_MSG] * 1000}) == set()
    assert "/messages" in paths(MESSAGE_BATCH, {"messages": [TEXT_MSG] * 1001})
    assert "/messages" in paths(MESSAGE_BATCH, {"messages": []})
    assert "/messages/1/to" in paths(
        MESSAGE_BATCH, {"messages": [TEXT_MSG, {**TEXT_MSG, "to": "x"}]}
    )
