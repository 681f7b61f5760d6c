"""Admin API of the sandbox (`/_admin/...`): faults, ledger, reset, templates, limits, callbacks.

Every function takes the sandbox and the decoded request parts and returns a `Reply`; the
robyn routes in `app.py` only translate. Bad input answers 400 `{"error": "..."}`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from ccx import __version__
from ccx.sandbox.faults import FaultConfig, FaultSpec
from ccx.sandbox.service import Reply, Sandbox, json_reply
from ccx.sandbox.templates import Template

log = logging.getLogger("ccx.sandbox.admin")


def _body(raw: str | bytes) -> Any:
    if not raw:
        return {}
    return orjson.loads(raw)


def _object(raw: str | bytes) -> dict[str, Any]:
    data = _body(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def _bad(exc: Exception) -> Reply:
    return json_reply(400, {"error": str(exc)})


def health(sb: Sandbox, port: int | None) -> Reply:
    return json_reply(
        200,
        {
            "status": "ok",
            "version": __version__,
            "pid": os.getpid(),
            "port": port,
            "seed": sb.seed,
            "uptime_s": round(sb.uptime_s(), 3),
            "ledger_count": sb.ledger.count,
            "callbacks_pending": sb.callbacks.pending,
        },
    )


def get_faults(sb: Sandbox) -> Reply:
    return json_reply(200, sb.faults.config.to_json())


def put_faults(sb: Sandbox, raw: str | bytes) -> Reply:
    """Replace the whole fault configuration."""
    try:
        sb.faults.config = FaultConfig.from_json(_object(raw))
    except (ValueError, TypeError, KeyError) as exc:
        return _bad(exc)
    log.info("faults replaced", extra={"faults": sb.faults.config.to_json()})
    return get_faults(sb)


def put_fault_spec(sb: Sandbox, phone_number_id: str | None, raw: str | bytes) -> Reply:
    """Replace the default spec (`phone_number_id` None) or one number's spec."""
    try:
        spec = FaultSpec.from_json(_object(raw))
    except (ValueError, TypeError, KeyError) as exc:
        return _bad(exc)
    config = sb.faults.config
    if phone_number_id is None:
        config = replace(config, default=spec)
    else:
        config = replace(config, numbers={**config.numbers, phone_number_id: spec})
    sb.faults.config = config
    log.info("faults changed", extra={"phone_number_id": phone_number_id, "spec": spec.to_json()})
    return get_faults(sb)


def delete_fault_spec(sb: Sandbox, phone_number_id: str) -> Reply:
    numbers = {k: v for k, v in sb.faults.config.numbers.items() if k != phone_number_id}
    sb.faults.config = replace(sb.faults.config, numbers=numbers)
    return get_faults(sb)


def ledger(sb: Sandbox, query: Mapping[str, str]) -> Reply:
    try:
        limit = int(query.get("limit", "1000"))
        after_seq = int(query.get("after_seq", "0"))
    except ValueError as exc:
        return _bad(exc)
    out = sb.ledger.summary()
    out["requests"] = {
        "total": sb.requests,
        "responses": dict(sb.responses),
        "injected": dict(sb.injected),
    }
    out["callbacks"] = {**sb.callbacks.stats.to_json(), "pending": sb.callbacks.pending}
    if query.get("entries", "1") not in ("0", "false"):
        entries = sb.ledger.entries(
            phone_number_id=query.get("phone_number_id"),
            to=query.get("to"),
            biz_opaque_callback_data=query.get("biz_opaque_callback_data"),
            wamid=query.get("wamid"),
            after_seq=after_seq,
        )
        out["entries"] = [e.to_json() for _, e in zip(range(max(0, limit)), entries, strict=False)]
    return json_reply(200, out)


def reset(sb: Sandbox, raw: str | bytes) -> Reply:
    """Empty the ledger, refill limits, cancel callbacks; optionally new seed, clear faults."""
    try:
        body = _object(raw)
        seed = body.get("seed")
        sb.reset(None if seed is None else int(seed))
    except (ValueError, TypeError, AttributeError) as exc:
        return _bad(exc)
    if body.get("faults"):
        sb.faults.config = FaultConfig(hang_s=sb.faults.config.hang_s)
    log.info("sandbox reset", extra={"seed": sb.seed, "faults_cleared": bool(body.get("faults"))})
    return json_reply(200, {"status": "reset", "seed": sb.seed})


def get_templates(sb: Sandbox) -> Reply:
    return json_reply(200, {"templates": [t.to_json() for t in sb.templates.all()]})


def post_templates(sb: Sandbox, raw: str | bytes) -> Reply:
    """Add or replace templates: one object, a list, or `{"templates": [...]}`."""
    try:
        data = _body(raw)
        items = data.get("templates", [data]) if isinstance(data, dict) else data
        parsed = [Template.from_json(item) for item in items]
    except (ValueError, TypeError, AttributeError) as exc:
        return _bad(exc)
    for template in parsed:
        sb.templates.upsert(template)
    log.info("templates upserted", extra={"templates": [t.name for t in parsed]})
    return get_templates(sb)


def get_limits(sb: Sandbox) -> Reply:
    return json_reply(200, sb.limits.settings.to_json())


def put_limits(sb: Sandbox, raw: str | bytes) -> Reply:
    """Change some limit settings (others stay); buckets start full again."""
    try:
        sb.limits.configure(sb.limits.settings.updated(_object(raw)))
    except (ValueError, TypeError, AttributeError) as exc:
        return _bad(exc)
    log.info("limits changed", extra={"limits": sb.limits.settings.to_json()})
    return get_limits(sb)


def get_callbacks(sb: Sandbox) -> Reply:
    return json_reply(
        200,
        {
            "settings": sb.callbacks.settings.to_json(),
            "stats": sb.callbacks.stats.to_json(),
            "pending": sb.callbacks.pending,
        },
    )


def put_callbacks(sb: Sandbox, raw: str | bytes) -> Reply:
    """Change some callback settings (url, delays, retries...)."""
    try:
        sb.callbacks.configure(sb.callbacks.settings.updated(_object(raw)))
    except (ValueError, TypeError, AttributeError) as exc:
        return _bad(exc)
    log.info("callbacks changed", extra={"callbacks": sb.callbacks.settings.to_json()})
    return get_callbacks(sb)
