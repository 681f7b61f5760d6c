"""The `suppressions` collection of a tenant database: recipients who opted out.

`_id` is the recipient's number in E.164 digits without the "+" (what WhatsApp calls the
wa_id). A suppressed recipient's messages are failed by the worker instead of sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from ccx.store.messages import now_ms, utc_ms
from ccx.store.mongo import Document
from ccx.store.names import SUPPRESSIONS

#: E.164 digits without "+": country code 1-9, 7 to 15 digits in all.
RECIPIENT = re.compile(r"^[1-9][0-9]{6,14}$")


def recipient_key(to: str) -> str:
    """The key of a message's `to` (E.164 with or without "+")."""
    return to.removeprefix("+")


@dataclass(frozen=True, slots=True)
class Suppression:
    recipient: str
    reason: str | None
    created_at: datetime


def _suppression(doc: Document) -> Suppression:
    return Suppression(doc["_id"], doc.get("reason"), utc_ms(doc["created_at"]))


class SuppressionRepository:
    """Opt-outs of one tenant."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[SUPPRESSIONS]

    async def put(self, recipient: str, reason: str | None = None) -> tuple[Suppression, bool]:
        """Suppress `recipient` (or update its reason); returns (suppression, created)."""
        now = now_ms()
        result = await self.collection.update_one(
            {"_id": recipient},
            {"$set": {"reason": reason}, "$setOnInsert": {"created_at": now}},
            upsert=True,
        )
        doc = await self.collection.find_one({"_id": recipient})
        assert doc is not None
        return _suppression(doc), result.upserted_id is not None

    async def get(self, recipient: str) -> Suppression | None:
        doc = await self.collection.find_one({"_id": recipient})
        return _suppression(doc) if doc else None

    async def delete(self, recipient: str) -> bool:
        return (await self.collection.delete_one({"_id": recipient})).deleted_count == 1

    async def page(self, after: str | None, limit: int) -> list[Suppression]:
        """In recipient order, after `after` (the last recipient of the previous page)."""
        query = {"_id": {"$gt": after}} if after else {}
        found = self.collection.find(query).sort("_id", ASCENDING).limit(limit)
        return [_suppression(doc) async for doc in found]

    async def recipients(self) -> frozenset[str]:
        """Every suppressed recipient (the worker's snapshot)."""
        return frozenset([doc["_id"] async for doc in self.collection.find({}, {"_id": 1})])
