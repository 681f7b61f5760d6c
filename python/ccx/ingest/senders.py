"""Which sender number a message goes out from: the requested one, or the tenant's default."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from ccx.security import DataKeys
from ccx.store.mongo import Document
from ccx.store.senders import SenderRepository

#: A miss (unknown `from`, no default) reloads a cache entry older than this, so a sender just
#: registered through another API process is found without waiting for the whole TTL.
MISS_RELOAD_S = 1.0


class UnknownSender(Exception):
    """The message names no usable sender; `path` points into the request body."""

    def __init__(self, message: str, path: str = "/from") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True, slots=True)
class _Entry:
    ids: frozenset[str]
    default: str | None
    loaded_at: float


class SenderDirectory:
    """Per-tenant sender lookups for the accept path, cached for `ttl_s` per process."""

    def __init__(
        self,
        database: Callable[[str], AsyncDatabase[Document]],
        keys: DataKeys,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.keys = keys
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[str, _Entry] = {}

    def repository(self, tenant: str) -> SenderRepository:
        """The tenant's sender repository."""
        return SenderRepository(self.database(tenant), self.keys, tenant)

    def invalidate(self, tenant: str) -> None:
        """Forget the cached senders of a tenant (after a write through this process)."""
        self._cache.pop(tenant, None)

    async def resolve(self, tenant: str, requested: str | None) -> str:
        """The phone_number_id to send from; UnknownSender when `requested` is not registered
        for the tenant, or when it is None and the tenant has no default sender. Store errors
        propagate."""
        entry = await self._entry(tenant)
        if not self._found(entry, requested) and self.clock() - entry.loaded_at > MISS_RELOAD_S:
            entry = await self._load(tenant)
        if requested is not None:
            if requested not in entry.ids:
                raise UnknownSender(
                    f"sender {requested} is not registered for this tenant; "
                    f"register it with PUT /v1/senders/{requested}"
                )
            return requested
        if entry.default is None:
            raise UnknownSender(
                "the tenant has no default sender; register one with "
                "PUT /v1/senders/{phone_number_id} or pass `from`"
            )
        return entry.default

    @staticmethod
    def _found(entry: _Entry, requested: str | None) -> bool:
        return entry.default is not None if requested is None else requested in entry.ids

    async def _entry(self, tenant: str) -> _Entry:
        entry = self._cache.get(tenant)
        if entry is not None and self.clock() - entry.loaded_at < self.ttl_s:
            return entry
        return await self._load(tenant)

    async def _load(self, tenant: str) -> _Entry:
        repo = self.repository(tenant)
        senders = await repo.list()
        default = await repo.default() if any(s.is_default for s in senders) else None
        entry = _Entry(
            frozenset(s.phone_number_id for s in senders),
            default.phone_number_id if default else None,
            self.clock(),
        )
        self._cache[tenant] = entry
        return entry
