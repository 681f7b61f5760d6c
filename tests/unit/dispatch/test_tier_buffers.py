"""The worker's delivery buffers: stride scheduling over tiers, round-robin over tenants."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import cast

from aio_pika.abc import AbstractIncomingMessage

from ccx.dispatch.worker import CLASSES, WEIGHT, TierBuffers
from ccx.queue.names import Tier


@dataclass(frozen=True)
class Delivery:
    """Stands in for an AMQP delivery: the buffers only store it."""

    tier: Tier
    tenant: str
    n: int


def put(buffers: TierBuffers, tier: Tier, tenant: str, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        delivery = Delivery(tier, tenant, n)
        buffers.put(tier, tenant, cast(AbstractIncomingMessage, delivery))


def take(buffers: TierBuffers) -> Delivery:
    taken = buffers.take()
    assert taken is not None
    tier, delivery = taken
    assert isinstance(delivery, Delivery)
    assert delivery.tier is tier
    return delivery


def tiers_taken(buffers: TierBuffers, count: int) -> list[Tier]:
    return [take(buffers).tier for _ in range(count)]


def test_weights_are_8_4_2_1() -> None:
    assert WEIGHT == {Tier.CRITICAL: 8, Tier.HIGH: 4, Tier.DEFAULT: 2, Tier.LOW: 1}


def test_a_new_buffer_is_empty_and_not_ready() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    assert len(buffers) == 0
    assert not buffers.ready.is_set()
    assert buffers.take() is None


def test_put_sets_ready_and_counts() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.LOW, "acme", 2)
    put(buffers, Tier.DEFAULT, "globex", 1)
    assert buffers.ready.is_set()
    assert len(buffers) == 3


def test_take_on_empty_returns_none_and_clears_ready() -> None:
    buffers = TierBuffers(CLASSES["urgent"])
    put(buffers, Tier.HIGH, "acme", 1)
    assert take(buffers) == Delivery(Tier.HIGH, "acme", 0)
    assert len(buffers) == 0
    assert buffers.take() is None
    assert not buffers.ready.is_set()
    put(buffers, Tier.CRITICAL, "acme", 1)
    assert buffers.ready.is_set()


def test_one_tenant_in_one_tier_is_fifo() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.DEFAULT, "acme", 5)
    assert [take(buffers).n for _ in range(5)] == [0, 1, 2, 3, 4]


def test_default_gets_twice_the_turns_of_low() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.DEFAULT, "acme", 100)
    put(buffers, Tier.LOW, "acme", 100)
    counts = Counter(tiers_taken(buffers, 30))
    assert counts == {Tier.DEFAULT: 20, Tier.LOW: 10}


def test_critical_gets_twice_the_turns_of_high() -> None:
    buffers = TierBuffers(CLASSES["urgent"])
    put(buffers, Tier.HIGH, "acme", 100)
    put(buffers, Tier.CRITICAL, "acme", 100)
    counts = Counter(tiers_taken(buffers, 30))
    assert counts == {Tier.CRITICAL: 20, Tier.HIGH: 10}


def test_all_four_tiers_share_8_4_2_1() -> None:
    buffers = TierBuffers(tuple(Tier))
    for tier in Tier:
        put(buffers, tier, "acme", 100)
    counts = Counter(tiers_taken(buffers, 60))
    assert counts == {Tier.CRITICAL: 32, Tier.HIGH: 16, Tier.DEFAULT: 8, Tier.LOW: 4}


def test_low_is_served_within_one_round_of_weights() -> None:
    buffers = TierBuffers(tuple(Tier))
    for tier in Tier:
        put(buffers, tier, "acme", 100)
    assert Tier.LOW in tiers_taken(buffers, sum(WEIGHT.values()))


def test_ties_go_to_the_higher_tier() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.LOW, "acme", 3)
    put(buffers, Tier.DEFAULT, "acme", 3)
    assert take(buffers).tier is Tier.DEFAULT


def test_a_lone_tier_is_served_back_to_back() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.LOW, "acme", 4)
    assert tiers_taken(buffers, 4) == [Tier.LOW] * 4


def test_an_idle_tier_does_not_bank_credit() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.LOW, "acme", 100)
    tiers_taken(buffers, 10)  # only low was waiting: default was idle
    put(buffers, Tier.DEFAULT, "acme", 100)
    # default does not get the 20 turns it would have banked: low is back within 4 takes
    first = tiers_taken(buffers, 4)
    assert Tier.LOW in first
    counts = Counter(first + tiers_taken(buffers, 26))
    assert counts[Tier.LOW] >= 9


def test_tenants_in_one_tier_alternate() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.DEFAULT, "acme", 3)
    put(buffers, Tier.DEFAULT, "globex", 3)
    taken = [take(buffers) for _ in range(6)]
    assert [d.tenant for d in taken] == ["acme", "globex"] * 3
    assert [d.n for d in taken] == [0, 0, 1, 1, 2, 2]


def test_round_robin_over_three_tenants_skips_the_ones_that_ran_out() -> None:
    buffers = TierBuffers(CLASSES["urgent"])
    put(buffers, Tier.CRITICAL, "a", 3)
    put(buffers, Tier.CRITICAL, "b", 1)
    put(buffers, Tier.CRITICAL, "c", 2)
    tenants = [take(buffers).tenant for _ in range(6)]
    assert tenants == ["a", "b", "c", "a", "c", "a"]
    assert buffers.take() is None


def test_a_tenant_arriving_later_joins_the_end_of_the_rotation() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.LOW, "acme", 3)
    put(buffers, Tier.LOW, "globex", 3)
    assert take(buffers).tenant == "acme"  # rotation now: globex, acme
    put(buffers, Tier.LOW, "initech", 2)  # rotation: globex, acme, initech
    tenants = [take(buffers).tenant for _ in range(7)]
    assert tenants == ["globex", "acme", "initech", "globex", "acme", "initech", "globex"]


def test_round_robin_is_per_tier() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.DEFAULT, "acme", 4)
    put(buffers, Tier.DEFAULT, "globex", 4)
    put(buffers, Tier.LOW, "initech", 4)
    taken = [take(buffers) for _ in range(6)]
    assert [d.tenant for d in taken if d.tier is Tier.DEFAULT] == ["acme", "globex"] * 2
    assert [d.tenant for d in taken if d.tier is Tier.LOW] == ["initech"] * 2


def test_requeue_all_returns_everything_and_empties_the_buffers() -> None:
    buffers = TierBuffers(CLASSES["bulk"])
    put(buffers, Tier.DEFAULT, "acme", 2)
    put(buffers, Tier.LOW, "globex", 1)
    out = buffers.requeue_all()
    assert sorted((d.tier, d.tenant, d.n) for d in out if isinstance(d, Delivery)) == [
        (Tier.DEFAULT, "acme", 0),
        (Tier.DEFAULT, "acme", 1),
        (Tier.LOW, "globex", 0),
    ]
    assert len(out) == 3
    assert len(buffers) == 0
    assert buffers.take() is None
