"""Token buckets: native TokenBuckets against Python bucket loops."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

from bench.harness import Case
from ccx import _native
from ccx.native_ref import ratelimit as ref

RATE, BURST = 80.0, 80.0  # Meta's default per-number throughput (ref §6)


class LeanBuckets:
    """The quickest Python bucket loop we could write: state as a 2-item list per key, one
    lock per batch, no method calls inside the loop. Same formulas as the reference."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.state: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def batch(self, requests: Sequence[tuple[str, float]], now: float) -> list[tuple[bool, float]]:
        rate, burst, state = self.rate, self.burst, self.state
        out = []
        with self.lock:
            for key, n in requests:
                s = state.get(key)
                if s is None:
                    s = state[key] = [burst, now]
                t = now if now > s[1] else s[1]
                tokens = min(burst, s[0] + (t - s[1]) * rate)
                s[1] = t
                if tokens >= n:
                    s[0] = tokens - n
                    out.append((True, 0.0))
                else:
                    s[0] = tokens
                    out.append((False, math.inf if n > burst else (n - tokens) / rate))
        return out

    def one(self, key: str, n: float, now: float) -> tuple[bool, float]:
        return self.batch(((key, n),), now)[0]


class Ticker:
    """A clock advancing 1 ms per reading, so buckets refill between calls."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.001
        return self.t


def cases() -> list[Case]:
    keys = [f"phone:{15550100000 + i}" for i in range(256)]
    requests = [(k, 1.0) for k in keys]

    def fresh() -> tuple[Any, Any, LeanBuckets, Ticker]:
        return (
            _native.TokenBuckets(RATE, BURST),
            ref.TokenBuckets(RATE, BURST),
            LeanBuckets(RATE, BURST),
            Ticker(),
        )

    native, reference, lean, tick = fresh()

    def check() -> bool:
        n, r, _, clock = fresh()
        for _ in range(300):
            now = clock() * 37  # fast enough to drain and refill
            a = n.try_acquire_batch(requests[:64] * 2, now=now)
            b = r.try_acquire_batch(requests[:64] * 2, now=now)
            if not all(_close(x, y) for x, y in zip(a, b, strict=True)):
                return False
            if not _close(n.try_acquire("solo", 2.5, now=now), r.try_acquire("solo", 2.5, now=now)):
                return False
        return len(n) == len(r)

    def single() -> Any:
        return native.try_acquire("phone:15550100007", 1.0, now=tick())

    return [
        Case(
            path="ratelimit",
            name="try_acquire_batch(256 keys)",
            native=lambda: native.try_acquire_batch(requests, now=tick()),
            rivals={
                "python lean dict loop": lambda: lean.batch(requests, tick()),
                "python reference": lambda: reference.try_acquire_batch(requests, now=tick()),
            },
            check=check,
            ops=256,
        ),
        Case(
            path="ratelimit",
            name="try_acquire (single call)",
            native=single,
            rivals={
                "python lean dict loop": lambda: lean.one("phone:15550100007", 1.0, tick()),
                "python reference": lambda: reference.try_acquire(
                    "phone:15550100007", 1.0, now=tick()
                ),
            },
            check=check,
            # PyO3 call overhead (~0.1 µs) could have sunk this; measured 2.6-4.5x, so it counts.
        ),
    ]


def _close(a: tuple[bool, float], b: tuple[bool, float]) -> bool:
    return a[0] == b[0] and (a[1] == b[1] or math.isclose(a[1], b[1], rel_tol=1e-9))
