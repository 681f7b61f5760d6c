"""The RSGI application: request ids, trace context, size limit, routing, errors, metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Any

from ccx.api.guard import Guard, accept_problem
from ccx.api.http import ProblemError, Request
from ccx.api.routing import Router
from ccx.api.services import Services
from ccx.config import Settings, load_settings
from ccx.heap import settle_after_startup
from ccx.ingest.errors import AcceptError
from ccx.telemetry.metrics import http_body_too_large_total, http_request_seconds
from ccx.telemetry.tracing import continue_or_start, current_trace

log = logging.getLogger("ccx.api")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(ProblemError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "Content Too Large",
            f"The request body exceeds the limit of {limit} bytes.",
            kind="content-too-large",
        )


async def read_body(proto: Any, headers: Any, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes before buffering them."""
    declared = headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ProblemError(400, "Bad Request", "Invalid Content-Length.") from None
        if size > limit:
            raise BodyTooLarge(limit)
        body: bytes = await proto()
        return body
    chunks: list[bytes] = []
    total = 0
    async for chunk in proto:
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class App:
    """The ccx HTTP API as an RSGI application (one instance per granian worker)."""

    def __init__(self, settings: Settings, router: Router, services: Services) -> None:
        self.settings = settings
        self.router = router
        self.services = services
        self.guard = Guard(services)
        self.max_body = settings.api.max_body_bytes

    async def startup(self) -> None:
        """Start the per-process clients' background tasks (never waits for a service)."""
        await self.services.start()

    async def shutdown(self) -> None:
        """Finish in-flight commits and close the clients."""
        await self.services.close()

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.startup())
        settle_after_startup()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.shutdown())

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        status, hdrs, body = await self.handle(scope, proto)
        proto.response_bytes(status, hdrs, body)

    async def handle(self, scope: Any, proto: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        """Serve one request; returns (status, headers, body)."""
        start = time.perf_counter()
        headers = scope.headers
        incoming_id = headers.get("x-request-id")
        request_id = (
            incoming_id if incoming_id and _REQUEST_ID.match(incoming_id) else os.urandom(8).hex()
        )
        trace = continue_or_start(headers.get("traceparent"))
        method, path = scope.method, scope.path
        route_name = "unmatched"
        try:
            route, params = self.router.resolve(method, path)
            route_name = route.name
            body = await read_body(proto, headers, route.max_body or self.max_body)
            request = Request(
                method,
                path,
                scope.query_string,
                headers,
                body,
                params,
                request_id,
            )
            response = await route.handler(request)
        except BodyTooLarge as exc:
            http_body_too_large_total.inc()
            response = exc.response(path)
        except ProblemError as exc:
            response = exc.response(path)
        except AcceptError as exc:
            response = accept_problem(exc).response(path)
        except Exception:
            log.exception("unhandled error", extra={"path": path, "request_id": request_id})
            response = ProblemError(
                500, "Internal Server Error", "An unexpected error occurred; it was logged."
            ).response(path)
        finally:
            current_trace.set(None)
        out = [
            ("content-type", response.content_type),
            ("x-request-id", request_id),
            ("traceparent", trace.header()),
            *response.headers,
        ]
        body_out = b"" if method == "HEAD" else response.body
        http_request_seconds.labels(route_name, method, str(response.status)).observe(
            time.perf_counter() - start
        )
        return response.status, out, body_out


def create_app(settings: Settings | None = None, services: Services | None = None) -> App:
    """Build the app with every route registered (granian calls this as a factory)."""
    from ccx.api.messages import register_message_routes
    from ccx.api.meta_webhooks import register_meta_webhook_routes
    from ccx.api.senders import register_sender_routes
    from ccx.api.suppressions import register_suppression_routes
    from ccx.api.system import register_system_routes
    from ccx.api.templates import register_template_routes
    from ccx.api.webhooks import register_webhook_routes

    settings = settings or load_settings()
    app = App(settings, Router(), services or Services(settings))
    register_system_routes(app)
    register_message_routes(app)
    register_template_routes(app)
    register_sender_routes(app)
    register_meta_webhook_routes(app)
    register_suppression_routes(app)
    register_webhook_routes(app)
    return app
