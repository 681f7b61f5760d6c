"""Tenants: the platform registry, plus creating everything a new tenant needs in the store."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from ccx.store.indexes import ensure_tenant_indexes
from ccx.store.mongo import Document
from ccx.store.names import PLATFORM_TENANTS, tenant_db

#: A country calling code (1 to 4 digits: "98", "53", "1876").
CALLING_CODE = re.compile(r"^[1-9][0-9]{0,3}$")


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: datetime
    active: bool = True
    #: Calling codes the tenant never sends to: their messages fail with `country_blocked`.
    blocked_countries: tuple[str, ...] = ()


def _tenant(doc: Document) -> Tenant:
    return Tenant(
        str(doc["_id"]),
        str(doc.get("name") or doc["_id"]),
        doc["created_at"],
        bool(doc.get("active", True)),
        tuple(doc.get("blocked_countries") or ()),
    )


def blocked(recipient: str, codes: Iterable[str]) -> str | None:
    """The calling code of `codes` that `recipient` (E.164, "+" optional) starts with."""
    digits = recipient.removeprefix("+")
    return next((c for c in codes if digits.startswith(c)), None)


class TenantRepository:
    """Reads and writes `ccx.tenants`; creating a tenant also prepares its database."""

    def __init__(self, client: AsyncMongoClient[Document], platform_db: str = "ccx") -> None:
        self.client = client
        self.collection = client[platform_db][PLATFORM_TENANTS]

    async def create(
        self, tenant_id: str, name: str | None = None, every_index: bool = False
    ) -> tuple[Tenant, bool]:
        """Create (or find) a tenant; returns (tenant, created). Indexes are ensured either way
        (`every_index`: the query-only ones on FerretDB v1 too, see `ccx.store.indexes`)."""
        db_name = tenant_db(tenant_id)  # validates the id
        doc = {
            "_id": tenant_id,
            "name": name or tenant_id,
            "created_at": datetime.now(UTC).replace(microsecond=0),
            "active": True,
        }
        created = True
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            created = False
            doc = await self.collection.find_one({"_id": tenant_id}) or doc
        await ensure_tenant_indexes(self.client[db_name], every_index)
        return _tenant(doc), created

    async def block_countries(self, tenant_id: str, codes: Iterable[str]) -> Tenant | None:
        """Replace the tenant's blocked calling codes (ValueError on a malformed one)."""
        codes = sorted(set(codes))
        bad = [c for c in codes if not CALLING_CODE.match(c)]
        if bad:
            raise ValueError(f"not a country calling code: {', '.join(bad)}")
        result = await self.collection.update_one(
            {"_id": tenant_id}, {"$set": {"blocked_countries": codes}}
        )
        return await self.get(tenant_id) if result.matched_count else None

    async def get(self, tenant_id: str) -> Tenant | None:
        doc = await self.collection.find_one({"_id": tenant_id})
        return _tenant(doc) if doc else None

    async def list(self) -> list[Tenant]:
        return [_tenant(doc) async for doc in self.collection.find().sort("_id", 1)]
