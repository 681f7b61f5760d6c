"""Idempotent index creation for a tenant's database (no TTL/partial indexes: FerretDB v1).

Most indexes only serve queries (listings by status and time, the wamid fallback of a status
callback, the history of a message). FerretDB v1 never uses them: it pushes down filters on
`_id` only and scans for the rest (measured: a find by wamid takes 48 ms at 10,000 messages
with or without its index), while every insert and update pays for them (a 10,000-message
insert takes 1.15 s with the three message indexes, 0.85 s without). So on FerretDB v1 only
the indexes that enforce a rule (`CONSTRAINTS`) are created, unless
`mongo.ferretdb_query_indexes` is set; on MongoDB every index is.
"""

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
#: (collection, index name) of the indexes whose uniqueness the code relies on. The events'
#: `message_seq` is unique too, but `_id` (`<message_id>.<seq>`) already makes it so.
CONSTRAINTS = frozenset({(TEMPLATES, "name_lang")})


async def uses_query_indexes(db: AsyncDatabase[Document]) -> bool:
    """False on FerretDB v1, whose queries never use a secondary index."""
    info = await db.client.admin.command("buildInfo")
    return not str(info.get("ferretdbVersion", "")).startswith("v1.")


async def tenant_indexes(
    db: AsyncDatabase[Document], every: bool = False
) -> dict[str, list[IndexModel]]:
    """The indexes a tenant database gets on this server (see the module doc); `every`:
    all of them, whatever the server."""
    if every or await uses_query_indexes(db):
        return TENANT_INDEXES
    kept = {
        collection: [m for m in models if (collection, m.document["name"]) in CONSTRAINTS]
        for collection, models in TENANT_INDEXES.items()
    }
    return {collection: models for collection, models in kept.items() if models}


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


async def ensure_tenant_indexes(db: AsyncDatabase[Document], every: bool = False) -> list[str]:
    """Create the indexes of a tenant database that this server uses (existing ones, made
    by an earlier version or with `every`, are left alone)."""
    return await ensure_indexes(db, await tenant_indexes(db, every))
