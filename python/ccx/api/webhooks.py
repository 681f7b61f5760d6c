"""/v1/webhook-endpoints and /v1/webhook-deliveries: the tenant's client endpoints and their
signing secrets, the record of every delivery, and manual replays (ARCHITECTURE §3, §7).

Secret values leave the API only in the answers to create and rotate-secret and from
`GET .../secret`. A replay is a notice to the delivery worker (`ccx.queue.hooks`), answered
202 once RabbitMQ confirmed it; deliveries are replayable for 30 days.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from ccx.api.guard import mongo_errors, unavailable
from ccx.api.http import ProblemError, Request, Response, invalid, iso, not_found
from ccx.api.openapi import operation, path_param, query_param
from ccx.api.validation import (
    compile_schema,
    query_int,
    query_time,
    query_value,
    strict_query,
    validate_body,
)
from ccx.auth import Scope
from ccx.ids import is_message_id
from ccx.ingest.schemas import (
    WEBHOOK_ENDPOINT,
    WEBHOOK_ENDPOINT_UPDATE,
    WEBHOOK_REPLAY,
    WEBHOOK_SECRET_ROTATION,
)
from ccx.native import generate_webhook_secret
from ccx.queue.hooks import HookNotifier
from ccx.store.messages import now_ms
from ccx.store.webhooks import (
    Delivery,
    DeliveryRepository,
    DeliveryStatus,
    Endpoint,
    EndpointRepository,
    EndpointVersions,
)
from ccx.webhooks.ssrf import AddressPolicy, BlockedDestination

if TYPE_CHECKING:
    from ccx.api.app import App

#: How long a delivery can be replayed after it was made.
REPLAY_WINDOW = timedelta(days=30)
#: Messages with a pending delivery walked again when their endpoint is re-enabled, at most.
RESUME_MAX = 10_000

log = logging.getLogger(__name__)

_ENDPOINT_PATTERN = "^ep_[0-9A-Z]{26}$"
_DELIVERY_PATTERN = "^whd_[0-9A-Z]{26}_[0-9]{1,10}_[0-9A-Z]{26}$"
_ENDPOINT_ID = re.compile(_ENDPOINT_PATTERN)
_DELIVERY_ID = re.compile(_DELIVERY_PATTERN)
_DELIVERY_QUERY = frozenset(
    {"message_id", "endpoint_id", "status", "from", "to", "limit", "before"}
)

_CREATE = compile_schema(WEBHOOK_ENDPOINT)
_UPDATE = compile_schema(WEBHOOK_ENDPOINT_UPDATE)
_ROTATE = compile_schema(WEBHOOK_SECRET_ROTATION)
_REPLAY = compile_schema(WEBHOOK_REPLAY)


def endpoint_json(endpoint: Endpoint, now: datetime) -> dict[str, Any]:
    """An endpoint without secret values; `secrets` are those that sign at `now`."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
        "secrets": [
            {"created_at": iso(s.created_at), "expires_at": iso(s.expires_at)}
            for s in endpoint.secrets
            if s.expires_at is None or s.expires_at > now
        ],
    }


def delivery_json(delivery: Delivery, *, full: bool = False) -> dict[str, Any]:
    """A delivery record; `full` adds the attempts' response bodies and the payload."""
    attempts = []
    for attempt in delivery.attempts:
        entry = {
            "at": iso(attempt["at"]),
            "status_code": attempt.get("status_code"),
            "latency_ms": attempt.get("latency_ms", 0.0),
            "error": attempt.get("error"),
        }
        if full:
            entry["body"] = attempt.get("body")
        attempts.append(entry)
    view = {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "message_id": delivery.message_id,
        "seq": delivery.seq,
        "event_id": delivery.event_id,
        "type": delivery.type,
        "status": str(delivery.status),
        "attempt_count": delivery.attempt_count,
        "created_at": iso(delivery.created_at),
        "next_at": iso(delivery.next_at),
        "delivered_at": iso(delivery.delivered_at),
        "attempts": attempts,
    }
    if full:
        try:
            view["payload"] = orjson.loads(delivery.body)
        except orjson.JSONDecodeError:
            view["payload"] = None
    return view


