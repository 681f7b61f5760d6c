"""The tenant's template registry: Meta template definitions and their review status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from ccx.meta_facts import TEMPLATE_STATUSES
from ccx.store.messages import now_ms
from ccx.store.mongo import Document
from ccx.store.names import TEMPLATES

STATUSES = TEMPLATE_STATUSES
SENDABLE = frozenset({"APPROVED"})


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    """One registered template: its definition (template-management JSON) and status."""

    name: str
    language: str
    category: str
    status: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def sendable(self) -> bool:
        return self.status in SENDABLE


def template_key(name: str, language: str) -> str:
    return f"{name}:{language}"


def _record(doc: Document) -> TemplateRecord:
    return TemplateRecord(
        doc["name"],
        doc["language"],
        doc.get("category", ""),
        doc.get("status", "APPROVED"),
        orjson.loads(doc["definition"])
        if isinstance(doc["definition"], str)
        else doc["definition"],
        doc["created_at"],
        doc.get("updated_at") or doc["created_at"],
    )


class TemplateRepository:
    """`templates` of one tenant database; `_id` is `<name>:<language>`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[TEMPLATES]

    async def put(self, definition: dict[str, Any], status: str) -> tuple[TemplateRecord, bool]:
        """Create or replace a template; returns (record, created)."""
        name, language = definition["name"], definition["language"]
        at = now_ms()
        result = await self.collection.update_one(
            {"_id": template_key(name, language)},
            {
                "$set": {
                    "name": name,
                    "language": language,
                    "category": str(definition.get("category", "")).upper(),
                    "status": status,
                    # JSON text: Meta's definitions may carry keys BSON servers refuse.
                    "definition": orjson.dumps(definition).decode(),
                    "updated_at": at,
                },
                "$setOnInsert": {"created_at": at},
            },
            upsert=True,
        )
        record = await self.get(name, language)
        assert record is not None
        return record, result.upserted_id is not None

    async def get(self, name: str, language: str) -> TemplateRecord | None:
        doc = await self.collection.find_one({"_id": template_key(name, language)})
        return _record(doc) if doc else None

    async def list(
        self, name: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[TemplateRecord]:
        query: Document = {}
        if name is not None:
            query["name"] = name
        if status is not None:
            query["status"] = status
        found = self.collection.find(query).sort([("name", ASCENDING), ("language", ASCENDING)])
        return [_record(doc) async for doc in found.limit(limit)]

    async def set_status(
        self, name: str, language: str, status: str, reason: str | None = None
    ) -> bool:
        """Record Meta's review of a registered template (a status callback); False when the
        tenant has no such template."""
        result = await self.collection.update_one(
            {"_id": template_key(name, language)},
            {"$set": {"status": status, "status_reason": reason, "updated_at": now_ms()}},
        )
        return bool(result.matched_count)

    async def delete(self, name: str, language: str) -> bool:
        result = await self.collection.delete_one({"_id": template_key(name, language)})
        return bool(result.deleted_count)
