"""/v1/messages: accept (one or a batch), read, list and cancel messages (ARCHITECTURE §3)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from ccx._native import ValidationError
from ccx.api.guard import accept_problem, unavailable
from ccx.api.http import (
    ProblemError,
    Request,
    Response,
    bad_request,
    invalid,
    iso,
    not_found,
)
from ccx.api.openapi import header_param, operation, path_param, query_param
from ccx.api.validation import (
    body_problem,
    check_storable,
    compile_schema,
    is_parse_error,
    query_int,
    query_time,
    query_value,
    strict_query,
    validate_body,
)
from ccx.auth import Principal, Scope
from ccx.ids import is_message_id
from ccx.ingest.accept import Accepted, AcceptItem, GroupCommitter
from ccx.ingest.errors import AcceptError
from ccx.ingest.schemas import MESSAGE, MESSAGE_BATCH, METADATA_MAX_BYTES
from ccx.ingest.senders import UnknownSender
from ccx.ingest.templates import TemplateRejected
from ccx.queue.hooks import HookNotifier
from ccx.store.messages import Message, Status
from ccx.store.transitions import Transitions
from ccx.telemetry.tracing import current_trace

if TYPE_CHECKING:
    from ccx.api.app import App

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_KEY_CHARS = 255
#: States a message can be cancelled from: it has not been handed to Meta yet.
CANCELLABLE = (Status.ACCEPTED, Status.QUEUED, Status.RETRYING, Status.RECONCILING)

TIME = {"type": "string", "format": "date-time"}
LIST_PARAMS = frozenset({"status", "from", "to", "limit", "cursor"})
MESSAGE_SCHEMA = compile_schema(MESSAGE)
BATCH_SCHEMA = compile_schema(MESSAGE_BATCH)


def accepted_body(accepted: Accepted) -> dict[str, Any]:
    return {
        "id": accepted.id,
        "status": accepted.status,
        "created_at": iso(accepted.created_at),
    }


def message_view(message: Message, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The public representation of a message (and its transitions when given)."""
    view: dict[str, Any] = {
        "id": message.id,
        "status": str(message.status),
        "to": message.to,
        "from": message.sender,
        "type": message.type,
        "priority": message.priority,
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
        "attempts": message.attempt,
        "wamid": message.wamid,
        "metadata": message.metadata,
        "on_ambiguous": message.on_ambiguous,
    }
    if message.template is not None:
        view["template"] = message.template
    if message.text is not None:
        view["text"] = message.text
    if message.idempotency_key is not None:
        view["idempotency_key"] = message.idempotency_key
    for name in ("pricing", "error", "sent_at", "delivered_at", "read_at", "cancelled_at"):
        value = message.extra.get(name)
        if value is not None:
            view[name] = iso(value) if isinstance(value, datetime) else value
    if events is not None:
        view["events"] = [
            {
                "seq": e["seq"],
                "from": e.get("from"),
                "to": e["to"],
                "at": iso(e["at"]),
                **{k: e[k] for k in ("code", "reason", "attempt") if e.get(k) is not None},
            }
            for e in events
        ]
    return view


