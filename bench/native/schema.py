"""Schema path: parse raw request bytes and validate them against the message schema."""

from __future__ import annotations

import json
from typing import Any

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator

from bench.harness import Case
from ccx import _native
from ccx.ingest.schemas import MESSAGE
from ccx.native_ref import schema as ref

BATCH = 256

REQUEST_SCHEMA = MESSAGE  # the schema POST /v1/messages validates with

REQUEST: dict[str, Any] = {
    "to": "+5511987654321",
    "from": "106540352242922",
    "type": "template",
    "priority": "high",
    "idempotency_key": "ord-2024-000042-shipped",
    "on_ambiguous": "hold",
    "template": {
        "name": "order_shipped_v3",
        "language": "pt_BR",
        "variables": {
            "header": ["#000042"],
            "body": [
                "Ana Beatriz",
                "#000042",
                "Correios SEDEX",
                "BR123456789XX",
                "sexta-feira, 14 de junho",
                "R$ 1.249,90",
            ],
            "buttons": [None, "000042/tracking?utm_source=whatsapp"],
        },
    },
    "metadata": {
        "tenant": "acme",
        "campaign": "order-lifecycle",
        "order_id": 42,
        "order_total": 1249.9,
        "first_purchase": False,
        "segment": "returning-customer",
        "store": "sao-paulo-paulista",
        "coupon": None,
        "trace": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "note": "Deliver to the concierge if nobody answers; building closes at 22h.",
    },
}


def _requests(n: int) -> list[bytes]:
    """n distinct ~1 KB requests: the same shape with a different recipient and order."""
    out = []
    for i in range(n):
        request = {**REQUEST, "to": f"+55119{i:08d}", "idempotency_key": f"ord-{i:010d}"}
        out.append(orjson.dumps(request))
    return out


def cases() -> list[Case]:
    raw = orjson.dumps(REQUEST)
    batch = _requests(BATCH)
    native = _native.CompiledSchema(json.dumps(REQUEST_SCHEMA))
    reference = ref.CompiledSchema(json.dumps(REQUEST_SCHEMA))
    validator = Draft202012Validator(REQUEST_SCHEMA)
    fast = fastjsonschema.compile(REQUEST_SCHEMA)  # silently applies draft-07 semantics

    def jsonschema_json() -> Any:
        value = json.loads(raw)
        validator.validate(value)
        return value

    def jsonschema_orjson() -> Any:
        value = orjson.loads(raw)
        validator.validate(value)
        return value

    def fastjsonschema_orjson() -> Any:
        return fast(orjson.loads(raw))

    def batch_jsonschema() -> list[Any]:
        out = []
        for item in batch:
            value = orjson.loads(item)
            validator.validate(value)
            out.append(value)
        return out

    def batch_fastjsonschema() -> list[Any]:
        return [fast(orjson.loads(item)) for item in batch]

    bad = orjson.dumps({**REQUEST, "to": "0800", "priority": "urgent", "extra": 1})

    def check_single() -> bool:
        paths = {p for p, _ in reference.validate_batch([bad])[0][1]}
        native_paths = {p for p, _ in native.validate_batch([bad])[0][1]}
        return native.validate(raw) == reference.validate(raw) == orjson.loads(
            raw
        ) and native_paths == paths == {"", "/to", "/priority"}

    def check_batch() -> bool:
        return native.validate_batch(batch) == reference.validate_batch(batch)

    return [
        Case(
            path="schema",
            name=f"validate ~{len(raw)} B message request (parse + 2020-12)",
            native=lambda: native.validate(raw),
            rivals={
                "json.loads+jsonschema": jsonschema_json,
                "orjson.loads+jsonschema": jsonschema_orjson,
                "orjson.loads+fastjsonschema (draft-07 only, no 2020-12)": fastjsonschema_orjson,
            },
            check=check_single,
        ),
        Case(
            path="schema",
            name=f"validate_batch {BATCH} x ~{len(raw)} B requests (GIL released)",
            native=lambda: native.validate_batch(batch),
            rivals={
                "orjson.loads+jsonschema loop": batch_jsonschema,
                "orjson.loads+fastjsonschema loop (draft-07 only)": batch_fastjsonschema,
            },
            check=check_batch,
            ops=BATCH,
        ),
    ]
