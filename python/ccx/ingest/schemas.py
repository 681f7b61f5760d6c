"""JSON Schemas (draft 2020-12) of the public request bodies.

One source of truth: the native validator compiles these and `/openapi.json` embeds them.
"""

from __future__ import annotations

from typing import Any

import orjson

from ccx.meta_facts import TEMPLATE_CATEGORIES, TEMPLATE_STATUSES
from ccx.store.webhooks import EVENT_TYPES

DIALECT = "https://json-schema.org/draft/2020-12/schema"

PHONE = {"type": "string", "pattern": r"^\+?[1-9][0-9]{6,14}$", "description": "E.164 number"}
PHONE_NUMBER_ID = {"type": "string", "pattern": r"^[0-9]{1,32}$"}
PRIORITIES = ["critical", "high", "default", "low"]

_VARIABLE_VALUE: dict[str, Any] = {
    "description": "A text value, or a typed parameter object (currency, date_time, media).",
    "anyOf": [
        {"type": "string", "maxLength": 4096},
        {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["currency", "date_time", "image", "video", "document"]}
            },
        },
    ],
}
_VARIABLE_GROUP: dict[str, Any] = {
    "description": "Positional values in placeholder order, or named values by placeholder name.",
    "anyOf": [
        {"type": "array", "maxItems": 100, "items": _VARIABLE_VALUE},
        {
            "type": "object",
            "maxProperties": 100,
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,19}$"},
            "additionalProperties": _VARIABLE_VALUE,
        },
    ],
}

MESSAGE: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/message.json",
    "title": "MessageRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["to", "type"],
    "properties": {
        "to": PHONE,
        "from": {**PHONE_NUMBER_ID, "description": "Sender phone_number_id (default: tenant's)."},
        "type": {"enum": ["template", "text"]},
        "template": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "language"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9_]{1,512}$"},
                "language": {"type": "string", "pattern": "^[a-z]{2,3}(_[A-Z]{2})?$"},
                "variables": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "header": _VARIABLE_GROUP,
                        "body": _VARIABLE_GROUP,
                        "buttons": {
                            "type": "array",
                            "maxItems": 10,
                            "items": {"type": ["string", "null"], "maxLength": 2000},
                        },
                    },
                },
            },
        },
        "text": {
            "type": "object",
            "additionalProperties": False,
            "required": ["body"],
            "properties": {
                "body": {"type": "string", "minLength": 1, "maxLength": 4096},
                "preview_url": {"type": "boolean"},
            },
        },
        "priority": {"enum": PRIORITIES},
        "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "metadata": {"type": "object", "maxProperties": 64},
        "on_ambiguous": {"enum": ["hold", "resend"]},
    },
    "allOf": [
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "template"}}},
            "then": {"required": ["template"], "properties": {"text": False}},
        },
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "text"}}},
            "then": {"required": ["text"], "properties": {"template": False}},
        },
    ],
}

MESSAGE_BATCH: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/message-batch.json",
    "title": "MessageBatchRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["messages"],
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": {k: v for k, v in MESSAGE.items() if not k.startswith("$")},
        }
    },
}

TEMPLATE: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/template.json",
    "title": "TemplateRequest",
    "description": "A template as Meta's template-management API describes it, plus its status "
    "(default APPROVED). Other members of Meta's JSON (id, quality_score, ...) are kept.",
    "type": "object",
    "required": ["name", "language", "category", "components"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9_]{1,512}$"},
        "language": {"type": "string", "pattern": "^[a-z]{2,3}(_[A-Z]{2})?$"},
        "category": {"enum": list(TEMPLATE_CATEGORIES)},
        "parameter_format": {"enum": ["POSITIONAL", "NAMED"]},
        "status": {"enum": list(TEMPLATE_STATUSES)},
        "components": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": ["HEADER", "BODY", "FOOTER", "BUTTONS"]}},
            },
        },
    },
}

