"""The RSGI app's request handling, driven through `App.handle` with an in-memory protocol."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from ccx.api.app import create_app
from ccx.api.http import ProblemError, Request, Response
from ccx.config import ApiSettings, Settings

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Scope:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    query_string: str = ""
    proto: str = "http"


class Proto:
    def __init__(self, body: bytes = b"", chunks: int = 1) -> None:
        self.body = body
        self.chunks = chunks

    async def __call__(self) -> bytes:
        return self.body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        step = max(1, len(self.body) // self.chunks)
        for i in range(0, len(self.body), step):
            yield self.body[i : i + step]


def make_app(limit: int = 64) -> Any:
    app = create_app(Settings(api=ApiSettings(max_body_bytes=limit)))

    async def echo(request: Request) -> Response:
        return Response.json(200, {"len": len(request.body), "id": request.path_params.get("id")})

    async def boom(_: Request) -> Response:
        raise RuntimeError("secret internals")

    async def teapot(_: Request) -> Response:
        raise ProblemError(418, "Teapot", "short and stout", errors=[("/x", "bad")])

    app.router.add("POST", "/echo/{id}", echo, "echo")
    app.router.add("GET", "/boom", boom, "boom")
    app.router.add("GET", "/teapot", teapot, "teapot")
    return app


async def call(
    app: Any, scope: Scope, proto: Proto | None = None
) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = await app.handle(scope, proto or Proto())
    return status, dict(headers), body


async def test_healthz_has_request_id_and_traceparent() -> None:
    status, headers, body = await call(make_app(), Scope("GET", "/healthz"))
    assert status == 200
    assert orjson.loads(body)["status"] == "ok"
    assert len(headers["x-request-id"]) == 16
    assert headers["traceparent"].startswith("00-")


async def test_incoming_request_id_and_trace_are_continued() -> None:
    scope = Scope("GET", "/healthz", {"x-request-id": "abc-123", "traceparent": TRACEPARENT})
    _, headers, _ = await call(make_app(), scope)
    assert headers["x-request-id"] == "abc-123"
    assert headers["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
    assert headers["traceparent"].split("-")[2] != TRACEPARENT.split("-")[2]


async def test_hostile_request_id_is_replaced() -> None:
    _, headers, _ = await call(make_app(), Scope("GET", "/healthz", {"x-request-id": "a\nb"}))
    assert headers["x-request-id"] != "a\nb"


async def test_path_params_and_body() -> None:
    status, _, body = await call(make_app(), Scope("POST", "/echo/42"), Proto(b"12345"))
    assert (status, orjson.loads(body)) == (200, {"len": 5, "id": "42"})


@pytest.mark.parametrize(
    ("scope", "status", "kind"),
    [
        (Scope("GET", "/nope"), 404, "not-found"),
        (Scope("GET", "/echo/1"), 405, "method-not-allowed"),
        (Scope("POST", "/echo/1", {"content-length": "65"}), 413, "content-too-large"),
        (Scope("POST", "/echo/1", {"content-length": "x"}), 400, "bad-request"),
    ],
)
async def test_problems(scope: Scope, status: int, kind: str) -> None:
    got, headers, body = await call(make_app(), scope, Proto(b"x" * 65))
    doc = orjson.loads(body)
    assert got == status == doc["status"]
    assert headers["content-type"] == "application/problem+json"
    assert doc["type"].endswith("/" + kind)
    assert doc["instance"] == scope.path


async def test_chunked_body_over_limit_is_refused() -> None:
    status, _, _ = await call(make_app(), Scope("POST", "/echo/1"), Proto(b"x" * 200, chunks=10))
    assert status == 413


async def test_unhandled_error_is_a_500_problem_without_internals() -> None:
    status, _, body = await call(make_app(), Scope("GET", "/boom"))
    assert status == 500
    assert b"secret" not in body


async def test_problem_errors_carry_field_paths() -> None:
    status, _, body = await call(make_app(), Scope("GET", "/teapot"))
    assert status == 418
    assert orjson.loads(body)["errors"] == [{"path": "/x", "message": "bad"}]


async def test_head_has_no_body() -> None:
    status, _, body = await call(make_app(), Scope("HEAD", "/healthz"))
    assert (status, body) == (200, b"")


async def test_openapi_lists_routes_and_schemas() -> None:
    _, _, body = await call(make_app(), Scope("GET", "/openapi.json"))
    doc = orjson.loads(body)
    assert doc["openapi"] == "3.1.0"
    assert "get" in doc["paths"]["/healthz"]
    assert "MessageRequest" in doc["components"]["schemas"]


async def test_metrics_count_requests() -> None:
    app = make_app()
    await call(app, Scope("GET", "/healthz"))
    _, _, body = await call(app, Scope("GET", "/metrics"))
    assert b'ccx_http_request_seconds_count{method="GET",route="healthz",status="200"}' in body