def _path_id(request: Request, name: str, pattern: re.Pattern[str], what: str) -> str:
    value = request.path_params[name]
    if not pattern.match(value):
        raise not_found(f"No {what} {value!r}.")
    return value


def _endpoint_unavailable(endpoint_id: str, state: str) -> ProblemError:
    # The worker skips replays to such endpoints: say so instead of a 202 that does nothing.
    return ProblemError(
        409,
        "Conflict",
        f"Webhook endpoint {endpoint_id!r} is {state}; only deliveries to enabled endpoints "
        "can be replayed (enable it with PATCH first).",
        kind="webhook-endpoint-unavailable",
    )


class WebhookRoutes:
    """Handlers of the client-webhook routes, bound to one app."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.services = app.services
        self.policy = AddressPolicy.from_setting(app.settings.webhooks.allow_networks)

    def endpoints(self, tenant: str) -> EndpointRepository:
        return EndpointRepository(self.services.database(tenant), tenant, self.services.data_keys)

    async def changed(self, tenant: str) -> None:
        """Tell the delivery workers to re-read the tenant's endpoints now."""
        try:
            await EndpointVersions(self.services.redis).bump(tenant)
        except Exception as exc:  # they re-read within webhooks.endpoint_refresh_s anyway
            log.warning("endpoint change of %s not announced: %r", tenant, exc)

    def deliveries(self, tenant: str) -> DeliveryRepository:
        return DeliveryRepository(self.services.database(tenant))

    def check_url(self, url: str) -> None:
        try:
            self.policy.check_url(url)
        except BlockedDestination as exc:
            why = f"{exc} (only the setting `webhooks.allow_networks` can allow it)"
            raise invalid([("/url", why)]) from None
        except ValueError as exc:
            raise invalid([("/url", str(exc))]) from None

    def fields(self, body: dict[str, Any]) -> dict[str, Any]:
        """The checked fields of a create or update body, ready for the repository."""
        if "url" in body:
            self.check_url(body["url"])
        if "description" in body:
            body["description"] = body["description"] or None
        return body

    async def notify(self, tenant: str, delivery_ids: list[str]) -> None:
        publisher = self.services.publisher
        if publisher is None or not publisher.ready:
            raise unavailable("rabbitmq", 2, self.services.rabbit_error)
        try:
            await HookNotifier(publisher).replay(tenant, delivery_ids)
        except Exception as exc:
            raise unavailable("rabbitmq", 2, type(exc).__name__) from None

    # -- endpoints ------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_WRITE)
        body = self.fields(validate_body(_CREATE, request.body))
        secret = generate_webhook_secret()
        with mongo_errors("webhook endpoint store"):
            endpoint = await self.endpoints(principal.tenant).create(
                body["url"],
                secret,
                body.get("events", ()),
                body.get("description"),
                body.get("enabled", True),
            )
        await self.changed(principal.tenant)
        location = [("location", f"/v1/webhook-endpoints/{endpoint.id}")]
        return Response.json(201, {**endpoint_json(endpoint, now_ms()), "secret": secret}, location)

    async def list_endpoints(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_READ)
        strict_query(request.query_string, frozenset())
        with mongo_errors("webhook endpoint store"):
            endpoints = await self.endpoints(principal.tenant).list()
        now = now_ms()
        return Response.json(200, {"data": [endpoint_json(e, now) for e in endpoints]})

    async def _endpoint(self, request: Request, tenant: str) -> Endpoint:
        endpoint_id = _path_id(request, "endpoint_id", _ENDPOINT_ID, "webhook endpoint")
        with mongo_errors("webhook endpoint store"):
            endpoint = await self.endpoints(tenant).get(endpoint_id)
        if endpoint is None:
            raise not_found(f"No webhook endpoint {endpoint_id!r}.")
        return endpoint

    async def get(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_READ)
        endpoint = await self._endpoint(request, principal.tenant)
        return Response.json(200, endpoint_json(endpoint, now_ms()))

    async def update(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_WRITE)
        endpoint_id = _path_id(request, "endpoint_id", _ENDPOINT_ID, "webhook endpoint")
        changes = self.fields(validate_body(_UPDATE, request.body))
        with mongo_errors("webhook endpoint store"):
            before = await self.endpoints(principal.tenant).get(endpoint_id)
            endpoint = await self.endpoints(principal.tenant).update(endpoint_id, **changes)
        if endpoint is None or before is None:
            raise not_found(f"No webhook endpoint {endpoint_id!r}.")
        await self.changed(principal.tenant)
        if endpoint.enabled and not before.enabled:
            await self.resume(principal.tenant, endpoint.id)
        return Response.json(200, endpoint_json(endpoint, now_ms()))

    async def resume(self, tenant: str, endpoint_id: str) -> None:
        """A re-enabled endpoint picks up where it stopped: every message with a delivery
        to it left pending is walked again (a lost notice is logged: the message's next
        change or a replay makes up for it)."""
        with mongo_errors("webhook delivery store"):
            pending = await self.deliveries(tenant).page(
                endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, limit=RESUME_MAX
            )
        messages = list(dict.fromkeys(d.message_id for d in pending))
        publisher = self.services.publisher
        if not messages or publisher is None:
            return
        try:
            await HookNotifier(publisher).resume(tenant, endpoint_id, messages)
        except Exception as exc:
            log.warning("resume of endpoint %s not queued: %r", endpoint_id, exc)

    async def delete(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_WRITE)
        endpoint_id = _path_id(request, "endpoint_id", _ENDPOINT_ID, "webhook endpoint")
        with mongo_errors("webhook endpoint store"):
            deleted = await self.endpoints(principal.tenant).delete(endpoint_id)
        if not deleted:
            raise not_found(f"No webhook endpoint {endpoint_id!r}.")
        await self.changed(principal.tenant)
        return Response(204)

    async def rotate(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_WRITE)
        endpoint_id = _path_id(request, "endpoint_id", _ENDPOINT_ID, "webhook endpoint")
        body: dict[str, Any] = validate_body(_ROTATE, request.body) if request.body else {}
        overlap_s = body.get("overlap_s", self.app.settings.webhooks.secret_overlap_s)
        secret = generate_webhook_secret()
        with mongo_errors("webhook endpoint store"):
            endpoint = await self.endpoints(principal.tenant).rotate(endpoint_id, secret, overlap_s)
        if endpoint is None:
            raise not_found(f"No webhook endpoint {endpoint_id!r}.")
        await self.changed(principal.tenant)
        return Response.json(200, {**endpoint_json(endpoint, now_ms()), "secret": secret})

    async def secret(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_WRITE)
        endpoint = await self._endpoint(request, principal.tenant)
        # The store keeps the current secret first (then any still in overlap).
        return Response.json(200, {"secret": endpoint.secrets[0].secret})

    # -- deliveries -----------------------------------------------------------------------------

    async def list_deliveries(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_READ)
        query = strict_query(request.query_string, _DELIVERY_QUERY)
        errors: list[tuple[str, str]] = []
        message_id = query_value(query, "message_id")
        if message_id is not None and not is_message_id(message_id):
            errors.append(("?message_id", "must be a message id (msg_ and 26 characters)"))
        endpoint_id = query_value(query, "endpoint_id")
        if endpoint_id is not None and not _ENDPOINT_ID.match(endpoint_id):
            errors.append(("?endpoint_id", "must be an endpoint id (ep_ and 26 characters)"))
        status = query_value(query, "status")
        if status is not None and status not in {str(s) for s in DeliveryStatus}:
            errors.append(("?status", "must be one of pending, delivered, failed"))
        before = query_value(query, "before")
        if before is not None and not _DELIVERY_ID.match(before):
            errors.append(("?before", "must be the next_before of a page (a delivery id)"))
        if errors:
            raise invalid(errors)
        created_from, created_to = query_time(query, "from"), query_time(query, "to")
        limit = query_int(query, "limit", 100, 1, 1000)
        with mongo_errors("webhook delivery store"):
            page = await self.deliveries(principal.tenant).page(
                message_id=message_id,
                endpoint_id=endpoint_id,
                status=DeliveryStatus(status) if status else None,
                created_from=created_from,
                created_to=created_to,
                before=before,
                limit=limit,
            )
        next_before = page[-1].id if len(page) == limit else None
        data = [delivery_json(d) for d in page]
        return Response.json(200, {"data": data, "next_before": next_before})

    async def _delivery(self, request: Request, tenant: str) -> Delivery:
        delivery_id = _path_id(request, "delivery_id", _DELIVERY_ID, "webhook delivery")
        with mongo_errors("webhook delivery store"):
            delivery = await self.deliveries(tenant).get(delivery_id)
        if delivery is None:
            raise not_found(f"No webhook delivery {delivery_id!r}.")
        return delivery

    async def get_delivery(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_READ)
        delivery = await self._delivery(request, principal.tenant)
        return Response.json(200, delivery_json(delivery, full=True))

    async def replay(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_WRITE)
        delivery = await self._delivery(request, principal.tenant)
        if delivery.created_at < now_ms() - REPLAY_WINDOW:
            raise not_found(
                f"Webhook delivery {delivery.id!r} was made more than 30 days ago; "
                "deliveries are replayable for 30 days."
            )
        with mongo_errors("webhook endpoint store"):
            endpoint = await self.endpoints(principal.tenant).get(delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            state = "deleted" if endpoint is None else "disabled"
            raise _endpoint_unavailable(delivery.endpoint_id, state)
        await self.notify(principal.tenant, [delivery.id])
        return Response.json(202, {"id": delivery.id, "status": "replay_queued"})

    async def replay_message(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.WEBHOOKS_WRITE)
        message_id = request.path_params["message_id"]
        body: dict[str, Any] = validate_body(_REPLAY, request.body) if request.body else {}
        endpoint_id = body.get("endpoint_id")
        tenant = principal.tenant
        with mongo_errors("message store"):
            message = (
                await self.services.messages(tenant).get(message_id)
                if is_message_id(message_id)
                else None
            )
        if message is None:
            # The same answer for another tenant's id and for no id at all: nothing leaks.
            raise not_found(f"No message {message_id!r}.")
        since = now_ms() - REPLAY_WINDOW
        with mongo_errors("webhook delivery store"):
            endpoints = {e.id: e for e in await self.endpoints(tenant).list()}
            deliveries = await self.deliveries(tenant).of_message(message_id)
        if endpoint_id is not None:
            chosen = endpoints.get(endpoint_id)
            if chosen is None:
                raise not_found(f"No webhook endpoint {endpoint_id!r}.")
            if not chosen.enabled:
                raise _endpoint_unavailable(endpoint_id, "disabled")
        enabled = {e.id for e in endpoints.values() if e.enabled}
        ids = [
            d.id
            for d in deliveries
            if d.endpoint_id in enabled
            and d.created_at >= since
            and (endpoint_id is None or d.endpoint_id == endpoint_id)
        ]
        if ids:
            await self.notify(tenant, ids)
        return Response.json(202, {"message_id": message_id, "deliveries": ids})


def register_webhook_routes(app: App) -> None:
    """The /v1/webhook-endpoints, /v1/webhook-deliveries and replay routes."""
    routes = WebhookRoutes(app)
    write, read = [str(Scope.WEBHOOKS_WRITE)], [str(Scope.WEBHOOKS_READ)]
    endpoint_id = [path_param("endpoint_id", _ENDPOINT_PATTERN)]
    delivery_id = [path_param("delivery_id", _DELIVERY_PATTERN)]
    endpoints, endpoint = "/v1/webhook-endpoints", "/v1/webhook-endpoints/{endpoint_id}"
    add = app.router.add

    add(
        "POST",
        endpoints,
        routes.create,
        "webhook-endpoints.create",
        doc=operation(
            "Add a webhook endpoint; the answer holds its signing secret",
            scopes=write,
            body="WebhookEndpointRequest",
            ok={201: "WebhookEndpointWithSecret"},
            headers={201: ["location"]},
        ),
    )
    add(
        "GET",
        endpoints,
        routes.list_endpoints,
        "webhook-endpoints.list",
        doc=operation(
            "The tenant's webhook endpoints, newest first",
            scopes=read,
            ok={200: "WebhookEndpointList"},
            errors=(422,),
        ),
    )
    add(
        "GET",
        endpoint,
        routes.get,
        "webhook-endpoints.get",
        doc=operation(
            "One webhook endpoint",
            scopes=read,
            ok={200: "WebhookEndpoint"},
            errors=(404,),
            params=endpoint_id,
        ),
    )
    add(
        "PATCH",
        endpoint,
        routes.update,
        "webhook-endpoints.update",
        doc=operation(
            "Change an endpoint's URL, events, description or enabled flag",
            scopes=write,
            body="WebhookEndpointUpdate",
            ok={200: "WebhookEndpoint"},
            errors=(404,),
            params=endpoint_id,
        ),
    )
    add(
        "DELETE",
        endpoint,
        routes.delete,
        "webhook-endpoints.delete",
        doc=operation(
            "Delete a webhook endpoint",
            scopes=write,
            ok={204: None},
            errors=(404,),
            params=endpoint_id,
        ),
    )
    add(
        "POST",
        endpoint + "/rotate-secret",
        routes.rotate,
        "webhook-endpoints.rotate-secret",
        doc=operation(
            "Replace the signing secret; the old one keeps signing for `overlap_s`",
            scopes=write,
            body="WebhookSecretRotation",
            ok={200: "WebhookEndpointWithSecret"},
            errors=(404,),
            params=endpoint_id,
        ),
    )
    add(
        "GET",
        endpoint + "/secret",
        routes.secret,
        "webhook-endpoints.secret",
        doc=operation(
            "The endpoint's current signing secret",
            scopes=write,
            ok={200: "WebhookSecret"},
            errors=(404,),
            params=endpoint_id,
        ),
    )
    add(
        "GET",
        "/v1/webhook-deliveries",
        routes.list_deliveries,
        "webhook-deliveries.list",
        doc=operation(
            "Delivery records, newest message first (attempts without response bodies)",
            scopes=read,
            ok={200: "WebhookDeliveryPage"},
            errors=(400, 422),
            params=[
                query_param("message_id", {"type": "string", "pattern": "^msg_[0-9A-Z]{26}$"}),
                query_param("endpoint_id", {"type": "string", "pattern": _ENDPOINT_PATTERN}),
                query_param("status", {"enum": [str(s) for s in DeliveryStatus]}),
                query_param("from", {"type": "string", "format": "date-time"}, "made at or after"),
                query_param("to", {"type": "string", "format": "date-time"}, "made before"),
                query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                query_param(
                    "before",
                    {"type": "string", "pattern": _DELIVERY_PATTERN},
                    "`next_before` of the previous page",
                ),
            ],
        ),
    )
    add(
        "GET",
        "/v1/webhook-deliveries/{delivery_id}",
        routes.get_delivery,
        "webhook-deliveries.get",
        doc=operation(
            "One delivery with its attempts and payload",
            scopes=read,
            ok={200: "WebhookDelivery"},
            errors=(404,),
            params=delivery_id,
        ),
    )
    add(
        "POST",
        "/v1/webhook-deliveries/{delivery_id}/replay",
        routes.replay,
        "webhook-deliveries.replay",
        doc=operation(
            "Send a delivery once more (within 30 days)",
            scopes=write,
            ok={202: "WebhookReplayQueued"},
            errors=(404, 409),
            params=delivery_id,
        ),
    )
    add(
        "POST",
        "/v1/messages/{message_id}/replay-webhooks",
        routes.replay_message,
        "messages.replay-webhooks",
        doc=operation(
            "Send every delivery of a message once more (within 30 days)",
            scopes=write,
            body="WebhookReplayRequest",
            ok={202: "WebhookMessageReplay"},
            errors=(404, 409),
            params=[path_param("message_id")],
        ),
    )
