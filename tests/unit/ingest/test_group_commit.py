"""GroupCommitter batching rules with small in-memory stand-ins for the store, the
idempotency store and the publisher (the real ones are in tests/integration/ingest)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ccx.ingest.accept import AcceptItem, GroupCommitter
from ccx.ingest.errors import ConflictError, DependencyUnavailable
from ccx.ingest.idempotency import IdemRequest, Outcome, Reservation
from ccx.queue.publisher import Dispatch
from ccx.store.messages import InsertOutcome, Message

REQUEST = {"to": "+5511999998888", "type": "text", "text": {"body": "hi"}, "priority": "high"}


@dataclass
class FakeStore:
    inserts: list[list[str]] = field(default_factory=list)
    fail: bool = False
    #: the insert writes, then times out (the answer is lost, not the write)
    lands_then_times_out: bool = False
    #: the check of what landed fails too
    blind: bool = False
    stored: set[str] = field(default_factory=set)
    discarded: list[str] = field(default_factory=list)
    db: Any = None

    async def insert_many(self, messages: list[Message]) -> InsertOutcome:
        if self.lands_then_times_out:
            self.stored.update(m.id for m in messages)
            raise TimeoutError("socket timed out")
        if self.fail:
            raise ConnectionError("mongo down")
        self.inserts.append([m.id for m in messages])
        self.stored.update(m.id for m in messages)
        return InsertOutcome([m.id for m in messages], [], {})

    async def existing(self, ids: list[str]) -> set[str]:
        if self.blind:
            raise ConnectionError("mongo down")
        return self.stored & set(ids)

    async def discard(self, ids: list[str]) -> None:
        self.discarded += ids
        self.stored -= set(ids)

    async def append_events(self, events: list[Any]) -> InsertOutcome:
        return InsertOutcome([], [], {})


@dataclass
class FakeIdempotency:
    records: dict[tuple[str, str], tuple[str, str, datetime]] = field(default_factory=dict)
    calls: int = 0
    released: list[str] = field(default_factory=list)

    async def reserve_many(self, requests: list[IdemRequest]) -> list[Reservation]:
        self.calls += 1
        answers = []
        for r in requests:
            held = self.records.get((r.tenant, r.key))
            if held is None:
                self.records[(r.tenant, r.key)] = (r.fingerprint, r.message_id, r.created_at)
                answers.append(Reservation(r, Outcome.NEW, r.message_id, r.created_at))
                continue
            outcome = Outcome.REPLAY if held[0] == r.fingerprint else Outcome.CONFLICT
            answers.append(Reservation(r, outcome, held[1], held[2], durable=False))
        return answers

    async def commit(self, reservations: list[Reservation]) -> None:
        pass

    async def release(self, reservations: list[Reservation]) -> None:
        for res in reservations:
            self.released.append(res.request.key)
            del self.records[(res.request.tenant, res.request.key)]


@dataclass
class FakePublisher:
    ready: bool = True
    fail: bool = False
    batches: list[list[Dispatch]] = field(default_factory=list)

    async def publish_batch(self, items: list[Dispatch]) -> list[bool | Exception]:
        self.batches.append(list(items))
        return [ConnectionError("nack") if self.fail else True for _ in items]


def _committer(
    **kw: Any,
) -> tuple[GroupCommitter, dict[str, FakeStore], FakeIdempotency, FakePublisher]:
    stores: dict[str, FakeStore] = {}
    idem, publisher = FakeIdempotency(), FakePublisher()
    committer = GroupCommitter(
        lambda t: stores.setdefault(t, FakeStore()),  # type: ignore[arg-type,return-value]
        idem,  # type: ignore[arg-type]
        publisher,  # type: ignore[arg-type]
        **kw,
    )
    return committer, stores, idem, publisher


async def test_requests_inside_the_window_share_every_round_trip() -> None:
    committer, stores, idem, publisher = _committer(window_ms=5)
    items = [
        AcceptItem("acme", REQUEST, idempotency_key=f"k{i}" if i % 2 else None) for i in range(10)
    ]
    answers = await asyncio.gather(*(committer.submit(i) for i in items))
    await committer.close()
    assert [sorted(batch) for batch in stores["acme"].inserts] == [sorted(a.id for a in answers)]
    assert idem.calls == 1
    assert [len(batch) for batch in publisher.batches] == [10]
    assert committer.unconfirmed == 0
    assert all(d.priority == "high" for d in publisher.batches[0])


async def test_max_batch_splits_and_tenants_get_one_insert_each() -> None:
    committer, stores, _, _ = _committer(max_batch=4)
    items = [AcceptItem("acme" if i % 2 else "globex", REQUEST) for i in range(10)]
    await asyncio.gather(*(committer.submit(i) for i in items))
    await committer.close()
    assert [len(b) for b in stores["acme"].inserts] == [2, 2, 1]
    assert [len(b) for b in stores["globex"].inserts] == [2, 2, 1]


async def test_followers_in_the_same_batch_replay_the_leader_or_conflict() -> None:
    committer, stores, _, publisher = _committer()
    same = AcceptItem("acme", {**REQUEST, "idempotency_key": "k"})
    other = AcceptItem("acme", {**REQUEST, "to": "+5511000000000", "idempotency_key": "k"})
    results = await asyncio.gather(
        committer.submit(same),
        committer.submit(same),
        committer.submit(other),
        return_exceptions=True,
    )
    await committer.close()
    first, second, third = results
    assert not isinstance(first, BaseException)
    assert not isinstance(second, BaseException)
    assert (first.replayed, second.replayed, second.id) == (False, True, first.id)
    assert isinstance(third, ConflictError)
    assert [len(b) for b in stores["acme"].inserts] == [1]
    assert len(publisher.batches[0]) == 1


async def test_broker_down_fails_before_anything_is_written() -> None:
    committer, stores, idem, publisher = _committer()
    publisher.ready = False
    with pytest.raises(DependencyUnavailable) as caught:
        await committer.submit(AcceptItem("acme", REQUEST, idempotency_key="k"))
    assert caught.value.dependency == "rabbitmq"
    assert (stores, idem.calls, publisher.batches) == ({}, 0, [])


async def test_store_down_gives_the_keys_back_and_publishes_nothing() -> None:
    committer, stores, idem, publisher = _committer()
    stores["acme"] = FakeStore(fail=True)
    with pytest.raises(DependencyUnavailable) as caught:
        await committer.submit(AcceptItem("acme", REQUEST, idempotency_key="k"))
    assert caught.value.dependency == "mongodb"
    assert idem.released == ["k"]
    assert publisher.batches == []


async def test_an_insert_that_landed_before_its_timeout_is_accepted_and_published() -> None:
    committer, stores, idem, publisher = _committer()
    stores["acme"] = FakeStore(lands_then_times_out=True)
    accepted = await committer.submit(AcceptItem("acme", REQUEST, idempotency_key="k"))
    await committer.close()
    assert accepted.id in stores["acme"].stored
    assert idem.released == []  # the key stays with the stored message
    assert [[d.message_id for d in b] for b in publisher.batches] == [[accepted.id]]


async def test_an_insert_nobody_can_account_for_is_undone_and_refused() -> None:
    committer, stores, idem, publisher = _committer()
    stores["acme"] = FakeStore(lands_then_times_out=True, blind=True)
    with pytest.raises(DependencyUnavailable):
        await committer.submit(AcceptItem("acme", REQUEST, idempotency_key="k"))
    assert stores["acme"].stored == set()  # deleted: the 503 is true
    assert len(stores["acme"].discarded) == 1
    assert idem.released == ["k"]
    assert publisher.batches == []


async def test_publish_failure_after_the_insert_still_accepts() -> None:
    committer, stores, _, publisher = _committer()
    publisher.fail = True
    accepted = await committer.submit(AcceptItem("acme", REQUEST))
    await committer.close()
    assert (accepted.status, accepted.replayed) == ("accepted", False)
    assert stores["acme"].inserts == [[accepted.id]]
    assert committer.unconfirmed == 1  # kept in memory for the retry
    assert committer.low_watermark() == accepted.created_at
    assert await committer.retry_unconfirmed(60) == 0  # too young to retry
    publisher.fail = False
    assert await committer.retry_unconfirmed(0, accepted.created_at + timedelta(seconds=1)) == 1
    assert committer.unconfirmed == 0
    assert [[d.message_id for d in b] for b in publisher.batches][-1] == [accepted.id]


async def test_bad_priority_or_tenant_is_refused_at_submit() -> None:
    committer, _, _, _ = _committer()
    with pytest.raises(ValueError, match="urgent"):
        await committer.submit(AcceptItem("acme", {**REQUEST, "priority": "urgent"}))
    with pytest.raises(ValueError, match="tenant"):
        await committer.submit(AcceptItem("../x", REQUEST))


@dataclass
class GatedStore(FakeStore):
    """An insert that waits for the test to open the gate; counts inserts in flight."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    most_in_flight: int = 0

    async def insert_many(self, messages: list[Message]) -> InsertOutcome:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            return await super().insert_many(messages)
        finally:
            self.in_flight -= 1


