"""Request and response values, and RFC 9457 problem+json errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://ccx.dev/problems/"


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with milliseconds and `Z` (BSON dates come back naive, in UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Request:
    """An HTTP request after the body was read (bounded by the size limit)."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    request_id: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)


@dataclass(slots=True)
class Response:
    """A complete HTTP response."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = JSON

    @classmethod
    def json(cls, status: int, data: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
        return cls(status, orjson.dumps(data), list(headers))

    @classmethod
    def text(
        cls, status: int, text: str, content_type: str = "text/plain; charset=utf-8"
    ) -> Response:
        return cls(status, text.encode(), [], content_type)


class ProblemError(Exception):
    """Raised anywhere in a handler to answer with a problem+json document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        kind: str | None = None,
        errors: Sequence[tuple[str, str]] | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.errors = list(errors) if errors else None
        self.headers = list(headers)
        #: More members of the problem document (RFC 9457 extension members).
        self.extra: dict[str, Any] = {}

    def response(self, instance: str = "") -> Response:
        doc = self.document(instance)
        return Response(self.status, orjson.dumps(doc), list(self.headers), PROBLEM_JSON)

    def document(self, instance: str = "") -> dict[str, Any]:
        """The problem+json members (also embedded per item in batch results)."""
        doc: dict[str, Any] = {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if instance:
            doc["instance"] = instance
        if self.errors is not None:
            doc["errors"] = [{"path": p, "message": m} for p, m in self.errors]
        doc.update(self.extra)
        return doc


def not_found(detail: str = "No such resource.") -> ProblemError:
    return ProblemError(404, "Not Found", detail, kind="not-found")


def invalid(errors: Sequence[tuple[str, str]], detail: str = "") -> ProblemError:
    """422: the request is well-formed JSON but breaks the contract; `errors` are
    (JSON pointer into the request body, message)."""
    return ProblemError(
        422,
        "Unprocessable Content",
        detail or "The request does not match the schema; see `errors`.",
        kind="validation-error",
        errors=errors,
    )


def bad_request(detail: str, errors: Sequence[tuple[str, str]] | None = None) -> ProblemError:
    return ProblemError(400, "Bad Request", detail, kind="bad-request", errors=errors)
