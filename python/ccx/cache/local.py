"""An in-process cache with expiry whose concurrent misses share one load (single flight)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LoadingCache(Generic[K, V]):
    """Values kept `ttl_s` seconds; at most `max_entries` (then it starts over). A hundred
    sends that miss the same key at once make one database read, not a hundred."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._values: dict[K, tuple[V, float]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}

    def invalidate(self, key: K) -> None:
        self._values.pop(key, None)

    async def get(self, key: K) -> V:
        hit = self._values.get(key)
        if hit is not None and hit[1] > self._clock():
            return hit[0]
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await self._load(key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(value)
            if len(self._values) >= self.max_entries:
                self._values.clear()
            self._values[key] = (value, self._clock() + self.ttl_s)
            return value
        finally:
            del self._loading[key]
