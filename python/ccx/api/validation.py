"""Request bodies and query strings checked against the JSON Schemas (native validator)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson

from ccx._native import CompiledSchema, ValidationError
from ccx.api.http import ProblemError, bad_request, invalid
from ccx.ingest.schemas import schema_bytes

INVALID_JSON = "invalid JSON"


def compile_schema(schema: dict[str, Any]) -> CompiledSchema:
    return CompiledSchema(schema_bytes(schema))


def is_parse_error(errors: list[tuple[str, str]]) -> bool:
    return len(errors) == 1 and errors[0][0] == "" and errors[0][1].startswith(INVALID_JSON)


def validate_body(schema: CompiledSchema, body: bytes) -> Any:
    """The parsed body; 400 when it is not JSON, 422 with every field path when it breaks
    the schema."""
    if not body:
        raise bad_request("The request body is empty; send a JSON document.")
    try:
        document = schema.validate(body)
    except ValidationError as exc:
        raise body_problem(exc.errors) from None
    check_storable(document)
    return document


def check_storable(document: Any) -> None:
    """422 for numbers JSON allows but BSON and the idempotency fingerprint cannot hold
    (integers beyond 64 bits); one orjson pass, about a microsecond for a message."""
    try:
        orjson.dumps(document)
    except TypeError as exc:
        raise invalid([("", f"unsupported value: {exc}")]) from None


def body_problem(errors: list[tuple[str, str]]) -> ProblemError:
    if is_parse_error(errors):
        return bad_request(f"{errors[0][1]} (the body must be one JSON document).", errors)
    return invalid(errors)


def strict_query(query_string: str, allowed: frozenset[str]) -> dict[str, list[str]]:
    """The parsed query string; 422 naming every parameter the route does not know (a typo
    like `?stauts=` must not silently widen a listing)."""
    query = parse_qs(query_string, keep_blank_values=True)
    unknown = sorted(set(query) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise invalid(
            [(f"?{name}", f"unknown query parameter (known: {known})") for name in unknown]
        )
    return query


def query_value(query: dict[str, list[str]], name: str) -> str | None:
    """The single value of a query parameter (400 when it is repeated)."""
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad_request(f"Query parameter {name!r} is given more than once.")
    return values[0]


def query_int(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query_value(query, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise invalid([(f"?{name}", f"must be an integer from {low} to {high}")])
    return value


def query_time(query: dict[str, list[str]], name: str) -> datetime | None:
    """An RFC 3339 timestamp (a `Z` or offset; naive values are taken as UTC)."""
    raw = query_value(query, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise invalid([(f"?{name}", "must be an RFC 3339 timestamp")]) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