def _gated(concurrency: int) -> tuple[GroupCommitter, GatedStore]:
    committer, stores, _, _ = _committer(window_ms=1, concurrency=concurrency)
    store = stores["acme"] = GatedStore()
    return committer, store


async def _settle_in(store: GatedStore, in_flight: int) -> None:
    for _ in range(200):
        if store.in_flight == in_flight:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{store.in_flight} inserts in flight, expected {in_flight}")


@pytest.mark.parametrize("concurrency", [1, 2, 3])
async def test_at_most_concurrency_commits_are_in_flight(concurrency: int) -> None:
    committer, store = _gated(concurrency)
    answers = []
    for _ in range(concurrency + 2):  # each submit after the one before is being inserted
        answers.append(asyncio.ensure_future(committer.submit(AcceptItem("acme", REQUEST))))
        await asyncio.sleep(0.01)
    await _settle_in(store, concurrency)
    assert not any(a.done() for a in answers)
    store.gate.set()
    accepted = await asyncio.gather(*answers)
    await committer.close()
    assert store.most_in_flight == concurrency
    assert sorted(i for batch in store.inserts for i in batch) == sorted(a.id for a in accepted)
    # the requests that waited for a free slot formed one batch
    assert len(store.inserts[-1]) == 2


async def test_the_watermark_covers_messages_not_written_yet() -> None:
    committer, store = _gated(1)
    later = datetime(2100, 1, 1, tzinfo=UTC)
    first = asyncio.ensure_future(committer.submit(AcceptItem("acme", REQUEST)))
    await asyncio.sleep(0)  # built and queued, the window not over
    queued_low = committer.low_watermark(later)
    await _settle_in(store, 1)  # now being written
    writing_low = committer.low_watermark(later)
    store.gate.set()
    accepted = await first
    await committer.close()
    assert queued_low == writing_low == accepted.created_at
    assert committer.low_watermark(later) == later  # published: nothing left to cover


async def test_the_watermark_never_skips_a_message_between_queue_and_insert() -> None:
    committer, store = _gated(1)
    later = datetime(2100, 1, 1, tzinfo=UTC)
    seen: list[datetime] = []
    done = asyncio.Event()

    async def beat_every_turn() -> None:  # what the writer beat could see at any moment
        while not done.is_set():
            seen.append(committer.low_watermark(later))
            await asyncio.sleep(0)

    answer = asyncio.ensure_future(committer.submit(AcceptItem("acme", REQUEST)))
    await asyncio.sleep(0)  # built and queued
    poller = asyncio.ensure_future(beat_every_turn())
    await _settle_in(store, 1)
    store.gate.set()
    accepted = await answer
    await committer.settle()
    done.set()
    await poller
    # every look before the publish was confirmed covers the message; none went past it
    assert seen[0] == accepted.created_at
    assert all(low in (accepted.created_at, later) for low in seen)
    assert seen.index(later) > seen.index(accepted.created_at)
    assert accepted.created_at not in seen[seen.index(later) :]
