"""Pure-Python reference of `ccx._native.TokenBuckets`: a dict of buckets behind a lock.

Formulas are written in the same order as native/src/ratelimit/core.rs so both give
bit-identical floats. The oracle of the property tests and the baseline of the benchmarks.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence


def _limits(rate: float, burst: float) -> tuple[float, float]:
    if not (math.isfinite(rate) and rate > 0.0):
        raise ValueError("rate must be a finite number > 0")
    if not (math.isfinite(burst) and burst >= 1.0):
        raise ValueError("burst must be a finite number >= 1")
    return float(rate), float(burst)


def _check_n(n: float) -> float:
    if not (math.isfinite(n) and n >= 0.0):
        raise ValueError("n must be a finite number >= 0")
    return float(n)


class _Bucket:
    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.last = now

    def level(self, now: float) -> float:
        now = max(now, self.last)
        return min(self.burst, self.tokens + (now - self.last) * self.rate)

    def refill(self, now: float) -> None:
        self.tokens = self.level(now)
        self.last = max(now, self.last)

    def acquire(self, n: float, now: float) -> tuple[bool, float]:
        self.refill(now)
        if self.tokens >= n:
            self.tokens -= n
            return True, 0.0
        if n > self.burst:
            return False, math.inf
        return False, (n - self.tokens) / self.rate


class TokenBuckets:
    """Token buckets per key (see `ccx._native.TokenBuckets`)."""

    def __init__(
        self, rate: float, burst: float, *, clock: Callable[[], float] | None = None
    ) -> None:
        self._default = _limits(rate, burst)
        self._clock = clock or time.monotonic
        self._overrides: dict[str, tuple[float, float]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _now(self, now: float | None) -> float:
        t = float(self._clock() if now is None else now)
        if not math.isfinite(t):
            raise ValueError("now must be a finite number of seconds")
        return t

    def configure(self, key: str, rate: float, burst: float, *, now: float | None = None) -> None:
        rate, burst = _limits(rate, burst)
        t = self._now(now)
        with self._lock:
            self._overrides[key] = (rate, burst)
            b = self._buckets.get(key)
            if b is not None:
                b.refill(t)
                b.rate, b.burst = rate, burst
                b.tokens = min(b.tokens, burst)

    def _acquire(self, key: str, n: float, now: float) -> tuple[bool, float]:
        b = self._buckets.get(key)
        if b is None:
            rate, burst = self._overrides.get(key, self._default)
            b = self._buckets[key] = _Bucket(rate, burst, now)
        return b.acquire(n, now)

    def try_acquire(
        self, key: str, n: float = 1.0, *, now: float | None = None
    ) -> tuple[bool, float]:
        n = _check_n(n)
        t = self._now(now)
        with self._lock:
            return self._acquire(key, n, t)

    def try_acquire_batch(
        self, requests: Sequence[tuple[str, float]], *, now: float | None = None
    ) -> list[tuple[bool, float]]:
        for _, n in requests:
            _check_n(n)
        t = self._now(now)
        with self._lock:
            return [self._acquire(key, float(n), t) for key, n in requests]

    def tokens(self, key: str, *, now: float | None = None) -> float:
        t = self._now(now)
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                return self._overrides.get(key, self._default)[1]
            return b.level(t)

    def remove(self, key: str) -> None:
        with self._lock:
            self._buckets.pop(key, None)
            self._overrides.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)

    def evict_idle(self, idle_s: float, *, now: float | None = None) -> int:
        if math.isnan(idle_s) or idle_s < 0.0:
            raise ValueError("idle_s must be a number >= 0")
        t = self._now(now)
        with self._lock:
            drop = [
                k
                for k, b in self._buckets.items()
                if t - b.last >= idle_s and b.level(t) >= b.burst
            ]
            for k in drop:
                del self._buckets[k]
            return len(drop)


__all__ = ["TokenBuckets"]
