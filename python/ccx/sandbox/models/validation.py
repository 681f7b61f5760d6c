"""Validation of `POST /{version}/{phone_number_id}/messages` bodies, answering as Meta does.

Top-level Graph parameters (`messaging_product`, `to`, unknown keys, enum values) fail with
code 100; missing message content fails with 131008; invalid values with 131009; message
types the sandbox does not simulate with 131051. Template registry checks (132xxx) come after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from ccx.sandbox.errors import MetaError

MAX_TEXT_BODY = 4096
MAX_CALLBACK_DATA = 512
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{5,24}$")
_NON_DIGITS = re.compile(r"[^0-9]")
_TOP_LEVEL = frozenset(
    {
        "messaging_product",
        "recipient_type",
        "to",
        "recipient",
        "type",
        "context",
        "biz_opaque_callback_data",
        "text",
        "template",
    }
)
#: Message types Meta knows; only text and template are simulated.
META_TYPES = (
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
)


@dataclass(slots=True)  # not frozen: built on every send, frozen init is slower
class TemplateRequest:
    name: str
    language: str
    components: tuple[dict[str, Any], ...]


@dataclass(slots=True)  # not frozen: built on every send, frozen init is slower
class SendRequest:
    """A send that passed request validation (templates are checked afterwards)."""

    to: str
    wa_id: str
    type: str
    text_body: str | None
    template: TemplateRequest | None
    biz_opaque_callback_data: str | None


def _graph_error(message: str) -> MetaError:
    return MetaError(100, message, message=f"(#100) {message}")


def _unexpected_keys(obj: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _graph_error(f'Unexpected key "{key}" on param "{where}".')


def parse_json(raw: str | bytes) -> dict[str, Any]:
    """The body as a JSON object, or Meta's 100 for anything else."""
    try:
        data = orjson.loads(raw) if raw else None
    except ValueError:
        raise _graph_error("Invalid parameter: the request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise _graph_error("Invalid parameter: the request body must be a JSON object.")
    return data


def normalize_phone(to: str) -> str:
    """The digits of a phone number (the `wa_id` the sandbox reports)."""
    return _NON_DIGITS.sub("", to)


def validate_send(data: dict[str, Any]) -> SendRequest:
    """Check a decoded send body; raise `MetaError` with the code Meta would use."""
    _unexpected_keys(data, _TOP_LEVEL | frozenset(META_TYPES), "<root>")
    product = data.get("messaging_product")
    if product is None:
        raise _graph_error("The parameter messaging_product is required.")
    if product != "whatsapp":
        raise _graph_error(
            f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".'
        )
    recipient_type = data.get("recipient_type", "individual")
    if recipient_type not in ("individual", "group"):
        raise _graph_error(
            f'Param recipient_type must be one of {{INDIVIDUAL, GROUP}} - got "{recipient_type}".'
        )
    if recipient_type == "group":
        raise MetaError(131009, "recipient_type group is not simulated by the sandbox")
    to = data.get("to")
    if to is None:
        raise _graph_error("The parameter to is required.")
    wa_id = normalize_phone(to) if isinstance(to, str) and _PHONE.match(to) else ""
    if not 7 <= len(wa_id) <= 15:
        raise MetaError(131009, f"Invalid 'to' parameter: {to!r} is not a phone number")
    kind = data.get("type", "text")
    if kind not in META_TYPES:
        raise _graph_error(
            f"Param type must be one of {{{', '.join(t.upper() for t in META_TYPES)}}} - got "
            f'"{kind}".'
        )
    if kind not in ("text", "template"):
        raise MetaError(131051, f"message type {kind} is not simulated (text and template only)")
    opaque = data.get("biz_opaque_callback_data")
    if opaque is not None and (not isinstance(opaque, str) or len(opaque) > MAX_CALLBACK_DATA):
        raise MetaError(
            131009,
            f"biz_opaque_callback_data must be a string of at most {MAX_CALLBACK_DATA} chars",
        )
    if kind == "text":
        return SendRequest(to, wa_id, kind, _text_body(data), None, opaque)
    return SendRequest(to, wa_id, kind, None, _template(data), opaque)


def _text_body(data: dict[str, Any]) -> str:
    text = data.get("text")
    if text is None:
        raise MetaError(131008, "Parameter 'text' is required for messages of type text")
    if not isinstance(text, dict):
        raise MetaError(131009, "Parameter 'text' must be an object")
    _unexpected_keys(text, frozenset({"body", "preview_url"}), "text")
    body = text.get("body")
    if body is None or body == "":
        raise MetaError(131008, "Parameter 'text.body' is required")
    if not isinstance(body, str):
        raise MetaError(131009, "Parameter 'text.body' must be a string")
    if len(body) > MAX_TEXT_BODY:
        raise MetaError(131009, f"Parameter 'text.body' is longer than {MAX_TEXT_BODY} characters")
    if not isinstance(text.get("preview_url", False), bool):
        raise MetaError(131009, "Parameter 'text.preview_url' must be a boolean")
    return body


def _template(data: dict[str, Any]) -> TemplateRequest:
    tpl = data.get("template")
    if tpl is None:
        raise MetaError(131008, "Parameter 'template' is required for messages of type template")
    if not isinstance(tpl, dict):
        raise MetaError(131009, "Parameter 'template' must be an object")
    _unexpected_keys(tpl, frozenset({"name", "language", "components", "namespace"}), "template")
    name = tpl.get("name")
    if not name:
        raise MetaError(131008, "Parameter 'template.name' is required")
    if not isinstance(name, str):
        raise MetaError(131009, "Parameter 'template.name' must be a string")
    language = tpl.get("language")
    if not isinstance(language, dict) or not language.get("code"):
        raise MetaError(131008, "Parameter 'template.language.code' is required")
    _unexpected_keys(language, frozenset({"code", "policy"}), "template['language']")
    if language.get("policy", "deterministic") != "deterministic":
        raise MetaError(131009, "Parameter 'template.language.policy' must be deterministic")
    if not isinstance(language["code"], str):
        raise MetaError(131009, "Parameter 'template.language.code' must be a string")
    components = tpl.get("components", [])
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise MetaError(131009, "Parameter 'template.components' must be a list of objects")
    for comp in components:
        if comp.get("type") is None:
            raise MetaError(131008, "Every template component needs a type")
    return TemplateRequest(name, language["code"], tuple(components))
