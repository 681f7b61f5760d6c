"""Operational endpoints: /healthz, /readyz, /metrics, /openapi.json, /docs."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import orjson

from ccx import __version__
from ccx.api.http import Request, Response
from ccx.api.openapi import openapi_document, operation
from ccx.telemetry.metrics import exposition

if TYPE_CHECKING:
    from ccx.api.app import App


def _docs_html(doc: dict[str, Any]) -> str:
    rows = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            summary = html.escape(str(op.get("summary", "")))
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td>"
                f"<td><code>{html.escape(path)}</code></td><td>{summary}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>ccx API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:.2em 1em}</style></head>"
        f"<body><h1>ccx API {html.escape(doc['info']['version'])}</h1>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI 3.1).</p>"
        f"<table>{''.join(rows)}</table></body></html>"
    )


def register_system_routes(app: App) -> None:
    async def healthz(_: Request) -> Response:
        return Response.json(200, {"status": "ok", "version": __version__})

    async def readyz(_: Request) -> Response:
        checks = await app.services.readiness()
        ready = all(check["ok"] for check in checks.values())
        down = [name for name, check in checks.items() if not check["ok"]]
        body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
        if down:
            body["unavailable"] = down
        return Response.json(200 if ready else 503, body, [] if ready else [("retry-after", "1")])

    async def metrics(_: Request) -> Response:
        body, content_type = exposition()
        return Response(200, body, [], content_type)

    async def openapi(_: Request) -> Response:
        return Response(200, orjson.dumps(openapi_document(app)))

    async def docs(_: Request) -> Response:
        return Response.text(200, _docs_html(openapi_document(app)), "text/html; charset=utf-8")

    add = app.router.add
    add("GET", "/healthz", healthz, "healthz", doc=operation("Liveness"))
    ready_doc = operation("Readiness: MongoDB, Redis and RabbitMQ", ok={200: "Any", 503: "Any"})
    add("GET", "/readyz", readyz, "readyz", doc=ready_doc)
    metrics_doc = operation("Prometheus metrics", ok={200: None})
    metrics_doc["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    add("GET", "/metrics", metrics, "metrics", doc=metrics_doc)
    add("GET", "/openapi.json", openapi, "openapi", doc=operation("This document"))
    docs_doc = operation("Rendered API reference", ok={200: None})
    docs_doc["responses"]["200"]["content"] = {"text/html": {"schema": {"type": "string"}}}
    add("GET", "/docs", docs, "docs", doc=docs_doc)
