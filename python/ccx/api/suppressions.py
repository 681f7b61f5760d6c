"""/v1/suppressions: the tenant's opted-out recipients. The worker fails their messages
instead of sending them (within `dispatch.suppression_refresh_s` of a change)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ccx.api.guard import mongo_errors
from ccx.api.http import Request, Response, invalid, iso, not_found
from ccx.api.openapi import operation, path_param, query_param
from ccx.api.validation import (
    compile_schema,
    query_int,
    query_value,
    strict_query,
    validate_body,
)
from ccx.auth import Scope
from ccx.ingest.schemas import SUPPRESSION
from ccx.store.suppressions import RECIPIENT, Suppression, SuppressionRepository

if TYPE_CHECKING:
    from ccx.api.app import App


_SCHEMA = compile_schema(SUPPRESSION)
_PATTERN = "^[1-9][0-9]{6,14}$"


def suppression_json(suppression: Suppression) -> dict[str, Any]:
    return {
        "recipient": suppression.recipient,
        "reason": suppression.reason,
        "created_at": iso(suppression.created_at),
    }


def _recipient(request: Request) -> str:
    value = request.path_params["recipient"]
    if not RECIPIENT.match(value):
        raise not_found("A recipient is its E.164 number without '+': 7 to 15 digits.")
    return value


def register_suppression_routes(app: App) -> None:
    """PUT/GET/DELETE /v1/suppressions/{recipient} and GET /v1/suppressions."""

    def repository(tenant: str) -> SuppressionRepository:
        return SuppressionRepository(app.services.database(tenant))

    async def put(request: Request) -> Response:
        principal = await app.guard(request, Scope.MESSAGES_WRITE)
        recipient = _recipient(request)
        body: dict[str, Any] = validate_body(_SCHEMA, request.body) if request.body else {}
        with mongo_errors("suppression store"):
            suppression, created = await repository(principal.tenant).put(
                recipient, body.get("reason")
            )
        return Response.json(201 if created else 200, suppression_json(suppression))

    async def get(request: Request) -> Response:
        principal = await app.guard(request, Scope.MESSAGES_READ)
        recipient = _recipient(request)
        with mongo_errors("suppression store"):
            suppression = await repository(principal.tenant).get(recipient)
        if suppression is None:
            raise not_found(f"{recipient} is not suppressed.")
        return Response.json(200, suppression_json(suppression))

    async def delete(request: Request) -> Response:
        principal = await app.guard(request, Scope.MESSAGES_WRITE)
        recipient = _recipient(request)
        with mongo_errors("suppression store"):
            deleted = await repository(principal.tenant).delete(recipient)
        if not deleted:
            raise not_found(f"{recipient} is not suppressed.")
        return Response(204)

    async def list_all(request: Request) -> Response:
        principal = await app.guard(request, Scope.MESSAGES_READ)
        query = strict_query(request.query_string, frozenset({"limit", "after"}))
        limit = query_int(query, "limit", 100, 1, 1000)
        after = query_value(query, "after")
        if after is not None and not RECIPIENT.match(after):
            raise invalid([("?after", "must be a recipient (7 to 15 digits)")])
        with mongo_errors("suppression store"):
            page = await repository(principal.tenant).page(after, limit)
        next_after = page[-1].recipient if len(page) == limit else None
        data = [suppression_json(s) for s in page]
        return Response.json(200, {"data": data, "next_after": next_after})

    path = "/v1/suppressions/{recipient}"
    write, read = [str(Scope.MESSAGES_WRITE)], [str(Scope.MESSAGES_READ)]
    recipient = [path_param("recipient", _PATTERN)]
    add = app.router.add
    put_doc = operation(
        "Suppress a recipient (opt-out): its messages fail instead of being sent",
        scopes=write,
        body="SuppressionRequest",
        ok={200: "Suppression", 201: "Suppression"},
        errors=(404,),
        params=recipient,
    )
    add("PUT", path, put, "suppressions.put", doc=put_doc)
    get_doc = operation(
        "One suppression", scopes=read, ok={200: "Suppression"}, errors=(404,), params=recipient
    )
    add("GET", path, get, "suppressions.get", doc=get_doc)
    delete_doc = operation(
        "Lift a suppression", scopes=write, ok={204: None}, errors=(404,), params=recipient
    )
    add("DELETE", path, delete, "suppressions.delete", doc=delete_doc)
    list_doc = operation(
        "The tenant's suppressed recipients, in order",
        scopes=read,
        ok={200: "SuppressionList"},
        errors=(400, 422),
        params=[
            query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
            query_param("after", {"type": "string", "pattern": _PATTERN}, "next_after of a page"),
        ],
    )
    add("GET", "/v1/suppressions", list_all, "suppressions.list", doc=list_doc)