class MessageRoutes:
    """Handlers of the /v1/messages routes, bound to one app."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.services = app.services

    def _committer(self) -> GroupCommitter:
        committer = self.services.committer
        publisher = self.services.publisher
        if publisher is None or not publisher.ready:
            raise unavailable("rabbitmq", 2, self.services.rabbit_error)
        if committer is None:  # connected, still registering as a writer in MongoDB
            raise unavailable("mongodb", 2, "the writer watermark is not registered yet")
        return committer

    async def _prepare(
        self, principal: Principal, body: Mapping[str, Any], key: str | None, prefix: str = ""
    ) -> AcceptItem:
        """Checks beyond the schema (metadata size, template, sender) and the resolved
        priority and sender; raises ProblemError (422 with paths under `prefix`, or 503)."""
        errors: list[tuple[str, str]] = []
        metadata = body.get("metadata")
        if metadata is not None and len(orjson.dumps(metadata)) > METADATA_MAX_BYTES:
            errors.append((f"{prefix}/metadata", f"larger than {METADATA_MAX_BYTES} bytes as JSON"))
        field_key = body.get("idempotency_key")
        if key is not None and field_key is not None and key != field_key:
            errors.append((f"{prefix}/idempotency_key", "differs from the Idempotency-Key header"))
        tenant = principal.tenant
        priority: str | None = None
        sender: str | None = None
        try:
            if body["type"] == "template":
                registered = await self.services.templates.check(tenant, body["template"])
                priority = str(registered.priority)
            sender = await self.services.senders.resolve(tenant, body.get("from"))
        except TemplateRejected as exc:
            errors += [(prefix + path, message) for path, message in exc.errors]
        except UnknownSender as exc:
            errors.append((prefix + exc.path, exc.message))
        except Exception as exc:
            log.warning("template or sender lookup failed: %r", exc)
            raise unavailable("mongodb") from None
        if errors:
            raise invalid(errors)
        ctx = current_trace.get()
        return AcceptItem(
            tenant,
            body,
            idempotency_key=key or field_key,
            traceparent=ctx.header() if ctx else None,
            priority=priority,
            sender=sender,
        )

    async def create(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.MESSAGES_WRITE)
        key = _header_key(request)
        body = validate_body(MESSAGE_SCHEMA, request.body)
        committer = self._committer()
        item = await self._prepare(principal, body, key)
        accepted = await committer.submit(item)
        headers = [("location", f"/v1/messages/{accepted.id}")]
        if accepted.replayed:
            headers.append(("idempotent-replayed", "true"))
        return Response.json(202, accepted_body(accepted), headers)

    async def create_batch(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.MESSAGES_WRITE)
        key = _header_key(request)
        document, items_errors = parse_batch(request.body)
        check_storable(document)
        committer = self._committer()
        messages: list[Any] = document["messages"]

        async def one(index: int, body: Any) -> dict[str, Any]:
            if index in items_errors:
                return _item_failure(index, invalid(items_errors[index]))
            item_key = body.get("idempotency_key") or (f"{key}:{index}" if key else None)
            try:
                item = await self._prepare(principal, body, None, f"/messages/{index}")
                if item_key and not item.idempotency_key:
                    item = AcceptItem(
                        item.tenant,
                        item.request,
                        item_key,
                        item.traceparent,
                        item.priority,
                        item.sender,
                    )
                accepted = await committer.submit(item)
            except ProblemError as exc:
                return _item_failure(index, exc)
            except AcceptError as exc:
                return _item_failure(index, accept_problem(exc))
            result = {"index": index, "http_status": 202, **accepted_body(accepted)}
            if accepted.replayed:
                result["replayed"] = True
            return result

        results = await asyncio.gather(*(one(i, body) for i, body in enumerate(messages)))
        accepted_count = sum(1 for r in results if r["http_status"] == 202)
        return Response.json(
            207,
            {
                "accepted": accepted_count,
                "rejected": len(results) - accepted_count,
                "results": results,
            },
        )

    async def get(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.MESSAGES_READ)
        message_id = request.path_params["id"]
        repo = self.services.messages(principal.tenant)
        try:
            message = await repo.get(message_id) if is_message_id(message_id) else None
            if message is None:
                raise _missing(message_id)
            events = await repo.history(message)
        except ProblemError:
            raise
        except Exception as exc:
            log.warning("message read failed: %r", exc)
            raise unavailable("mongodb") from None
        return Response.json(200, message_view(message, events))

    async def list(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.MESSAGES_READ)
        query = strict_query(request.query_string, LIST_PARAMS)
        status = query_value(query, "status")
        if status is not None and status not in {str(s) for s in Status}:
            allowed = ", ".join(str(s) for s in Status)
            raise invalid([("?status", f"must be one of {allowed}")])
        created_from, created_to = query_time(query, "from"), query_time(query, "to")
        limit = query_int(query, "limit", 50, 1, 1000)
        cursor = query_value(query, "cursor")
        repo = self.services.messages(principal.tenant)
        try:
            page, next_cursor = await repo.list(status, created_from, created_to, limit, cursor)
        except ValueError:
            raise invalid([("?cursor", "is not a cursor this API returned")]) from None
        except Exception as exc:
            log.warning("message list failed: %r", exc)
            raise unavailable("mongodb") from None
        return Response.json(
            200, {"data": [message_view(m) for m in page], "next_cursor": next_cursor}
        )

    async def cancel(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.MESSAGES_WRITE)
        message_id = request.path_params["id"]
        if not is_message_id(message_id):
            raise _missing(message_id)
        repo = self.services.messages(principal.tenant)
        ctx = current_trace.get()
        try:
            changed = await Transitions(repo).transition(
                message_id,
                CANCELLABLE,
                Status.CANCELLED,
                ctx.trace_id if ctx else None,
            )
            message = changed or await repo.get(message_id)
        except Exception as exc:
            log.warning("cancel failed: %r", exc)
            raise unavailable("mongodb") from None
        if message is None:
            raise _missing(message_id)
        await HookNotifier(self.services.publisher).try_changed(principal.tenant, [message_id])
        if message.status is not Status.CANCELLED:
            problem = ProblemError(
                409,
                "Conflict",
                f"message {message_id} is {message.status}; only messages not yet handed to "
                "Meta (accepted, queued, retrying, reconciling) can be cancelled.",
                kind="not-cancellable",
            )
            problem.extra["status"] = str(message.status)
            raise problem
        return Response.json(200, message_view(message))


def parse_batch(body: bytes) -> tuple[dict[str, Any], dict[int, list[tuple[str, str]]]]:
    """The batch document and the schema errors of each bad item (by index). Errors outside
    the items (not an object, no list, too many) reject the whole request."""
    if not body:
        raise bad_request("The request body is empty; send a JSON document.")
    try:
        return BATCH_SCHEMA.validate(body), {}
    except ValidationError as exc:
        errors = exc.errors
    if is_parse_error(errors):
        raise body_problem(errors)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:  # valid JSON orjson refuses (a huge integer)
        raise invalid(errors) from None
    by_item: dict[int, list[tuple[str, str]]] = {}
    whole = []
    for path, message in errors:
        index = _item_index(path)
        if index is None or not isinstance(document, dict):
            whole.append((path, message))
        else:
            by_item.setdefault(index, []).append((path, message))
    if whole or not isinstance(document.get("messages"), list):
        raise invalid(whole or errors)
    return document, by_item


def _missing(message_id: str) -> ProblemError:
    # The same answer for another tenant's id and for no id at all: nothing leaks.
    return not_found(f"No message {message_id!r}.")


def _header_key(request: Request) -> str | None:
    key = request.header(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_CHARS or not key.isprintable():
        raise bad_request(
            f"The Idempotency-Key header must be 1 to {MAX_KEY_CHARS} printable characters."
        )
    return key


def _item_index(path: str) -> int | None:
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "messages" and parts[2].isdigit():
        return int(parts[2])
    return None


def _item_failure(index: int, problem: ProblemError) -> dict[str, Any]:
    members = {k: v for k, v in problem.document().items() if k != "status"}
    return {"index": index, "http_status": problem.status, **members}


def register_message_routes(app: App) -> None:
    """Register the v1 message routes."""
    routes = MessageRoutes(app)
    write, read = [str(Scope.MESSAGES_WRITE)], [str(Scope.MESSAGES_READ)]
    key = header_param(
        "Idempotency-Key",
        {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS},
        "Same key and body within 7 days → the original answer (`idempotent-replayed: true`).",
    )
    message_id = path_param("id")
    add = app.router.add
    add(
        "POST",
        "/v1/messages",
        routes.create,
        "messages.create",
        doc=operation(
            "Accept one message",
            scopes=write,
            body="MessageRequest",
            ok={202: "MessageAccepted"},
            errors=(409,),
            params=[key],
            headers={202: ["location", "idempotent-replayed"]},
        ),
    )
    add(
        "GET",
        "/v1/messages",
        routes.list,
        "messages.list",
        doc=operation(
            "List messages, newest first",
            scopes=read,
            ok={200: "MessagePage"},
            errors=(400, 422),
            params=[
                query_param("status", {"enum": [str(s) for s in Status]}),
                query_param(
                    "from", {"type": "string", "format": "date-time"}, "created at or after"
                ),
                query_param("to", {"type": "string", "format": "date-time"}, "created before"),
                query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                query_param("cursor", {"type": "string"}, "`next_cursor` of the previous page"),
            ],
        ),
    )
    add(
        "POST",
        "/v1/messages/batch",
        routes.create_batch,
        "messages.batch",
        max_body=app.settings.api.max_batch_body_bytes,
        doc=operation(
            "Accept up to 1,000 messages; per-item results",
            scopes=write,
            body="MessageBatchRequest",
            ok={207: "BatchResult"},
            params=[key],
        ),
    )
    add(
        "GET",
        "/v1/messages/{id}",
        routes.get,
        "messages.get",
        doc=operation(
            "A message with its transitions",
            scopes=read,
            ok={200: "Message"},
            errors=(404,),
            params=[message_id],
        ),
    )
    add(
        "POST",
        "/v1/messages/{id}/cancel",
        routes.cancel,
        "messages.cancel",
        doc=operation(
            "Cancel a message not yet handed to Meta",
            scopes=write,
            ok={200: "Message"},
            errors=(404, 409),
            params=[message_id],
        ),
    )
