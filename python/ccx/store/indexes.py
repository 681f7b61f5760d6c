"""Idempotent index creation for a tenant's database (no TTL/partial indexes: FerretDB v1)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from ccx.store.mongo import Document
from ccx.store.names import (
    EVENTS,
    IDEMPOTENCY,
    MESSAGES,
    SENDERS,
    TEMPLATES,
    WEBHOOK_DELIVERIES,
)

TENANT_INDEXES: dict[str, list[IndexModel]] = {
    MESSAGES: [
        IndexModel([("status", ASCENDING), ("created_at", DESCENDING)], name="status_created"),
        IndexModel([("created_at", DESCENDING)], name="created"),
        IndexModel([("wamid", ASCENDING)], name="wamid"),
    ],
    EVENTS: [
        IndexModel(
            [("message_id", ASCENDING), ("seq", ASCENDING)], name="message_seq", unique=True
        ),
        IndexModel([("at", ASCENDING)], name="at"),
    ],
    WEBHOOK_DELIVERIES: [
        IndexModel([("message_id", ASCENDING), ("seq", ASCENDING)], name="message_seq"),
        IndexModel([("status", ASCENDING), ("at", ASCENDING)], name="status_at"),
    ],
    TEMPLATES: [
        IndexModel([("name", ASCENDING), ("language", ASCENDING)], name="name_lang", unique=True)
    ],
    IDEMPOTENCY: [IndexModel([("expires_at", ASCENDING)], name="expires")],
    SENDERS: [IndexModel([("is_default", ASCENDING)], name="default")],
}


async def ensure_indexes(
    db: AsyncDatabase[Document], indexes: dict[str, list[IndexModel]]
) -> list[str]:
    """Create the indexes that do not exist yet (by name); returns the names created.

    Only missing ones are sent: FerretDB v1.24 drops the connection (a server-side panic)
    when createIndexes names indexes that already exist.
    """
    created: list[str] = []
    for collection, models in indexes.items():
        cursor = await db[collection].list_indexes()
        existing = {index["name"] async for index in cursor}
        missing = [m for m in models if m.document["name"] not in existing]
        if missing:
            created += await db[collection].create_indexes(missing)
    return created


async def ensure_tenant_indexes(db: AsyncDatabase[Document]) -> list[str]:
    """Create every index of a tenant database (existing ones are left alone)."""
    return await ensure_indexes(db, TENANT_INDEXES)
