"""/v1/templates: the tenant's template registry (checked at ingest, ARCHITECTURE §3)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from ccx._native import TemplateError
from ccx.api.guard import unavailable
from ccx.api.http import Request, Response, invalid, iso, not_found
from ccx.api.openapi import operation, path_param, query_param
from ccx.api.validation import compile_schema, query_value, strict_query, validate_body
from ccx.auth import Principal, Scope
from ccx.ingest.schemas import TEMPLATE
from ccx.ingest.templates import compile_definition
from ccx.store.templates import STATUSES, TemplateRecord

if TYPE_CHECKING:
    from ccx.api.app import App

log = logging.getLogger(__name__)

TEMPLATE_SCHEMA = compile_schema(TEMPLATE)
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


def template_view(record: TemplateRecord) -> dict[str, Any]:
    compiled = compile_definition(record.definition)
    return {
        "name": record.name,
        "language": record.language,
        "category": record.category,
        "status": record.status,
        "parameter_format": compiled.parameter_format,
        "placeholders": compiled.placeholders(),
        "definition": record.definition,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
    }


class TemplateRoutes:
    def __init__(self, app: App) -> None:
        self.app = app
        self.catalog = app.services.templates

    async def _reader(self, request: Request) -> Principal:
        # No `templates:read` scope exists: reading is allowed to template writers and to
        # clients that read messages (they need to know what they may send).
        principal = await self.app.guard(request)
        if not (principal.has(Scope.TEMPLATES_WRITE) or principal.has(Scope.MESSAGES_READ)):
            await self.app.guard(request, Scope.TEMPLATES_WRITE)  # raises the 403
        return principal

    async def put(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.TEMPLATES_WRITE)
        body = validate_body(TEMPLATE_SCHEMA, request.body)
        status = body.pop("status", "APPROVED")
        try:
            compile_definition(body)
        except TemplateError as exc:
            raise invalid([("", str(exc))], "The template definition is not usable.") from None
        repo = self.catalog.repository(principal.tenant)
        try:
            record, created = await repo.put(body, status)
        except Exception as exc:
            log.warning("template write failed: %r", exc)
            raise unavailable("mongodb") from None
        self.catalog.invalidate(principal.tenant, record.name, record.language)
        location = [("location", f"/v1/templates/{record.name}/{record.language}")]
        return Response.json(201 if created else 200, template_view(record), location)

    async def list(self, request: Request) -> Response:
        principal = await self._reader(request)
        query = strict_query(request.query_string, frozenset({"name", "status"}))
        name, status = query_value(query, "name"), query_value(query, "status")
        if name is not None and not _NAME.match(name):
            raise invalid([("?name", f"must match {_NAME.pattern}")])
        if status is not None and status not in STATUSES:
            raise invalid([("?status", f"must be one of {', '.join(STATUSES)}")])
        try:
            records = await self.catalog.repository(principal.tenant).list(name, status)
        except Exception as exc:
            log.warning("template list failed: %r", exc)
            raise unavailable("mongodb") from None
        return Response.json(200, {"data": [template_view(r) for r in records]})

    async def get(self, request: Request) -> Response:
        principal = await self._reader(request)
        name, language = _name_language(request)
        try:
            record = await self.catalog.repository(principal.tenant).get(name, language)
        except Exception as exc:
            log.warning("template read failed: %r", exc)
            raise unavailable("mongodb") from None
        if record is None:
            raise not_found(f"No template {name!r} in language {language!r}.")
        return Response.json(200, template_view(record))

    async def delete(self, request: Request) -> Response:
        principal = await self.app.guard(request, Scope.TEMPLATES_WRITE)
        name, language = _name_language(request)
        try:
            deleted = await self.catalog.repository(principal.tenant).delete(name, language)
        except Exception as exc:
            log.warning("template delete failed: %r", exc)
            raise unavailable("mongodb") from None
        self.catalog.invalidate(principal.tenant, name, language)
        if not deleted:
            raise not_found(f"No template {name!r} in language {language!r}.")
        return Response(204)


def _name_language(request: Request) -> tuple[str, str]:
    name, language = request.path_params["name"], request.path_params["language"]
    if not _NAME.match(name) or not _LANGUAGE.match(language):
        raise not_found(f"No template {name!r} in language {language!r}.")
    return name, language


def register_template_routes(app: App) -> None:
    routes = TemplateRoutes(app)
    write = [str(Scope.TEMPLATES_WRITE)]
    read = [f"{Scope.TEMPLATES_WRITE} or {Scope.MESSAGES_READ}"]
    one = [path_param("name", _NAME.pattern), path_param("language", _LANGUAGE.pattern)]
    add = app.router.add
    add(
        "POST",
        "/v1/templates",
        routes.put,
        "templates.put",
        doc=operation(
            "Register or replace a template",
            scopes=write,
            body="TemplateRequest",
            ok={200: "Template", 201: "Template"},
        ),
    )
    add(
        "GET",
        "/v1/templates",
        routes.list,
        "templates.list",
        doc=operation(
            "List the tenant's templates",
            scopes=read,
            ok={200: "TemplateList"},
            errors=(400, 422),
            params=[
                query_param("name", {"type": "string", "pattern": _NAME.pattern}),
                query_param("status", {"enum": list(STATUSES)}),
            ],
        ),
    )
    add(
        "GET",
        "/v1/templates/{name}/{language}",
        routes.get,
        "templates.get",
        doc=operation("One template", scopes=read, ok={200: "Template"}, errors=(404,), params=one),
    )
    add(
        "DELETE",
        "/v1/templates/{name}/{language}",
        routes.delete,
        "templates.delete",
        doc=operation("Remove a template", scopes=write, ok={204: None}, errors=(404,), params=one),
    )
