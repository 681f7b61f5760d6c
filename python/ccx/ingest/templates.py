"""Template checks at ingest: the template must be registered and approved, and the request's
variables must fit it (rendered with the native template engine), before anything is queued.
The template's category also gives the default priority."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pymongo.asynchronous.database import AsyncDatabase

from ccx._native import CompiledTemplate, HydrationError, TemplateError
from ccx.queue.names import Tier
from ccx.store.mongo import Document
from ccx.store.templates import TemplateRecord, TemplateRepository

#: Default priority by template category (ARCHITECTURE §3).
CATEGORY_PRIORITY: dict[str, Tier] = {
    "AUTHENTICATION": Tier.CRITICAL,
    "UTILITY": Tier.HIGH,
    "MARKETING": Tier.LOW,
}


class TemplateRejected(Exception):
    """422: the template is unknown or not sendable, or the variables do not fit.
    `errors` are (JSON pointer into the request body, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Registered:
    """A registered template, compiled once per process."""

    record: TemplateRecord
    compiled: CompiledTemplate

    @property
    def priority(self) -> Tier:
        return CATEGORY_PRIORITY.get(self.record.category, Tier.DEFAULT)


def compile_definition(definition: Mapping[str, Any]) -> CompiledTemplate:
    """Compile a template-management definition; TemplateError says what is wrong."""
    return CompiledTemplate(orjson.dumps(definition))


class TemplateCatalog:
    """Per-process cache of the tenants' compiled templates (short TTL: a change made through
    another process is seen within `ttl_s`; this process's own writes call `invalidate`)."""

    def __init__(
        self, database: Callable[[str], AsyncDatabase[Document]], ttl_s: float = 5.0
    ) -> None:
        self.database = database
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str, str], tuple[Registered | None, float]] = {}

    def repository(self, tenant: str) -> TemplateRepository:
        return TemplateRepository(self.database(tenant))

    def invalidate(self, tenant: str, name: str, language: str) -> None:
        self._cache.pop((tenant, name, language), None)

    async def lookup(self, tenant: str, name: str, language: str) -> Registered | None:
        """The template, or None when it is not registered (raises when MongoDB is down)."""
        key = (tenant, name, language)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        record = await self.repository(tenant).get(name, language)
        registered = None
        if record is not None:
            try:
                registered = Registered(record, compile_definition(record.definition))
            except TemplateError:  # stored before a stricter check: treat as unusable
                registered = None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (registered, now + self.ttl_s)
        return registered

    async def check(self, tenant: str, template: Mapping[str, Any]) -> Registered:
        """Raise TemplateRejected unless the request's `template` can be sent."""
        name, language = template["name"], template["language"]
        registered = await self.lookup(tenant, name, language)
        if registered is None:
            raise TemplateRejected(
                [("/template/name", f"no template {name!r} in language {language!r} is registered")]
            )
        if not registered.record.sendable:
            status = registered.record.status
            raise TemplateRejected(
                [("/template/name", f"template {name!r} ({language}) is {status}, not APPROVED")]
            )
        try:
            registered.compiled.render(template.get("variables") or {})
        except HydrationError as exc:
            raise TemplateRejected(
                [(f"/template/variables{path}", message) for path, message in exc.errors]
            ) from None
        return registered
