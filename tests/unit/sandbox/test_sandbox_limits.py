from __future__ import annotations

import pytest

from ccx.sandbox.limits import LimitSettings, RateLimits, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_token_bucket_refills_continuously() -> None:
    bucket = TokenBucket(rate=2.0, capacity=2.0, now=0.0)
    assert bucket.take(0.0)
    assert bucket.take(0.0)
    assert not bucket.take(0.0)
    assert not bucket.take(0.4)
    assert bucket.take(0.5)
    assert bucket.refill(100.0) == 2.0


@pytest.mark.parametrize("tier", [20, 80, 1000])
def test_throughput_tier_per_second(clock: Clock, tier: int) -> None:
    limits = RateLimits(LimitSettings(throughput=tier, pair_enabled=False), clock)
    results = [limits.check("111", f"1555000{i:04d}") for i in range(tier + 5)]
    assert results[:tier] == [None] * tier
    assert results[tier:] == [130429] * 5
    clock.now += 1.0 / tier
    assert limits.check("111", "15550009999") is None
    assert limits.check("111", "15550009998") == 130429


def test_throughput_is_per_number(clock: Clock) -> None:
    limits = RateLimits(
        LimitSettings(throughput=80, throughput_by_number={"222": 20}, pair_enabled=False), clock
    )
    assert sum(limits.check("222", str(10**9 + i)) is None for i in range(40)) == 20
    assert sum(limits.check("111", str(10**9 + i)) is None for i in range(100)) == 80


def test_pair_limit_burst_45_then_one_per_6s(clock: Clock) -> None:
    limits = RateLimits(LimitSettings(throughput=1000), clock)
    results = [limits.check("111", "14085551234") for _ in range(46)]
    assert results[:45] == [None] * 45
    assert results[45] == 131056
    assert limits.check("111", "14085550000") is None  # other users are unaffected
    clock.now += 5.9
    assert limits.check("111", "14085551234") == 131056
    clock.now += 0.1
    assert limits.check("111", "14085551234") is None
    assert limits.check("111", "14085551234") == 131056


def test_rejected_send_takes_no_throughput_token(clock: Clock) -> None:
    limits = RateLimits(LimitSettings(throughput=50, pair_burst=1), clock)
    assert limits.check("111", "14085551234") is None
    for _ in range(100):
        assert limits.check("111", "14085551234") == 131056
    # the 100 pair rejections did not use the number's 49 remaining tokens
    assert sum(limits.check("111", str(10**9 + i)) is None for i in range(60)) == 49


def test_disabled_limits(clock: Clock) -> None:
    limits = RateLimits(LimitSettings(throughput_enabled=False, pair_enabled=False), clock)
    assert all(limits.check("111", "14085551234") is None for _ in range(500))


def test_configure_refills(clock: Clock) -> None:
    limits = RateLimits(LimitSettings(throughput=1, pair_enabled=False), clock)
    assert limits.check("111", "1") is None
    assert limits.check("111", "2") == 130429
    limits.configure(limits.settings.updated({"throughput": 2}))
    assert limits.check("111", "3") is None


def test_settings_update_validates() -> None:
    s = LimitSettings()
    assert s.updated({"pair_burst": 3}).pair_burst == 3
    assert s.updated({"throughput_by_number": {"1": 20}}).rate_for("1") == 20
    for bad, why in (
        ({"throughput": 0}, "1 msg/s"),
        ({"pair_interval_s": 0}, "pair"),
        ({"nope": 1}, "unknown"),
    ):
        with pytest.raises(ValueError, match=why):
            s.updated(bad)


def test_pair_buckets_are_pruned(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ccx.sandbox.limits._PRUNE_AT", 10)
    limits = RateLimits(LimitSettings(throughput_enabled=False), clock)
    for i in range(10):
        limits.check("111", str(i))
    clock.now += 60
    limits.check("111", "new")
    assert len(limits._pairs) == 1
