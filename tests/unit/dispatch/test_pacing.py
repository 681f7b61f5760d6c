"""Per-number pacing with a fake clock: tiers, throttle halving, stepwise recovery."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ccx.dispatch import pacing
from ccx.dispatch.pacing import NumberPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> list[float]:
    """`asyncio.sleep` inside the pacing module advances the fake clock instead of waiting."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(pacing, "asyncio", SimpleNamespace(sleep=sleep))
    return slept


@pytest.fixture
def pacer(clock: Clock) -> NumberPacer:
    return NumberPacer(recover_s=10.0, floor=1.0, clock=clock)


async def drain(pacer: NumberPacer, number: str, tier: float, count: int) -> None:
    for _ in range(count):
        assert await pacer.wait(number, tier) == 0.0


# -- tiers -------------------------------------------------------------------------------------


def test_an_unknown_number_has_no_rate(pacer: NumberPacer) -> None:
    assert pacer.rate("n1") is None


async def test_wait_returns_zero_when_a_token_is_there(
    pacer: NumberPacer, sleeps: list[float]
) -> None:
    assert await pacer.wait("n1", 80.0) == 0.0
    assert sleeps == []
    assert pacer.rate("n1") == 80.0


async def test_the_tier_is_per_number(pacer: NumberPacer, sleeps: list[float]) -> None:
    await pacer.wait("n1", 80.0)
    await pacer.wait("n2", 250.0)
    assert pacer.rate("n1") == 80.0
    assert pacer.rate("n2") == 250.0


async def test_a_burst_of_one_second_at_the_tier_then_a_wait(
    pacer: NumberPacer, sleeps: list[float]
) -> None:
    await drain(pacer, "n1", 4.0, 4)
    assert sleeps == []
    assert await pacer.wait("n1", 4.0) == pytest.approx(0.25)
    assert sleeps == [pytest.approx(0.25)]


async def test_numbers_have_separate_buckets(pacer: NumberPacer, sleeps: list[float]) -> None:
    await drain(pacer, "n1", 2.0, 2)
    await drain(pacer, "n2", 2.0, 2)
    assert sleeps == []
    assert await pacer.wait("n1", 2.0) == pytest.approx(0.5)


async def test_tokens_come_back_with_time(pacer: NumberPacer, clock: Clock) -> None:
    await drain(pacer, "n1", 2.0, 2)
    clock.now += 1.0
    await drain(pacer, "n1", 2.0, 2)


async def test_a_slow_tier_still_bursts_one_message(
    pacer: NumberPacer, sleeps: list[float]
) -> None:
    await drain(pacer, "n1", 0.5, 1)
    assert await pacer.wait("n1", 0.5) == pytest.approx(2.0)
    assert sleeps == [1.0, 1.0]  # never one sleep longer than a second


async def test_a_new_tier_replaces_the_old_one(pacer: NumberPacer, sleeps: list[float]) -> None:
    await pacer.wait("n1", 80.0)
    pacer.throttled("n1")
    await pacer.wait("n1", 100.0)
    assert pacer.rate("n1") == 100.0


# -- throttling --------------------------------------------------------------------------------


async def test_throttled_halves_the_rate(pacer: NumberPacer, clock: Clock) -> None:
    await pacer.wait("n1", 80.0)
    pacer.throttled("n1")
    assert pacer.rate("n1") == 40.0
    clock.now += 1.0
    pacer.throttled("n1")
    assert pacer.rate("n1") == 20.0


async def test_a_burst_of_throttling_answers_cuts_once(pacer: NumberPacer, clock: Clock) -> None:
    await pacer.wait("n1", 80.0)
    for _ in range(10):  # the answers to one burst arrive together
        pacer.throttled("n1")
        clock.now += 0.05
    assert pacer.rate("n1") == 40.0


async def test_throttled_never_goes_below_the_floor(clock: Clock) -> None:
    pacer = NumberPacer(recover_s=10.0, floor=3.0, clock=clock)
    await pacer.wait("n1", 10.0)
    for _ in range(5):
        pacer.throttled("n1")
        clock.now += 1.0
    assert pacer.rate("n1") == 3.0


def test_throttled_for_an_unknown_number_is_ignored(pacer: NumberPacer) -> None:
    pacer.throttled("n1")
    assert pacer.rate("n1") is None


async def test_throttled_slows_the_bucket_down(pacer: NumberPacer, sleeps: list[float]) -> None:
    await pacer.wait("n1", 4.0)  # 3 tokens left
    pacer.throttled("n1")  # 2 msg/s, burst 2: tokens clamped to 2
    await drain(pacer, "n1", 4.0, 2)
    assert await pacer.wait("n1", 4.0) == pytest.approx(0.5)


# -- recovery ----------------------------------------------------------------------------------


async def test_no_recovery_before_recover_s(pacer: NumberPacer, clock: Clock) -> None:
    await pacer.wait("n1", 80.0)
    pacer.throttled("n1")
    clock.now += 9.9
    await pacer.wait("n1", 80.0)
    assert pacer.rate("n1") == 40.0


async def test_recovery_steps_up_by_a_quarter_per_period_up_to_the_tier(
    pacer: NumberPacer, clock: Clock
) -> None:
    await pacer.wait("n1", 80.0)
    pacer.throttled("n1")
    rates = []
    for _ in range(5):
        clock.now += 10.0
        await pacer.wait("n1", 80.0)
        rates.append(pacer.rate("n1"))
    assert rates == [50.0, 62.5, 78.125, 80.0, 80.0]


async def test_the_next_recovery_step_is_a_full_period_after_the_last(
    pacer: NumberPacer, clock: Clock
) -> None:
    await pacer.wait("n1", 80.0)
    pacer.throttled("n1")
    clock.now += 10.0
    await pacer.wait("n1", 80.0)
    assert pacer.rate("n1") == 50.0
    clock.now += 5.0
    await pacer.wait("n1", 80.0)
    assert pacer.rate("n1") == 50.0
    clock.now += 5.0
    await pacer.wait("n1", 80.0)
    assert pacer.rate("n1") == 62.5


async def test_a_new_throttle_restarts_the_recovery_period(
    pacer: NumberPacer, clock: Clock
) -> None:
    await pacer.wait("n1", 80.0)
    pacer.throttled("n1")
    clock.now += 8.0
    pacer.throttled("n1")
    clock.now += 8.0
    await pacer.wait("n1", 80.0)
    assert pacer.rate("n1") == 20.0
    clock.now += 2.0
    await pacer.wait("n1", 80.0)
    assert pacer.rate("n1") == 25.0


async def test_recovery_speeds_the_bucket_up(
    pacer: NumberPacer, clock: Clock, sleeps: list[float]
) -> None:
    await pacer.wait("n1", 8.0)
    pacer.throttled("n1")  # 4 msg/s
    clock.now += 10.0
    await drain(pacer, "n1", 8.0, 4)  # recovered to 5 msg/s; the bucket held 4 tokens
    assert pacer.rate("n1") == 5.0
    assert await pacer.wait("n1", 8.0) == pytest.approx(1 / 5)  # not 1/4


async def test_an_unthrottled_number_stays_at_its_tier(pacer: NumberPacer, clock: Clock) -> None:
    await pacer.wait("n1", 80.0)
    clock.now += 100.0
    await pacer.wait("n1", 80.0)
    assert pacer.rate("n1") == 80.0
