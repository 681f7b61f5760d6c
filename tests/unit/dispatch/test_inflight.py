"""The AIMD in-flight limit: slots, ranked waiters, growth and cuts, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from ccx.dispatch.inflight import AdaptiveLimit, LimitSettings
from ccx.dispatch.outcomes import Kind


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    clock: Clock,
    initial: int = 10,
    minimum: int = 2,
    maximum: int = 100,
    backoff: float = 0.5,
    latency_target_s: float = 1.0,
    cooldown_s: float = 1.0,
) -> AdaptiveLimit:
    settings = LimitSettings(initial, minimum, maximum, backoff, latency_target_s, cooldown_s)
    return AdaptiveLimit(settings, clock)


async def settle() -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(5):
        await asyncio.sleep(0)


async def send(limit: AdaptiveLimit, kind: Kind | None, latency_s: float = 0.0) -> None:
    await limit.acquire()
    limit.release(kind, latency_s)


async def acquire_and_log(limit: AdaptiveLimit, rank: int, name: str, log: list[str]) -> None:
    await limit.acquire(rank)
    log.append(name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


# -- slots -------------------------------------------------------------------------------------


async def test_acquires_up_to_the_limit_at_once_then_waits(clock: Clock) -> None:
    limit = make(clock, initial=3)
    for _ in range(3):
        await asyncio.wait_for(limit.acquire(), 1)
    assert limit.in_flight == 3
    fourth = asyncio.create_task(limit.acquire())
    await settle()
    assert not fourth.done()
    assert limit.waiting == 1
    limit.release()
    await settle()
    assert fourth.done()
    assert limit.in_flight == 3
    assert limit.waiting == 0


async def test_a_fractional_limit_counts_only_whole_slots(clock: Clock) -> None:
    limit = make(clock, initial=2, maximum=10)
    await send(limit, Kind.SENT)
    assert limit.limit == pytest.approx(2.5)
    await limit.acquire()
    await limit.acquire()
    third = asyncio.create_task(limit.acquire())
    await settle()
    assert not third.done()
    third.cancel()
    await settle()


async def test_a_newcomer_does_not_overtake_waiters(clock: Clock) -> None:
    limit = make(clock, initial=1, minimum=1)
    await limit.acquire()
    log: list[str] = []
    first = asyncio.create_task(acquire_and_log(limit, 3, "first", log))
    await settle()
    limit.release()  # the slot goes to the waiter, not to whoever asks next
    late = asyncio.create_task(acquire_and_log(limit, 0, "late", log))
    await settle()
    assert log == ["first"]
    assert first.done()
    assert not late.done()
    limit.release()
    await settle()
    assert log == ["first", "late"]


async def test_waiters_are_served_lowest_rank_first_fifo_within_a_rank(clock: Clock) -> None:
    limit = make(clock, initial=1, minimum=1)
    await limit.acquire()
    log: list[str] = []
    tasks = []
    for rank, name in [(3, "low-1"), (0, "crit-1"), (2, "def-1"), (3, "low-2"), (0, "crit-2")]:
        tasks.append(asyncio.create_task(acquire_and_log(limit, rank, name, log)))
        await settle()
    assert limit.waiting == 5
    for _ in tasks:
        limit.release()
        await settle()
    assert log == ["crit-1", "crit-2", "def-1", "low-1", "low-2"]
    assert limit.in_flight == 1


async def test_release_none_frees_the_slot_without_changing_the_limit(clock: Clock) -> None:
    limit = make(clock, initial=4)
    await send(limit, None, latency_s=60.0)
    assert limit.limit == 4.0
    assert limit.in_flight == 0


# -- additive increase -------------------------------------------------------------------------


async def test_sent_grows_the_limit_by_one_over_the_limit(clock: Clock) -> None:
    limit = make(clock, initial=4)
    await send(limit, Kind.SENT, 0.1)
    assert limit.limit == pytest.approx(4.25)
    await send(limit, Kind.SENT, 0.1)
    assert limit.limit == pytest.approx(4.25 + 1 / 4.25)
    assert limit.in_flight == 0


async def test_about_one_more_slot_per_round_of_successes(clock: Clock) -> None:
    limit = make(clock, initial=10)
    for _ in range(10):
        await send(limit, Kind.SENT)
    assert 10.9 < limit.limit < 11.0


async def test_growth_stops_at_the_maximum(clock: Clock) -> None:
    limit = make(clock, initial=4, maximum=5)
    for _ in range(100):
        await send(limit, Kind.SENT)
    assert limit.limit == 5.0


@pytest.mark.parametrize("kind", [Kind.RETRY, Kind.HOLD, Kind.TERMINAL])
async def test_other_fast_answers_leave_the_limit_alone(clock: Clock, kind: Kind) -> None:
    limit = make(clock, initial=10)
    await send(limit, kind, 0.2)
    assert limit.limit == 10.0


async def test_growth_past_a_whole_slot_admits_one_more_waiter(clock: Clock) -> None:
    limit = make(clock, initial=2, maximum=10)
    await limit.acquire()
    await limit.acquire()
    limit.limit = 2.9  # one more success crosses 3
    waiters = [asyncio.create_task(limit.acquire()) for _ in range(2)]
    await settle()
    assert limit.waiting == 2
    limit.release(Kind.SENT)  # +1/2.9: limit 3.24, so both waiters get a slot
    await settle()
    assert all(w.done() for w in waiters)
    assert limit.in_flight == 3


# -- multiplicative decrease -------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Kind.THROTTLE, Kind.AMBIGUOUS])
async def test_congestion_cuts_the_limit_by_the_backoff(clock: Clock, kind: Kind) -> None:
    limit = make(clock, initial=20, backoff=0.5)
    await send(limit, kind, 0.1)
    assert limit.limit == 10.0


@pytest.mark.parametrize("kind", [Kind.SENT, Kind.RETRY, Kind.TERMINAL])
async def test_latency_over_the_target_cuts_the_limit(clock: Clock, kind: Kind) -> None:
    limit = make(clock, initial=20, backoff=0.5, latency_target_s=1.0)
    await send(limit, kind, 1.5)
    assert limit.limit == 10.0


async def test_latency_at_the_target_is_not_congestion(clock: Clock) -> None:
    limit = make(clock, initial=20, latency_target_s=1.0)
    await send(limit, Kind.SENT, 1.0)
    assert limit.limit == pytest.approx(20.05)


async def test_one_cut_per_cooldown(clock: Clock) -> None:
    limit = make(clock, initial=40, minimum=1, backoff=0.5, cooldown_s=1.0)
    await send(limit, Kind.THROTTLE)
    await send(limit, Kind.AMBIGUOUS)
    await send(limit, Kind.SENT, 5.0)
    assert limit.limit == 20.0
    clock.now = 1000.75
    await send(limit, Kind.THROTTLE)
    assert limit.limit == 20.0
    clock.now = 1001.0  # a full cooldown after the first cut
    await send(limit, Kind.THROTTLE)
    assert limit.limit == 10.0
    clock.now = 1002.5
    await send(limit, Kind.THROTTLE)
    assert limit.limit == 5.0


async def test_congestion_inside_the_cooldown_does_not_grow_the_limit(clock: Clock) -> None:
    limit = make(clock, initial=40, backoff=0.5, cooldown_s=1.0)
    await send(limit, Kind.THROTTLE)
    await send(limit, Kind.SENT, 5.0)  # slow success inside the cooldown: neither cut nor grow
    assert limit.limit == 20.0


async def test_cuts_stop_at_the_minimum(clock: Clock) -> None:
    limit = make(clock, initial=10, minimum=4, backoff=0.5, cooldown_s=1.0)
    for _ in range(5):
        await send(limit, Kind.THROTTLE)
        clock.now += 1.0
    assert limit.limit == 4.0


async def test_a_cut_does_not_take_slots_back(clock: Clock) -> None:
    limit = make(clock, initial=4, minimum=1, backoff=0.5)
    for _ in range(4):
        await limit.acquire()
    limit.release(Kind.THROTTLE)  # limit 2, three still in flight
    assert limit.in_flight == 3
    waiter = asyncio.create_task(limit.acquire())
    await settle()
    limit.release()
    await settle()
    assert not waiter.done()  # 2 in flight: at the new limit
    limit.release()
    await settle()
    assert waiter.done()
    assert limit.in_flight == 2


# -- cancellation ------------------------------------------------------------------------------


async def test_a_cancelled_waiter_does_not_leak_a_slot(clock: Clock) -> None:
    limit = make(clock, initial=1, minimum=1)
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await settle()
    assert limit.waiting == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limit.waiting == 0
    limit.release()
    assert limit.in_flight == 0
    await asyncio.wait_for(limit.acquire(), 1)
    assert limit.in_flight == 1


async def test_a_waiter_cancelled_as_it_is_woken_passes_the_slot_on(clock: Clock) -> None:
    limit = make(clock, initial=1, minimum=1)
    await limit.acquire()
    log: list[str] = []
    first = asyncio.create_task(acquire_and_log(limit, 0, "first", log))
    second = asyncio.create_task(acquire_and_log(limit, 0, "second", log))
    await settle()
    limit.release()  # the slot is handed to `first`...
    first.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    await settle()
    assert log == ["second"]
    assert second.done()
    assert limit.in_flight == 1
    limit.release()
    assert limit.in_flight == 0


async def test_a_waiter_cancelled_as_it_is_woken_with_no_one_behind_frees_the_slot(
    clock: Clock,
) -> None:
    limit = make(clock, initial=1, minimum=1)
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await settle()
    limit.release()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limit.in_flight == 0
    assert limit.waiting == 0


# -- settings ----------------------------------------------------------------------------------


def test_default_settings_are_valid() -> None:
    settings = LimitSettings()
    assert settings.minimum <= settings.initial <= settings.maximum
    assert AdaptiveLimit().limit == float(settings.initial)


@pytest.mark.parametrize(
    ("minimum", "initial", "maximum"),
    [(0, 4, 8), (5, 4, 8), (1, 9, 8), (4, 4, 3), (-1, 0, 1)],
)
def test_settings_need_ordered_positive_bounds(minimum: int, initial: int, maximum: int) -> None:
    with pytest.raises(ValueError, match="minimum <= initial <= maximum"):
        LimitSettings(initial=initial, minimum=minimum, maximum=maximum)


@pytest.mark.parametrize(("minimum", "initial", "maximum"), [(1, 1, 1), (4, 4, 4), (1, 2, 3)])
def test_settings_accept_equal_bounds(minimum: int, initial: int, maximum: int) -> None:
    LimitSettings(initial=initial, minimum=minimum, maximum=maximum)


@pytest.mark.parametrize("backoff", [0.0, 1.0, -0.5, 1.5])
def test_settings_need_a_backoff_between_0_and_1(backoff: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        LimitSettings(backoff=backoff)
