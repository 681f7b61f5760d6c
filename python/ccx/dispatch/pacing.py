"""Per sender number pacing: the local first stage of the rate limits.

Each number sends at most its throughput tier (80 msg/s unless its sender record says
otherwise). A throttling answer from Meta (130429, 80007) halves that number's rate, at most
once per `cut_interval_s` (the answers to one burst arrive together and count once); after
`recover_s` without throttling it steps back up by a quarter at a time to the tier. A message
that finds no token waits for one: throttling delays messages, it never fails them. The
messages of one number wait in one line, most urgent first (an OTP passes the marketing
messages of its own number), and only the head of the line polls the bucket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from ccx._native import TokenBuckets
from ccx.dispatch.inflight import RankedSemaphore


@dataclass(slots=True)
class _Number:
    tier: float
    rate: float
    throttled_at: float = -1e9


class NumberPacer:
    """Token buckets per phone number id with throttle feedback."""

    def __init__(
        self,
        recover_s: float = 10.0,
        floor: float = 1.0,
        cut_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recover_s = recover_s
        self.floor = floor
        self.cut_interval_s = cut_interval_s
        self._clock = clock
        self._buckets = TokenBuckets(80.0, 80.0, clock=clock)
        self._numbers: dict[str, _Number] = {}
        self._lines: dict[str, RankedSemaphore] = {}

    def rate(self, number: str) -> float | None:
        """The current rate of a known number (messages per second)."""
        entry = self._numbers.get(number)
        return entry.rate if entry else None

    def _entry(self, number: str, tier: float) -> _Number:
        entry = self._numbers.get(number)
        if entry is None or entry.tier != tier:
            entry = _Number(tier, tier)
            self._numbers[number] = entry
            # burst of one second at the tier: a full second's worth may go at once
            self._buckets.configure(number, tier, max(1.0, tier))
        return entry

    def _recover(self, number: str, entry: _Number) -> None:
        now = self._clock()
        if entry.rate < entry.tier and now - entry.throttled_at >= self.recover_s:
            entry.rate = min(entry.tier, entry.rate * 1.25)
            entry.throttled_at = now  # the next step a full period later
            self._buckets.configure(number, entry.rate, max(1.0, entry.rate))

    async def wait(self, number: str, tier: float, rank: int = 0) -> float:
        """Take a token for `number`, waiting as long as needed behind the messages of that
        number with a lower or equal `rank`; returns the seconds waited for tokens."""
        entry = self._entry(number, tier)
        line = self._lines.get(number)
        if line is None:
            line = self._lines[number] = RankedSemaphore(1)
        async with line.slot(rank):
            self._recover(number, entry)
            waited = 0.0
            while True:
                ok, wait_s = self._buckets.try_acquire(number)
                if ok:
                    return waited
                wait_s = min(wait_s, 1.0)
                waited += wait_s
                await asyncio.sleep(wait_s)

    def throttled(self, number: str) -> None:
        """Meta said this number sends too fast: halve its rate (not below `floor`)."""
        entry = self._numbers.get(number)
        if entry is None:
            return
        now = self._clock()
        if now - entry.throttled_at < self.cut_interval_s:
            entry.throttled_at = now  # still throttled: recovery waits longer
            return
        entry.rate = max(self.floor, entry.rate / 2)
        entry.throttled_at = now
        self._buckets.configure(number, entry.rate, max(1.0, entry.rate))
