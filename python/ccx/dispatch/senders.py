"""Sender numbers as the worker needs them: id, decrypted access token, throughput tier."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

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
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str | None], tuple[SenderRoute | None, float]] = {}

    async def route(self, tenant: str, phone_number_id: str | None) -> SenderRoute | None:
        """The number a message goes out from (`None`: the tenant's default); None when the
        tenant has no such sender or it has no access token."""
        key = (tenant, phone_number_id)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        repo = SenderRepository(self.database(tenant), self.keys, tenant)
        sender = await (repo.get(phone_number_id) if phone_number_id else repo.default())
        route = None
        if sender is not None:
            token = await repo.access_token(sender.phone_number_id)
            if token:
                route = SenderRoute(sender.phone_number_id, token, sender.throughput)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (route, now + self.ttl_s)
        return route