SENDER: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/sender.json",
    "title": "SenderRequest",
    "description": "PUT /v1/senders/{phone_number_id}: omitted fields keep their stored values; "
    "a new sender needs waba_id and access_token.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "waba_id": {"type": "string", "pattern": "^[0-9]{1,32}$"},
        "access_token": {
            "type": "string",
            "minLength": 1,
            "maxLength": 4096,
            "description": "Meta access token; stored encrypted, never returned.",
        },
        "throughput": {"enum": [20, 80, 1000], "description": "Messages per second (tier)."},
        "is_default": {"type": "boolean"},
        "display_name": {"type": "string", "maxLength": 128, "description": "Empty clears it."},
    },
}

SUPPRESSION: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/suppression.json",
    "title": "SuppressionRequest",
    "description": "PUT /v1/suppressions/{recipient}: the recipient opted out.",
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": {"type": "string", "maxLength": 256}},
}

WEBHOOK_ENDPOINT_ID = {"type": "string", "pattern": "^ep_[0-9A-Z]{26}$"}
_WEBHOOK_ENDPOINT_FIELDS: dict[str, Any] = {
    "url": {
        "type": "string",
        "pattern": "^https?://",
        "maxLength": 2048,
        "description": "Where events are POSTed; private, loopback and link-local addresses "
        "are refused unless `webhooks.allow_networks` allows them.",
    },
    "events": {
        "type": "array",
        "uniqueItems": True,
        "items": {"enum": list(EVENT_TYPES)},
        "description": "Event types to send; empty or missing: all of them.",
    },
    "description": {"type": "string", "maxLength": 256, "description": "Empty clears it."},
    "enabled": {"type": "boolean", "description": "Default true; enabling clears the reason."},
}

WEBHOOK_ENDPOINT: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/webhook-endpoint.json",
    "title": "WebhookEndpointRequest",
    "description": "POST /v1/webhook-endpoints: a client endpoint for signed message events.",
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": _WEBHOOK_ENDPOINT_FIELDS,
}

WEBHOOK_ENDPOINT_UPDATE: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/webhook-endpoint-update.json",
    "title": "WebhookEndpointUpdate",
    "description": "PATCH /v1/webhook-endpoints/{endpoint_id}: the fields to change.",
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": _WEBHOOK_ENDPOINT_FIELDS,
}

WEBHOOK_SECRET_ROTATION: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/webhook-secret-rotation.json",
    "title": "WebhookSecretRotation",
    "description": "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret (body optional).",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "overlap_s": {
            "type": "integer",
            "minimum": 0,
            "maximum": 604800,
            "description": "Seconds the old secret keeps signing beside the new one "
            "(default `webhooks.secret_overlap_s`; 0 drops it at once).",
        }
    },
}

WEBHOOK_REPLAY: dict[str, Any] = {
    "$schema": DIALECT,
    "$id": "https://ccx.dev/schemas/webhook-replay.json",
    "title": "WebhookReplayRequest",
    "description": "POST /v1/messages/{message_id}/replay-webhooks (body optional).",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "endpoint_id": {**WEBHOOK_ENDPOINT_ID, "description": "Only this endpoint's deliveries."}
    },
}

#: Every request schema by name, as exposed under `components.schemas` in OpenAPI.
SCHEMAS: dict[str, dict[str, Any]] = {
    "MessageRequest": MESSAGE,
    "MessageBatchRequest": MESSAGE_BATCH,
    "TemplateRequest": TEMPLATE,
    "SenderRequest": SENDER,
    "SuppressionRequest": SUPPRESSION,
    "WebhookEndpointRequest": WEBHOOK_ENDPOINT,
    "WebhookEndpointUpdate": WEBHOOK_ENDPOINT_UPDATE,
    "WebhookSecretRotation": WEBHOOK_SECRET_ROTATION,
    "WebhookReplayRequest": WEBHOOK_REPLAY,
}

METADATA_MAX_BYTES = 4096


def schema_bytes(schema: dict[str, Any]) -> bytes:
    """The schema as JSON text, for the native compiler."""
    return orjson.dumps(schema)
