"""Group commit of the worker's state changes: many sends, one write.

Every send makes two writes, its claim just before it and its outcome just after. Each goes
through a `WriteBatcher` (one per tenant database and kind), which gathers the changes that
arrive within `linger_s` (or `max_batch` of them) into one batched write, most urgent first,
one write in flight per batcher. The write itself takes one of the worker's ranked write
slots, so an OTP's claim waits for at most one batch ahead of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ccx.dispatch.inflight import RankedSemaphore
from ccx.store.transitions import Change

R = TypeVar("R")

#: write(changes, recheck, actor) → one result per change. `actor` names this batch in the
#: events it writes (the same on every try of the batch); `recheck` after a failed try.
Write = Callable[[Sequence[Change], bool, str], Awaitable[list[R]]]
#: Runs a write until it succeeds (the worker's `_persist`), or raises to give up.
Persist = Callable[[Callable[[bool], Awaitable[list[R]]], str], Awaitable[list[R]]]


class WriteBatcher(Generic[R]):
    """Batches `submit`ted changes into writes; each caller gets its own change's result."""

    def __init__(
        self,
        write: Write[R],
        persist: Persist[R],
        slots: RankedSemaphore,
        actor_prefix: str,
        max_batch: int = 32,
        linger_s: float = 0.002,
    ) -> None:
        self._write = write
        self._persist = persist
        self._slots = slots
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._pending: list[tuple[int, int, Change, asyncio.Future[R]]] = []
        self._order = 0
        self._actor_prefix = actor_prefix
        self._batches = 0
        self._task: asyncio.Task[None] | None = None

    async def submit(self, change: Change, rank: int = 0) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._order += 1
        self._pending.append((rank, self._order, change, future))
        if self._task is None:
            self._task = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                if len(self._pending) < self.max_batch:
                    await asyncio.sleep(self.linger_s)
                self._pending.sort(key=lambda p: (p[0], p[1]))
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._flush(batch)
        finally:
            self._task = None

    async def _flush(self, batch: list[tuple[int, int, Change, asyncio.Future[R]]]) -> None:
        changes = [c for _, _, c, _ in batch]
        rank = min(r for r, *_ in batch)
        self._batches += 1
        actor = f"{self._actor_prefix}.{self._batches}"

        async def step(recheck: bool) -> list[R]:
            async with self._slots.slot(rank):
                return await self._write(changes, recheck, actor)

        try:
            results = await self._persist(step, "mongodb")
        except BaseException as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (*_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
