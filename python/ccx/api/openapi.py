"""The OpenAPI 3.1 document: request bodies are the JSON Schemas the native validator compiles
(`ccx.ingest.schemas.SCHEMAS`, one source of truth); each route adds its operation object."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ccx import __version__
from ccx.ingest.schemas import DIALECT, SCHEMAS

if TYPE_CHECKING:
    from ccx.api.app import App

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_STR = {"type": ["string", "null"]}

#: Response bodies (descriptive: clients may rely on the listed members).
RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["path", "message"],
                    "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
    "MessageAccepted": {
        "type": "object",
        "required": ["id", "status", "created_at"],
        "properties": {
            "id": {"type": "string", "pattern": "^msg_[0-9A-Z]{26}$"},
            "status": {"type": "string"},
            "created_at": _TIME,
        },
    },
    "Message": {
        "type": "object",
        "required": ["id", "status", "to", "type", "priority", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string"},
            "to": {"type": "string"},
            "from": _NULLABLE_STR,
            "type": {"type": "string"},
            "priority": {"type": "string"},
            "created_at": _TIME,
            "attempts": {"type": "integer"},
            "wamid": _NULLABLE_STR,
            "events": {"type": "array", "items": {"type": "object"}},
        },
    },
    "MessagePage": {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "next_cursor": _NULLABLE_STR,
        },
    },
    "BatchResult": {
        "type": "object",
        "required": ["accepted", "rejected", "results"],
        "properties": {
            "accepted": {"type": "integer"},
            "rejected": {"type": "integer"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "http_status"],
                    "properties": {
                        "index": {"type": "integer"},
                        "http_status": {"type": "integer"},
                    },
                },
            },
        },
    },
    "Template": {
        "type": "object",
        "required": ["name", "language", "category", "status", "definition"],
        "properties": {
            "name": {"type": "string"},
            "language": {"type": "string"},
            "category": {"type": "string"},
            "status": {"type": "string"},
            "placeholders": {"type": "object"},
            "definition": {"type": "object"},
        },
    },
    "TemplateList": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Template"}}
        },
    },
    "Sender": {
        "type": "object",
        "required": ["phone_number_id", "waba_id", "throughput", "is_default", "has_token"],
        "properties": {
            "phone_number_id": {"type": "string"},
            "waba_id": {"type": "string"},
            "throughput": {"type": "integer"},
            "is_default": {"type": "boolean"},
            "has_token": {"type": "boolean"},
        },
    },
    "SenderList": {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Sender"}}},
    },
    "NumberError": {
        "type": "object",
        "required": ["code", "title", "details", "at"],
        "properties": {
            "code": {"type": ["integer", "null"]},
            "title": {"type": ["string", "null"]},
            "details": {"type": ["string", "null"]},
            "at": {"type": "string", "format": "date-time"},
        },
    },
    "NumberErrorList": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/NumberError"}}
        },
    },
    "Suppression": {
        "type": "object",
        "required": ["recipient", "created_at"],
        "properties": {
            "recipient": {"type": "string"},
            "reason": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "SuppressionList": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Suppression"}},
            "next_after": {"type": ["string", "null"]},
        },
    },
    "WebhookEndpoint": {
        "type": "object",
        "required": ["id", "url", "events", "enabled", "created_at", "updated_at", "secrets"],
        "properties": {
            "id": {"type": "string", "pattern": "^ep_[0-9A-Z]{26}$"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string"}},
            "description": _NULLABLE_STR,
            "enabled": {"type": "boolean"},
            "disabled_reason": _NULLABLE_STR,
            "created_at": _TIME,
            "updated_at": _TIME,
            "secrets": {
                "description": "The secrets that sign now (values never listed here).",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["created_at", "expires_at"],
                    "properties": {
                        "created_at": _TIME,
                        "expires_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            },
        },
    },
    "WebhookEndpointWithSecret": {
        "allOf": [{"$ref": "#/components/schemas/WebhookEndpoint"}],
        "required": ["secret"],
        "properties": {"secret": {"type": "string", "pattern": "^whsec_"}},
    },
    "WebhookEndpointList": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookEndpoint"}}
        },
    },
    "WebhookSecret": {
        "type": "object",
        "required": ["secret"],
        "properties": {"secret": {"type": "string", "pattern": "^whsec_"}},
    },
    "WebhookDelivery": {
        "type": "object",
        "required": [
            "id",
            "endpoint_id",
            "message_id",
            "seq",
            "event_id",
            "type",
            "status",
            "attempt_count",
            "created_at",
            "attempts",
        ],
        "properties": {
            "id": {"type": "string"},
            "endpoint_id": {"type": "string"},
            "message_id": {"type": "string"},
            "seq": {"type": "integer"},
            "event_id": {"type": "string"},
            "type": {"type": "string"},
            "status": {"enum": ["pending", "delivered", "failed"]},
            "attempt_count": {"type": "integer"},
            "created_at": _TIME,
            "next_at": {"type": ["string", "null"], "format": "date-time"},
            "delivered_at": {"type": ["string", "null"], "format": "date-time"},
            "attempts": {
                "description": "The latest attempts, oldest first (`body`: the start of the "
                "response body, only on a single delivery).",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["at", "status_code", "latency_ms", "error"],
                    "properties": {
                        "at": _TIME,
                        "status_code": {"type": ["integer", "null"]},
                        "latency_ms": {"type": "number"},
                        "error": _NULLABLE_STR,
                        "body": _NULLABLE_STR,
                    },
                },
            },
            "payload": {"description": "The event as POSTed (single delivery only)."},
        },
    },
    "WebhookDeliveryPage": {
        "type": "object",
        "required": ["data", "next_before"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookDelivery"}},
            "next_before": _NULLABLE_STR,
        },
    },
    "WebhookReplayQueued": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {"id": {"type": "string"}, "status": {"const": "replay_queued"}},
    },
    "WebhookMessageReplay": {
        "type": "object",
        "required": ["message_id", "deliveries"],
        "properties": {
            "message_id": {"type": "string"},
            "deliveries": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Any": {},
}

#: Problem statuses every authenticated operation can answer.
_AUTH_ERRORS = (401, 403, 503)


def _content(schema: str, media: str = JSON) -> dict[str, Any]:
    return {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def operation(
    summary: str,
    *,
    scopes: Iterable[str] = (),
    body: str | None = None,
    ok: Mapping[int, str | None] | None = None,
    errors: Iterable[int] = (),
    params: Iterable[dict[str, Any]] = (),
    headers: Mapping[int, Iterable[str]] | None = None,
) -> dict[str, Any]:
    """An operation object. `ok` maps success statuses to a response schema name (None: no
    body); `errors` are the problem statuses besides the auth ones."""
    scopes = list(scopes)
    responses: dict[str, Any] = {}
    for status, schema in (ok or {200: "Any"}).items():
        response: dict[str, Any] = {"description": summary}
        if schema is not None:
            response["content"] = _content(schema)
        names = (headers or {}).get(status, ())
        if names:
            response["headers"] = {n: {"schema": {"type": "string"}} for n in names}
        responses[str(status)] = response
    statuses = set(errors) | (set(_AUTH_ERRORS) if scopes else set())
    if body:
        statuses |= {400, 413, 422}
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": "problem",
            "content": _content("Problem", PROBLEM_JSON),
        }
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if scopes:
        op["security"] = [{"bearer": scopes}]
        op["description"] = "Scopes: " + ", ".join(f"`{s}`" for s in scopes)
    if body:
        op["requestBody"] = {"required": True, "content": _content(body)}
    params = list(params)
    if params:
        op["parameters"] = params
    return op


def path_param(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


def query_param(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


def header_param(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": schema,
        "description": description,
    }


def openapi_document(app: App) -> dict[str, Any]:
    """OpenAPI 3.1 document of every registered route."""
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes:
        op = {"operationId": route.name, **(route.doc or operation(route.name))}
        paths.setdefault(route.template, {})[route.method.lower()] = op
    schemas = {
        name: {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
        for name, schema in SCHEMAS.items()
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": DIALECT,
        "info": {
            "title": "ccx",
            "version": __version__,
            "description": "WhatsApp Business messaging gateway. Errors are RFC 9457 problems.",
        },
        "paths": paths,
        "components": {
            "schemas": {**schemas, **RESPONSE_SCHEMAS},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
