"""How many sends may be in flight at once: an AIMD limit on Meta's answers, served by priority.

The limit grows by about one per round of answers while Meta answers quickly and successfully
(additive increase: +1/limit per success), and is cut to `backoff` of itself on congestion:
throttling codes, timeouts and ambiguous answers, or a latency over the target
(multiplicative decrease, at most once per `cooldown_s` so that one burst of failures counts
once). Waiters are served lowest rank first (the tier order: critical before low), in arrival
order within a rank, so an OTP never waits behind a marketing batch for a send slot.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from ccx.dispatch.outcomes import Kind

CONGESTION = frozenset({Kind.THROTTLE, Kind.AMBIGUOUS})


@dataclass(frozen=True, slots=True)
class LimitSettings:
    initial: int = 32
    minimum: int = 4
    maximum: int = 256
    backoff: float = 0.7
    latency_target_s: float = 1.0
    cooldown_s: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.initial <= self.maximum:
            raise ValueError("need 1 <= minimum <= initial <= maximum")
        if not 0 < self.backoff < 1:
            raise ValueError("backoff must be between 0 and 1")


class RankedSemaphore:
    """An asyncio semaphore of `limit` slots whose waiters are served lowest rank first, in
    arrival order within a rank."""

    def __init__(self, limit: float) -> None:
        self.limit = float(limit)
        self.in_flight = 0
        self._order = itertools.count()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []

    @property
    def waiting(self) -> int:
        return sum(1 for *_, f in self._waiters if not f.done())

    async def acquire(self, rank: int = 0) -> None:
        """Wait for a slot; `rank` 0 is served first."""
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (rank, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release_slot()  # woken and cancelled at once: pass the slot on
            raise

    def slot(self, rank: int = 0) -> _Slot:
        """`async with sem.slot(rank):` acquires and releases."""
        return _Slot(self, rank)

    def release(self) -> None:
        self._release_slot()

    def _release_slot(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            _, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self.in_flight += 1
            future.set_result(None)


class _Slot:
    def __init__(self, sem: RankedSemaphore, rank: int) -> None:
        self.sem, self.rank = sem, rank

    async def __aenter__(self) -> None:
        await self.sem.acquire(self.rank)

    async def __aexit__(self, *exc: object) -> None:
        self.sem.release()


class AdaptiveLimit(RankedSemaphore):
    """A ranked semaphore whose size follows AIMD."""

    def __init__(
        self, settings: LimitSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or LimitSettings()
        super().__init__(self.settings.initial)
        self._clock = clock
        self._last_cut = -1e9

    def release(self, kind: Kind | None = None, latency_s: float = 0.0) -> None:
        """Give the slot back, with what the send taught (None: nothing was sent)."""
        if kind is not None:
            self._learn(kind, latency_s)
        self._release_slot()

    def _learn(self, kind: Kind, latency_s: float) -> None:
        s = self.settings
        if kind in CONGESTION or latency_s > s.latency_target_s:
            now = self._clock()
            if now - self._last_cut >= s.cooldown_s:
                self._last_cut = now
                self.limit = max(float(s.minimum), self.limit * s.backoff)
        elif kind is Kind.SENT:
            self.limit = min(float(s.maximum), self.limit + 1.0 / self.limit)
            self._wake()
