"""Sender numbers as the worker needs them: id, decrypted access token, throughput tier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from ccx.cache.local import LoadingCache
from ccx.security import DataKeys
from ccx.store.mongo import Document
from ccx.store.senders import SenderRepository


@dataclass(frozen=True, slots=True)
class SenderRoute:
    phone_number_id: str
    access_token: str
    throughput: int


class SenderBook:
    """Per-process cache of (tenant, number) → route, `ttl_s` seconds (a rotated token is
    picked up within that time)."""

    def __init__(
        self,
        database: Callable[[str], AsyncDatabase[Document]],
        keys: DataKeys,
        ttl_s: float = 30.0,
    ) -> None:
        self.database = database
        self.keys = keys
        self._cache: LoadingCache[tuple[str, str | None], SenderRoute | None] = LoadingCache(
            self._load, ttl_s
        )

    async def route(self, tenant: str, phone_number_id: str | None) -> SenderRoute | None:
        """The number a message goes out from (`None`: the tenant's default); None when the
        tenant has no such sender or it has no access token."""
        return await self._cache.get((tenant, phone_number_id))

    async def _load(self, key: tuple[str, str | None]) -> SenderRoute | None:
        tenant, phone_number_id = key
        repo = SenderRepository(self.database(tenant), self.keys, tenant)
        sender = await (repo.get(phone_number_id) if phone_number_id else repo.default())
        if sender is None:
            return None
        token = await repo.access_token(sender.phone_number_id)
        return SenderRoute(sender.phone_number_id, token, sender.throughput) if token else None
