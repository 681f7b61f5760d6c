"""Writer watermarks: the outbox of the accept path, one small document per API process.

Each process that accepts messages holds `ccx.writers/<writer id>` with `low`, a time no later
than the creation of any message it wrote whose publish is not confirmed yet, and `beat`, when
it last said so (every second). The process republishes its own unconfirmed messages from
memory; when a process dies, its document stops beating and the relay of any other process
republishes that writer's `queued` messages created since `low`, then removes the document.
One update per second per process replaces a marker write and delete per group commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import AsyncMongoClient

from ccx.store.messages import now_ms, utc_ms
from ccx.store.mongo import Document

WRITERS = "writers"


@dataclass(frozen=True, slots=True)
class Writer:
    id: str
    low: datetime
    beat: datetime


def _writer(doc: Document) -> Writer:
    return Writer(str(doc["_id"]), utc_ms(doc["low"]), utc_ms(doc["beat"]))


class WriterRegistry:
    """`writers` in the platform database."""

    def __init__(self, client: AsyncMongoClient[Document], platform_db: str = "ccx") -> None:
        self.collection = client[platform_db][WRITERS]

    async def beat(self, writer_id: str, low: datetime, now: datetime | None = None) -> None:
        """Create or refresh the writer's document (call before its first message is written)."""
        await self.collection.replace_one(
            {"_id": writer_id},
            {"low": utc_ms(low), "beat": utc_ms(now or now_ms())},
            upsert=True,
        )

    async def dead(self, silent_for: timedelta, now: datetime | None = None) -> list[Writer]:
        """Writers whose last beat is older than `silent_for` (their process is gone)."""
        cutoff = utc_ms(now or now_ms()) - silent_for
        return [_writer(doc) async for doc in self.collection.find({"beat": {"$lt": cutoff}})]

    async def remove(self, writer_id: str) -> None:
        await self.collection.delete_one({"_id": writer_id})
