"""Meta's webhook endpoint: the verification handshake and status callbacks (reference §5).

A POST is checked against `X-Hub-Signature-256` (native HMAC over the raw bytes, before any
parsing), then queued as it came on `ccx.callbacks` with a publisher confirm, and only then
answered 200: a callback is never lost, and the status consumer (`ccx worker`) applies it.
RabbitMQ down → 503, and Meta retries for days.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aio_pika.abc import HeadersType

from ccx._native import verify_hub_signature
from ccx.api.guard import unavailable
from ccx.api.http import ProblemError, Request, Response
from ccx.api.openapi import operation, query_param
from ccx.queue.names import CALLBACKS_ROUTING_KEY
from ccx.telemetry.metrics import meta_webhooks_total
from ccx.telemetry.tracing import current_trace

if TYPE_CHECKING:
    from ccx.api.app import App


def register_meta_webhook_routes(app: App) -> None:
    meta = app.settings.meta
    secret = meta.app_secret.encode()

    async def verify(request: Request) -> Response:
        query = {k: v[0] for k, v in request.query().items() if v}
        if (
            query.get("hub.mode") == "subscribe"
            and query.get("hub.verify_token") == meta.verify_token
            and "hub.challenge" in query
        ):
            return Response.text(200, query["hub.challenge"])
        raise ProblemError(403, "Forbidden", "Wrong verify token or mode.", kind="forbidden")

    async def receive(request: Request) -> Response:
        header = request.header("x-hub-signature-256")
        if not verify_hub_signature(secret, request.body, header):
            meta_webhooks_total.labels("bad_signature").inc()
            raise ProblemError(
                401,
                "Unauthorized",
                "Missing or wrong X-Hub-Signature-256.",
                kind="bad-signature",
            )
        publisher = app.services.publisher
        if publisher is None:
            meta_webhooks_total.labels("unavailable").inc()
            raise unavailable("rabbitmq")
        context = current_trace.get()
        headers: HeadersType = {"traceparent": context.header()} if context else {}
        try:
            await publisher.publish_body(request.body, CALLBACKS_ROUTING_KEY, headers)
        except Exception as exc:
            meta_webhooks_total.labels("unavailable").inc()
            raise unavailable("rabbitmq", detail=type(exc).__name__) from exc
        meta_webhooks_total.labels("queued").inc()
        return Response.json(200, {"status": "queued"})

    add = app.router.add
    hub = [
        query_param(f"hub.{name}", {"type": "string"}, text)
        for name, text in (
            ("mode", "`subscribe`"),
            ("verify_token", "must equal `meta.verify_token`"),
            ("challenge", "echoed back"),
        )
    ]
    handshake = operation(
        "Meta webhook verification handshake", ok={200: None}, errors=[403], params=hub
    )
    handshake["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    handshake["security"] = []
    add("GET", "/webhooks/meta", verify, "meta-webhook-verify", doc=handshake)
    callback = operation(
        "Meta status callbacks (signed with X-Hub-Signature-256)",
        ok={200: "Any"},
        errors=[401, 413, 503],
    )
    callback["security"] = []
    add(
        "POST",
        "/webhooks/meta",
        receive,
        "meta-webhook",
        max_body=meta.max_callback_bytes,
        doc=callback,
    )
