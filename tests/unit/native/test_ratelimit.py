"""ccx._native.TokenBuckets: behaviour, thread safety, and agreement with the reference."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccx import _native
from ccx.native_ref import ratelimit as ref

Factory = Callable[..., Any]


@pytest.fixture(params=["native", "ref"])
def make(request: pytest.FixtureRequest) -> Factory:
    return _native.TokenBuckets if request.param == "native" else ref.TokenBuckets


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_new_key_starts_full_then_drains(make: Factory) -> None:
    b = make(1.0, 3.0, clock=FakeClock())
    assert b.tokens("k") == 3.0
    assert len(b) == 0
    assert [b.try_acquire("k") for _ in range(4)] == [(True, 0.0)] * 3 + [(False, 1.0)]
    assert len(b) == 1


def test_refills_at_rate_up_to_burst(make: Factory) -> None:
    clock = FakeClock()
    b = make(2.0, 4.0, clock=clock)
    assert b.try_acquire("k", 4.0) == (True, 0.0)
    clock.t = 0.5
    assert b.tokens("k") == 1.0
    assert b.try_acquire("k", 2.0) == (False, 0.5)
    clock.t = 100.0
    assert b.tokens("k") == 4.0


def test_retry_after(make: Factory) -> None:
    b = make(0.5, 2.0)
    assert b.try_acquire("k", 2.0, now=0.0) == (True, 0.0)
    assert b.try_acquire("k", 1.5, now=0.0) == (False, 3.0)
    assert b.try_acquire("k", 2.5, now=0.0) == (False, math.inf)
    assert b.try_acquire("k", 0.0, now=0.0) == (True, 0.0)


def test_explicit_now_overrides_clock(make: Factory) -> None:
    b = make(1.0, 1.0, clock=FakeClock(1000.0))
    assert b.try_acquire("k", now=5.0) == (True, 0.0)
    assert b.tokens("k", now=5.5) == 0.5


def test_clock_going_backwards_is_clamped(make: Factory) -> None:
    b = make(1.0, 2.0)
    assert b.try_acquire("k", 2.0, now=100.0)[0]
    assert b.try_acquire("k", 1.0, now=50.0) == (False, 1.0)
    assert b.tokens("k", now=0.0) == 0.0
    assert b.try_acquire("k", 1.0, now=101.0) == (True, 0.0)


def test_configure_clamps_to_new_burst_and_survives_eviction(make: Factory) -> None:
    b = make(1.0, 10.0)
    assert b.try_acquire("k", 1.0, now=0.0)[0]
    b.configure("k", 5.0, 3.0, now=0.0)
    assert b.tokens("k", now=0.0) == 3.0
    assert b.try_acquire("k", 3.0, now=0.0)[0]
    assert b.try_acquire("k", 1.0, now=0.0) == (False, 0.2)
    assert b.evict_idle(1.0, now=10.0) == 1
    assert b.tokens("k", now=10.0) == 3.0
    b.configure("fresh", 1.0, 1.0, now=0.0)
    assert len(b) == 0
    b.remove("k")
    assert b.tokens("k", now=10.0) == 10.0


def test_configure_refills_at_old_rate_first(make: Factory) -> None:
    b = make(1.0, 10.0)
    assert b.try_acquire("k", 10.0, now=0.0)[0]
    b.configure("k", 100.0, 10.0, now=2.0)
    assert b.tokens("k", now=2.0) == 2.0


def test_evicts_only_full_idle_buckets(make: Factory) -> None:
    b = make(1.0, 2.0)
    assert b.try_acquire("used", 2.0, now=0.0)[0]
    assert b.try_acquire("idle", 1.0, now=0.0)[0]
    assert b.try_acquire("recent", 0.0, now=9.5)[0]
    assert b.evict_idle(1.0, now=0.5) == 0
    assert b.evict_idle(1.0, now=1.5) == 1
    assert b.evict_idle(5.0, now=10.0) == 1
    assert len(b) == 1
    assert b.evict_idle(0.0, now=10.0) == 1
    assert len(b) == 0
    b.remove("never-seen")


def test_batch_is_in_order_at_one_time(make: Factory) -> None:
    b = make(1.0, 2.0)
    got = b.try_acquire_batch([("a", 1.0), ("a", 1.0), ("a", 1.0), ("b", 3.0), ("b", 2.0)], now=0.0)
    assert got == [(True, 0.0), (True, 0.0), (False, 1.0), (False, math.inf), (True, 0.0)]
    assert b.try_acquire_batch([]) == []


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, 1.0), "rate"),
        ((-1.0, 1.0), "rate"),
        ((math.nan, 1.0), "rate"),
        ((math.inf, 1.0), "rate"),
        ((1.0, 0.5), "burst"),
        ((1.0, math.inf), "burst"),
    ],
)
def test_rejects_bad_limits(make: Factory, args: tuple[float, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(*args)
    b = make(1.0, 1.0)
    with pytest.raises(ValueError, match=match):
        b.configure("k", *args)


@pytest.mark.parametrize("n", [-1.0, math.nan, math.inf])
def test_rejects_bad_n(make: Factory, n: float) -> None:
    b = make(1.0, 1.0)
    with pytest.raises(ValueError, match="n must be"):
        b.try_acquire("k", n)
    with pytest.raises(ValueError, match="n must be"):
        b.try_acquire_batch([("k", 1.0), ("k", n)])
    assert len(b) == 0, "a rejected batch takes nothing"


def test_rejects_bad_times(make: Factory) -> None:
    b = make(1.0, 1.0, clock=lambda: math.nan)
    with pytest.raises(ValueError, match="now must be"):
        b.try_acquire("k")
    with pytest.raises(ValueError, match="now must be"):
        b.tokens("k", now=math.inf)
    with pytest.raises(ValueError, match="idle_s"):
        b.evict_idle(-1.0, now=0.0)


def test_clock_errors_propagate() -> None:
    def broken() -> float:
        raise RuntimeError("clock broke")

    b = _native.TokenBuckets(1.0, 1.0, clock=broken)
    with pytest.raises(RuntimeError, match="clock broke"):
        b.try_acquire("k")
    with pytest.raises(TypeError):
        _native.TokenBuckets(1.0, 1.0, clock=lambda: "soon").try_acquire("k")  # type: ignore[arg-type, return-value]


def test_default_clock_is_monotonic_seconds() -> None:
    b = _native.TokenBuckets(1000.0, 1.0)
    assert b.try_acquire("k")[0]
    allowed, retry = b.try_acquire("k")
    assert not allowed
    assert 0.0 < retry <= 0.001
    time.sleep(0.002)
    assert b.try_acquire("k")[0]


def test_many_keys_bounded_by_eviction() -> None:
    b = _native.TokenBuckets(1.0, 1.0)
    got = b.try_acquire_batch([(f"k{i}", 1.0) for i in range(50_000)], now=0.0)
    assert all(ok for ok, _ in got)
    assert len(b) == 50_000
    assert b.evict_idle(1.0, now=5.0) == 50_000
    assert len(b) == 0


def test_unicode_keys(make: Factory) -> None:
    b = make(1.0, 1.0)
    assert b.try_acquire("🦀", now=0.0)[0]
    assert not b.try_acquire("🦀", now=0.0)[0]
    assert b.try_acquire("🦀 ", now=0.0)[0]


def test_threads_never_grant_more_than_burst() -> None:
    b = _native.TokenBuckets(1e-6, 1000.0, clock=FakeClock())
    granted = [0] * 8

    def work(i: int) -> None:
        for _ in range(500):
            if b.try_acquire("shared")[0]:
                granted[i] += 1
            b.try_acquire_batch([("shared", 1.0), (f"own{i}", 1.0)])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.tokens("shared") == 0.0
    assert sum(granted) <= 1000
    assert len(b) == 9


# ---------------------------------------------------------------- native == reference

KEYS = st.sampled_from(["a", "b", "c", "tenant:42", "🦀", ""])
N = st.one_of(st.floats(0, 12), st.sampled_from([0.0, 1.0, 1e-9, 1e9, -1.0, math.nan]))
RATES = st.one_of(st.floats(1e-3, 1e4), st.sampled_from([0.0, math.inf]))
BURSTS = st.one_of(st.floats(1, 100), st.sampled_from([0.5, math.nan]))
OPS = st.one_of(
    st.tuples(st.just("acquire"), KEYS, N),
    st.tuples(st.just("acquire"), KEYS, N),
    st.tuples(st.just("batch"), st.lists(st.tuples(KEYS, N), max_size=6)),
    st.tuples(st.just("tokens"), KEYS),
    st.tuples(st.just("configure"), KEYS, RATES, BURSTS),
    st.tuples(st.just("remove"), KEYS),
    st.tuples(st.just("evict"), st.floats(0, 50)),
    st.tuples(st.just("len")),
)
STEPS = st.one_of(st.floats(0, 3), st.floats(-2, 0), st.sampled_from([0.0, 1e-12, 1e6, -1e6]))


def run(b: Any, clock: FakeClock, op: tuple[Any, ...], use_clock: bool) -> Any:
    now = None if use_clock else clock.t
    try:
        if op[0] == "acquire":
            return b.try_acquire(op[1], op[2], now=now)
        if op[0] == "batch":
            return b.try_acquire_batch(op[1], now=now)
        if op[0] == "tokens":
            return b.tokens(op[1], now=now)
        if op[0] == "configure":
            return b.configure(op[1], op[2], op[3], now=now)
        if op[0] == "remove":
            return b.remove(op[1])
        if op[0] == "evict":
            return b.evict_idle(op[1], now=now)
        return len(b)
    except ValueError as e:
        return ("ValueError", str(e))


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(
    max_examples=int(os.environ.get("CCX_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.floats(1e-3, 1e4),
    st.floats(1, 100),
    st.floats(-1e6, 1e6),
    st.lists(st.tuples(STEPS, OPS, st.booleans()), max_size=60),
)
def test_native_and_reference_agree(
    rate: float, burst: float, start: float, steps: list[tuple[float, Any, bool]]
) -> None:
    clock = FakeClock(start)
    native = _native.TokenBuckets(rate, burst, clock=clock)
    reference = ref.TokenBuckets(rate, burst, clock=clock)
    for step, op, use_clock in steps:
        clock.t += step
        a = run(native, clock, op, use_clock)
        b = run(reference, clock, op, use_clock)
        assert close(a, b), (op, a, b)
    assert len(native) == len(reference)
