"""Per-key circuit breaker: pure logic with an injectable clock.

closed → open when, over a sliding window, at least `min_requests` attempts were recorded
and the share of failures reaches `failure_ratio`; open → half-open after `cooldown_s`;
half-open lets `half_open_probes` attempts through: all of them succeeding closes the
breaker, any failure opens it again (with a fresh cool-down).

Only endpoint failures count (`outcomes.BREAKER_FAILURES`: RETRY and AMBIGUOUS, which
include connect errors); THROTTLE, TERMINAL and HOLD are answers from a working Meta and
count as successes. Keys are whatever the caller isolates on (a phone number id, a host).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ccx.config import DispatchSettings
from ccx.dispatch.outcomes import BREAKER_FAILURES, Kind
from ccx.telemetry import metrics


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


#: Numeric value of each state for a gauge.
STATE_VALUE = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    window_s: float = 30.0
    min_requests: int = 20
    failure_ratio: float = 0.5
    cooldown_s: float = 10.0
    half_open_probes: int = 3
    #: The window is kept as this many time buckets (memory per key stays constant).
    buckets: int = 10

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.cooldown_s < 0 or self.buckets < 1:
            raise ValueError("window_s > 0, cooldown_s >= 0 and buckets >= 1 are required")
        if self.min_requests < 1 or self.half_open_probes < 1:
            raise ValueError("min_requests and half_open_probes must be >= 1")
        if not 0 < self.failure_ratio <= 1:
            raise ValueError("failure_ratio must be in (0, 1]")


@dataclass(slots=True)
class _Circuit:
    state: State = State.CLOSED
    #: [bucket start, attempts, failures], oldest first.
    window: deque[list[float]] = field(default_factory=deque)
    opened_at: float = 0.0
    probes_in_flight: int = 0
    probe_successes: int = 0


class CircuitBreaker:
    """One circuit per key; call `allow(key)` before an attempt and `record(key, kind)` after."""

    def __init__(
        self, settings: BreakerSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}
        self._bucket_s = self.settings.window_s / self.settings.buckets

    def _circuit(self, key: str) -> _Circuit:
        c = self._circuits.get(key)
        if c is None:
            c = self._circuits[key] = _Circuit()
        return c

    def _refresh(self, c: _Circuit, now: float) -> None:
        if c.state is State.OPEN and now - c.opened_at >= self.settings.cooldown_s:
            c.state = State.HALF_OPEN
            c.probes_in_flight = 0
            c.probe_successes = 0

    def state(self, key: str) -> State:
        """The key's state now (open turns half-open once the cool-down has passed)."""
        c = self._circuits.get(key)
        if c is None:
            return State.CLOSED
        self._refresh(c, self._clock())
        return c.state

    def states(self) -> dict[str, State]:
        """Every known key's state, for metrics."""
        return {key: self.state(key) for key in list(self._circuits)}

    def retry_in(self, key: str) -> float:
        """Seconds until an open circuit lets a probe through (0 when it would now)."""
        c = self._circuits.get(key)
        if c is None or c.state is not State.OPEN:
            return 0.0
        return max(0.0, c.opened_at + self.settings.cooldown_s - self._clock())

    def allow(self, key: str) -> bool:
        """May an attempt for `key` go now? In half-open this takes one probe slot."""
        c = self._circuit(key)
        self._refresh(c, self._clock())
        if c.state is State.CLOSED:
            return True
        if c.state is State.OPEN:
            return False
        if c.probes_in_flight + c.probe_successes < self.settings.half_open_probes:
            c.probes_in_flight += 1
            return True
        return False

    def release(self, key: str) -> None:
        """Give back a probe slot taken by `allow` whose attempt never happened."""
        c = self._circuits.get(key)
        if c is not None and c.state is State.HALF_OPEN and c.probes_in_flight:
            c.probes_in_flight -= 1

    def record(self, key: str, kind: Kind) -> None:
        """Record the outcome of an attempt that `allow` let through."""
        now = self._clock()
        c = self._circuit(key)
        self._refresh(c, now)
        failed = kind in BREAKER_FAILURES
        if c.state is State.HALF_OPEN:
            c.probes_in_flight = max(0, c.probes_in_flight - 1)
            if failed:
                self._open(c, now)
            else:
                c.probe_successes += 1
                if c.probe_successes >= self.settings.half_open_probes:
                    c.state = State.CLOSED
                    c.window.clear()
            return
        if c.state is State.OPEN:
            return  # a late answer of an attempt made before the circuit opened
        self._add(c, now, failed)
        attempts, failures = self._totals(c)
        if (
            attempts >= self.settings.min_requests
            and failures >= self.settings.failure_ratio * attempts
        ):
            self._open(c, now)

    def _open(self, c: _Circuit, now: float) -> None:
        c.state = State.OPEN
        c.opened_at = now
        c.probes_in_flight = 0
        c.probe_successes = 0
        c.window.clear()

    def _add(self, c: _Circuit, now: float, failed: bool) -> None:
        start = now - now % self._bucket_s
        if c.window and c.window[-1][0] == start:
            bucket = c.window[-1]
        else:
            bucket = [start, 0.0, 0.0]
            c.window.append(bucket)
        bucket[1] += 1
        bucket[2] += failed
        horizon = now - self.settings.window_s
        while c.window and c.window[0][0] + self._bucket_s <= horizon:
            c.window.popleft()

    def _totals(self, c: _Circuit) -> tuple[int, int]:
        horizon = self._clock() - self.settings.window_s
        attempts = failures = 0
        for start, n, f in c.window:
            if start + self._bucket_s > horizon:
                attempts += int(n)
                failures += int(f)
        return attempts, failures


def settings_from(dispatch: DispatchSettings) -> BreakerSettings:
    """Breaker settings from the `[dispatch]` section."""
    return BreakerSettings(
        window_s=dispatch.breaker_window_s,
        min_requests=dispatch.breaker_min_requests,
        failure_ratio=dispatch.breaker_failure_ratio,
        cooldown_s=dispatch.breaker_cooldown_s,
        half_open_probes=dispatch.breaker_half_open_probes,
    )


def export_states(breaker: CircuitBreaker) -> None:
    """Copy every key's state into the `ccx_dispatch_breaker_state` gauge."""
    for key, state in breaker.states().items():
        metrics.dispatch_breaker_state.labels(key).set(STATE_VALUE[state])
