"""The Cloud API request body of a stored message (reference §1.2, §1.3)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from pymongo.asynchronous.database import AsyncDatabase

from ccx._native import CompiledTemplate, HydrationError, TemplateError
from ccx.cache.local import LoadingCache
from ccx.store.messages import Message
from ccx.store.mongo import Document
from ccx.store.templates import TemplateRepository


class Unsendable(Exception):
    """The message cannot be turned into a request (its template went away, say): a terminal
    failure of the message, decided before anything is sent."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def opaque_data(message_id: str, attempt: int) -> str:
    """`biz_opaque_callback_data`: Meta echoes it in status callbacks, which is how an
    ambiguous attempt is resolved to the message and attempt it belongs to."""
    return f"{message_id}.{attempt}"


class TemplateCache:
    """Compiled template definitions per (tenant, name, language), kept `ttl_s` seconds;
    None for a template that is missing, not approved or no longer compiles."""

    def __init__(
        self, database: Callable[[str], AsyncDatabase[Document]], ttl_s: float = 30.0
    ) -> None:
        self.database = database
        self._cache: LoadingCache[tuple[str, str, str], CompiledTemplate | None] = LoadingCache(
            self._load, ttl_s
        )

    async def get(self, tenant: str, name: str, language: str) -> CompiledTemplate | None:
        return await self._cache.get((tenant, name, language))

    async def _load(self, key: tuple[str, str, str]) -> CompiledTemplate | None:
        tenant, name, language = key
        record = await TemplateRepository(self.database(tenant)).get(name, language)
        if record is None or not record.sendable:
            return None
        try:
            return CompiledTemplate(orjson.dumps(record.definition))
        except TemplateError:
            return None


async def request_body(
    message: Message, tenant: str, attempt: int, templates: TemplateCache
) -> bytes:
    """The JSON body to POST to `/<phone_number_id>/messages` for this attempt."""
    body: dict[str, object] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.to,
        "type": message.type,
    }
    if message.type == "text":
        text = dict(message.text or {})
        body["text"] = {"preview_url": bool(text.get("preview_url", False)), "body": text["body"]}
    elif message.type == "template" and message.template:
        name, language = message.template["name"], message.template["language"]
        compiled = await templates.get(tenant, name, language)
        if compiled is None:
            raise Unsendable(
                "template_unavailable",
                f"template {name!r} ({language}) is no longer registered and approved",
            )
        try:
            components, _ = compiled.render(message.template.get("variables") or {})
        except HydrationError as exc:
            raise Unsendable("template_variables", str(exc.errors)) from None
        template: dict[str, object] = {"name": name, "language": {"code": language}}
        if components:
            template["components"] = components
        body["template"] = template
    else:
        raise Unsendable("unknown_type", f"message type {message.type!r} cannot be sent")
    body["biz_opaque_callback_data"] = opaque_data(message.id, attempt)
    return orjson.dumps(body)
