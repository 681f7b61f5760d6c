"""/v1/senders: the tenant's WhatsApp sender numbers (scope `admin`). Tokens are write-only.
`GET /v1/senders/{phone_number_id}/errors` lists what Meta reported about a number itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ccx.api.guard import mongo_errors
from ccx.api.http import ProblemError, Request, Response, invalid, iso, not_found
from ccx.api.openapi import operation, path_param, query_param
from ccx.api.validation import compile_schema, query_int, strict_query, validate_body
from ccx.auth import Scope
from ccx.ingest.schemas import SENDER
from ccx.store.number_errors import NumberErrorRecord, NumberErrorRepository
from ccx.store.senders import PHONE_NUMBER_ID, MissingFields, Sender

if TYPE_CHECKING:
    from ccx.api.app import App


_SCHEMA = compile_schema(SENDER)


def sender_json(sender: Sender) -> dict[str, Any]:
    """The public representation (`has_token`, never the token)."""
    return {
        "phone_number_id": sender.phone_number_id,
        "waba_id": sender.waba_id,
        "throughput": sender.throughput,
        "is_default": sender.is_default,
        "display_name": sender.display_name,
        "has_token": sender.has_token,
        "created_at": iso(sender.created_at),
        "updated_at": iso(sender.updated_at),
    }


def number_error_json(error: NumberErrorRecord) -> dict[str, Any]:
    return {
        "code": error.code,
        "title": error.title,
        "details": error.details,
        "at": iso(error.at),
    }


def _body(request: Request) -> dict[str, Any]:
    body: dict[str, Any] = validate_body(_SCHEMA, request.body)
    return body


def _phone_number_id(request: Request) -> str:
    value = request.path_params["phone_number_id"]
    if not PHONE_NUMBER_ID.match(value):
        raise not_found("A phone_number_id is 1 to 32 digits.")
    return value


def register_sender_routes(app: App) -> None:
    """Register PUT/GET/DELETE /v1/senders/{phone_number_id} and GET /v1/senders."""

    async def put(request: Request) -> Response:
        principal = await app.guard(request, Scope.ADMIN)
        phone_number_id = _phone_number_id(request)
        body = _body(request)
        repo = app.services.senders.repository(principal.tenant)
        try:
            with mongo_errors("sender store"):
                sender, created = await repo.put(phone_number_id, **body)
        except MissingFields as exc:
            raise invalid(
                [(f"/{name}", "required when registering a new sender") for name in exc.names]
            ) from None
        except LookupError:
            raise ProblemError(
                409, "Conflict", "The sender was deleted while being written; retry."
            ) from None
        finally:
            app.services.senders.invalidate(principal.tenant)
        if created:
            location = [("location", f"/v1/senders/{phone_number_id}")]
            return Response.json(201, sender_json(sender), location)
        return Response.json(200, sender_json(sender))

    async def list_senders(request: Request) -> Response:
        principal = await app.guard(request, Scope.ADMIN)
        with mongo_errors("sender store"):
            senders = await app.services.senders.repository(principal.tenant).list()
        return Response.json(200, {"data": [sender_json(s) for s in senders]})

    async def get(request: Request) -> Response:
        principal = await app.guard(request, Scope.ADMIN)
        phone_number_id = _phone_number_id(request)
        with mongo_errors("sender store"):
            sender = await app.services.senders.repository(principal.tenant).get(phone_number_id)
        if sender is None:
            raise not_found(f"No sender {phone_number_id}.")
        return Response.json(200, sender_json(sender))

    async def delete(request: Request) -> Response:
        principal = await app.guard(request, Scope.ADMIN)
        phone_number_id = _phone_number_id(request)
        repo = app.services.senders.repository(principal.tenant)
        try:
            with mongo_errors("sender store"):
                deleted = await repo.delete(phone_number_id)
        finally:
            app.services.senders.invalidate(principal.tenant)
        if not deleted:
            raise not_found(f"No sender {phone_number_id}.")
        return Response(204)

    async def errors(request: Request) -> Response:
        principal = await app.guard(request, Scope.ADMIN)
        phone_number_id = _phone_number_id(request)
        query = strict_query(request.query_string, frozenset({"limit"}))
        limit = query_int(query, "limit", 50, 1, 500)
        repo = NumberErrorRepository(app.services.database(principal.tenant))
        with mongo_errors("number error store"):
            found = await repo.recent(phone_number_id, limit)
        return Response.json(200, {"data": [number_error_json(e) for e in found]})

    path = "/v1/senders/{phone_number_id}"
    admin = [str(Scope.ADMIN)]
    number = [path_param("phone_number_id", "^[0-9]{1,32}$")]
    put_doc = operation(
        "Register or update a sender number",
        scopes=admin,
        body="SenderRequest",
        ok={200: "Sender", 201: "Sender"},
        errors=(404, 409),
        params=number,
    )
    app.router.add("PUT", path, put, "senders.put", doc=put_doc)
    list_doc = operation("The tenant's sender numbers", scopes=admin, ok={200: "SenderList"})
    app.router.add("GET", "/v1/senders", list_senders, "senders.list", doc=list_doc)
    get_doc = operation(
        "One sender number", scopes=admin, ok={200: "Sender"}, errors=(404,), params=number
    )
    app.router.add("GET", path, get, "senders.get", doc=get_doc)
    delete_doc = operation(
        "Remove a sender number", scopes=admin, ok={204: None}, errors=(404,), params=number
    )
    app.router.add("DELETE", path, delete, "senders.delete", doc=delete_doc)
    errors_doc = operation(
        "What Meta reported about a sender number itself, newest first",
        scopes=admin,
        ok={200: "NumberErrorList"},
        errors=(400, 404, 422),
        params=[*number, query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
    )
    app.router.add("GET", path + "/errors", errors, "senders.errors", doc=errors_doc)
