"""Meta's send limits, in pure Python: per-number throughput (130429) and pair rate (131056).

Throughput: a token bucket per phone number id, `throughput` tokens per second and as many
in the bucket (one second of burst). Pair rate: a bucket per (phone number id, recipient)
refilled one token every `pair_interval_s` with room for `pair_burst` (Meta: 1 per 6 s,
burst 45 that is then "paid back"). A send takes one token from each, or from neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Clock = Callable[[], float]
_PRUNE_AT = 100_000
#: Tolerance for float refill arithmetic (a token due now counts as there).
_EPS = 1e-9


class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate` per second."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def refill(self, now: float) -> float:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        return self.tokens

    def take(self, now: float) -> bool:
        if self.refill(now) >= 1.0 - _EPS:
            self.tokens -= 1.0
            return True
        return False


@dataclass(frozen=True, slots=True)
class LimitSettings:
    throughput: int = 80
    throughput_by_number: Mapping[str, int] = field(default_factory=dict)
    throughput_enabled: bool = True
    pair_enabled: bool = True
    pair_interval_s: float = 6.0
    pair_burst: int = 45

    def rate_for(self, phone_number_id: str) -> int:
        return self.throughput_by_number.get(phone_number_id, self.throughput)

    def to_json(self) -> dict[str, Any]:
        return {
            "throughput": self.throughput,
            "throughput_by_number": dict(self.throughput_by_number),
            "throughput_enabled": self.throughput_enabled,
            "pair_enabled": self.pair_enabled,
            "pair_interval_s": self.pair_interval_s,
            "pair_burst": self.pair_burst,
        }

    def updated(self, data: Mapping[str, Any]) -> LimitSettings:
        """A copy with the fields present in `data` changed (ValueError on bad values)."""
        unknown = set(data) - set(self.to_json())
        if unknown:
            raise ValueError(f"unknown limit setting(s) {sorted(unknown)}")
        new = replace(
            self,
            throughput=int(data.get("throughput", self.throughput)),
            throughput_by_number={
                str(k): int(v)
                for k, v in dict(
                    data.get("throughput_by_number", self.throughput_by_number)
                ).items()
            },
            throughput_enabled=bool(data.get("throughput_enabled", self.throughput_enabled)),
            pair_enabled=bool(data.get("pair_enabled", self.pair_enabled)),
            pair_interval_s=float(data.get("pair_interval_s", self.pair_interval_s)),
            pair_burst=int(data.get("pair_burst", self.pair_burst)),
        )
        if new.throughput < 1 or any(v < 1 for v in new.throughput_by_number.values()):
            raise ValueError("throughput must be at least 1 msg/s")
        if new.pair_interval_s <= 0 or new.pair_burst < 1:
            raise ValueError("pair_interval_s must be > 0 and pair_burst >= 1")
        return new


class RateLimits:
    """Both limits for every number; `check` answers None (allowed) or the Meta error code."""

    def __init__(self, settings: LimitSettings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._numbers: dict[str, TokenBucket] = {}
        self._pairs: dict[tuple[str, str], TokenBucket] = {}

    def configure(self, settings: LimitSettings) -> None:
        """Apply new settings; buckets start over (full)."""
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        self._numbers.clear()
        self._pairs.clear()

    def check(self, phone_number_id: str, wa_id: str) -> int | None:
        """Take one send from both limits, or return 130429 / 131056 and take nothing."""
        s = self.settings
        now = self._clock()
        number = pair = None
        if s.throughput_enabled:
            number = self._numbers.get(phone_number_id)
            if number is None:
                rate = s.rate_for(phone_number_id)
                number = self._numbers[phone_number_id] = TokenBucket(rate, rate, now)
            if number.refill(now) < 1.0 - _EPS:
                return 130429
        if s.pair_enabled:
            key = (phone_number_id, wa_id)
            pair = self._pairs.get(key)
            if pair is None:
                if len(self._pairs) >= _PRUNE_AT:
                    self._prune(now)
                pair = self._pairs[key] = TokenBucket(1.0 / s.pair_interval_s, s.pair_burst, now)
            if pair.refill(now) < 1.0 - _EPS:
                return 131056
        if number is not None:
            number.tokens -= 1.0
        if pair is not None:
            pair.tokens -= 1.0
        return None

    def _prune(self, now: float) -> None:
        """Forget pair buckets that are full again (they hold no state)."""
        full = [k for k, b in self._pairs.items() if b.refill(now) >= b.capacity - _EPS]
        for key in full:
            del self._pairs[key]
