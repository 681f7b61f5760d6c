"""Circuit breaker transitions with a fake clock."""

from __future__ import annotations

import pytest

from ccx.config import DispatchSettings
from ccx.dispatch.breaker import (
    BreakerSettings,
    CircuitBreaker,
    State,
    export_states,
    settings_from,
)
from ccx.dispatch.outcomes import Kind
from ccx.telemetry import metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SETTINGS = BreakerSettings(
    window_s=10, min_requests=4, failure_ratio=0.5, cooldown_s=5, half_open_probes=2
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(SETTINGS, clock)


def feed(b: CircuitBreaker, key: str, *kinds: Kind) -> None:
    for kind in kinds:
        assert b.allow(key)
        b.record(key, kind)


def test_unknown_key_is_closed(breaker: CircuitBreaker) -> None:
    assert breaker.state("x") is State.CLOSED
    assert breaker.retry_in("x") == 0.0


def test_min_requests_before_opening(breaker: CircuitBreaker) -> None:
    feed(breaker, "a", Kind.RETRY, Kind.RETRY, Kind.AMBIGUOUS)
    assert breaker.state("a") is State.CLOSED  # 3 < min_requests
    feed(breaker, "a", Kind.SENT)
    assert breaker.state("a") is State.OPEN  # 3/4 >= 0.5
    assert not breaker.allow("a")


def test_ratio_below_threshold_stays_closed(breaker: CircuitBreaker) -> None:
    feed(breaker, "a", Kind.SENT, Kind.SENT, Kind.SENT, Kind.RETRY, Kind.SENT)
    assert breaker.state("a") is State.CLOSED


@pytest.mark.parametrize("kind", [Kind.THROTTLE, Kind.TERMINAL, Kind.HOLD, Kind.SENT])
def test_answers_from_meta_are_not_failures(breaker: CircuitBreaker, kind: Kind) -> None:
    feed(breaker, "a", *[kind] * 10)
    assert breaker.state("a") is State.CLOSED


def test_keys_are_independent(breaker: CircuitBreaker) -> None:
    feed(breaker, "a", *[Kind.RETRY] * 4)
    assert breaker.state("a") is State.OPEN
    assert breaker.state("b") is State.CLOSED
    assert breaker.allow("b")
    assert breaker.states() == {"a": State.OPEN, "b": State.CLOSED}


def test_window_slides(breaker: CircuitBreaker, clock: Clock) -> None:
    feed(breaker, "a", Kind.RETRY, Kind.RETRY, Kind.RETRY)
    clock.now += 11  # those failures leave the window
    feed(breaker, "a", Kind.SENT, Kind.SENT, Kind.SENT, Kind.RETRY)
    assert breaker.state("a") is State.CLOSED


def test_cooldown_then_half_open_probes_close(breaker: CircuitBreaker, clock: Clock) -> None:
    feed(breaker, "a", *[Kind.AMBIGUOUS] * 4)
    clock.now += 3
    assert breaker.retry_in("a") == pytest.approx(2)
    assert not breaker.allow("a")
    clock.now += 2
    assert breaker.state("a") is State.HALF_OPEN
    assert breaker.allow("a")
    assert breaker.allow("a")
    assert not breaker.allow("a")  # only two probes
    breaker.record("a", Kind.SENT)
    assert breaker.state("a") is State.HALF_OPEN
    assert not breaker.allow("a")  # one probe still in flight, one succeeded
    breaker.record("a", Kind.THROTTLE)
    assert breaker.state("a") is State.CLOSED
    feed(breaker, "a", Kind.RETRY, Kind.RETRY, Kind.RETRY)
    assert breaker.state("a") is State.CLOSED  # the window restarted empty


def test_half_open_failure_reopens(breaker: CircuitBreaker, clock: Clock) -> None:
    feed(breaker, "a", *[Kind.RETRY] * 4)
    clock.now += 5
    assert breaker.allow("a")
    breaker.record("a", Kind.RETRY)
    assert breaker.state("a") is State.OPEN
    assert breaker.retry_in("a") == pytest.approx(5)  # a fresh cool-down


def test_release_returns_a_probe(breaker: CircuitBreaker, clock: Clock) -> None:
    feed(breaker, "a", *[Kind.RETRY] * 4)
    clock.now += 5
    assert breaker.allow("a")
    assert breaker.allow("a")
    assert not breaker.allow("a")
    breaker.release("a")
    assert breaker.allow("a")


def test_late_answer_while_open_is_ignored(breaker: CircuitBreaker, clock: Clock) -> None:
    feed(breaker, "a", *[Kind.RETRY] * 4)
    breaker.record("a", Kind.SENT)
    assert breaker.state("a") is State.OPEN


@pytest.mark.parametrize(
    "kw",
    [{"window_s": 0}, {"min_requests": 0}, {"failure_ratio": 0}, {"failure_ratio": 1.5},
     {"half_open_probes": 0}, {"buckets": 0}, {"cooldown_s": -1}],
)  # fmt: skip
def test_invalid_settings(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        BreakerSettings(**kw)  # type: ignore[arg-type]


def test_settings_from_config() -> None:
    s = settings_from(DispatchSettings(breaker_min_requests=7, breaker_cooldown_s=1.5))
    assert (s.min_requests, s.cooldown_s) == (7, 1.5)


def test_export_states_sets_the_gauge(breaker: CircuitBreaker) -> None:
    feed(breaker, "gauge-key", *[Kind.RETRY] * 4)
    export_states(breaker)
    assert metrics.dispatch_breaker_state.labels("gauge-key")._value.get() == 2
