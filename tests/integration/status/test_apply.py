"""Applying Meta status updates on the real MongoDB-compatible server: routing by number,
lookup by opaque reference or wamid, precedence, duplicates, the worker race."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from ccx.config import Settings
from ccx.ids import new_message_id
from ccx.queue.hooks import HookNotifier
from ccx.sandbox.envelope import StatusEvent, build_envelope, encode
from ccx.security import DataKeys
from ccx.status.apply import Result, StatusApplier
from ccx.status.callbacks import NumberError, StatusUpdate, TemplateUpdate
from ccx.status.consumer import StatusConsumer
from ccx.store.messages import Message, MessageRepository, Status, now_ms
from ccx.store.mongo import Document
from ccx.store.names import NUMBER_ERRORS, tenant_db
from ccx.store.senders import SenderRepository
from ccx.store.templates import TemplateRepository
from ccx.store.transitions import Change, Transitions

AT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


@pytest.fixture
def number() -> str:
    return str(300000000000000 + int(new_message_id()[-6:], 36) % 10**9)


@pytest.fixture
async def repo(
    settings: Settings, mongo: AsyncMongoClient[Document], tenant: str, number: str
) -> MessageRepository:
    senders = SenderRepository(
        mongo[tenant_db(tenant)], DataKeys.from_settings(settings.security), tenant
    )
    await senders.put(number, waba_id="1", access_token="t", is_default=True)
    return MessageRepository(mongo[tenant_db(tenant)])


async def message_in(repo: MessageRepository, status: Status, wamid: str | None = None) -> Message:
    """A stored message moved through the states a worker would take it to `status`."""
    message = Message(
        id=new_message_id(), to="+447700900001", type="text", created_at=AT,
        status=Status.QUEUED, seq=2, text={"body": "hi"},
    )  # fmt: skip
    await repo.insert_many([message])
    moves = Transitions(repo)
    path = {
        Status.DISPATCHING: [Status.DISPATCHING],
        Status.UNDETERMINED: [Status.DISPATCHING, Status.UNDETERMINED],
        Status.SENT: [Status.DISPATCHING, Status.SENT],
        Status.DELIVERED: [Status.DISPATCHING, Status.SENT, Status.DELIVERED],
        Status.RETRYING: [Status.DISPATCHING, Status.RETRYING],
    }[status]
    current = Status.QUEUED
    for step in path:
        fields = {"attempt": 1} if step is Status.DISPATCHING else {}
        if step is Status.SENT and wamid:
            fields["wamid"] = wamid
        moved = await moves.transition(message.id, [current], step, None, **fields)
        assert moved is not None
        current = step
    found = await repo.get(message.id)
    assert found is not None
    return found


def update(
    number: str, status: str, message: Message | None, wamid: str = "wamid.A"
) -> StatusUpdate:
    return StatusUpdate(
        phone_number_id=number,
        wamid=wamid,
        status=status,
        at=AT + timedelta(seconds=5),
        message_id=message.id if message else None,
        attempt=1 if message else None,
        pricing={"type": "regular", "category": "utility"} if status == "sent" else None,
    )


async def test_an_undetermined_message_is_resolved_by_its_callbacks(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    message = await message_in(repo, Status.UNDETERMINED)
    for status in ("sent", "delivered", "read"):
        assert await applier.apply(update(number, status, message)) is Result.APPLIED
    done = await repo.get(message.id)
    assert done is not None
    assert (done.status, done.wamid) == (Status.READ, "wamid.A")
    assert done.extra["pricing"] == {"type": "regular", "category": "utility"}
    assert done.extra["read_at"] == AT + timedelta(seconds=5)
    steps = [e["to"] for e in await repo.history(done)]
    assert steps[-4:] == ["undetermined", "sent", "delivered", "read"]


async def test_duplicates_and_late_lower_statuses_change_nothing(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    message = await message_in(repo, Status.SENT, wamid="wamid.A")
    assert await applier.apply(update(number, "read", message)) is Result.APPLIED
    for late in ("read", "delivered", "sent", "failed"):
        assert await applier.apply(update(number, late, message)) is Result.STALE
    done = await repo.get(message.id)
    assert done is not None
    assert done.status is Status.READ
    assert done.extra["delivered_at"] == AT + timedelta(seconds=5)  # implied by read
    history = await repo.history(done)
    assert [(e["to"], e.get("implied_by")) for e in history[-3:]] == [
        ("sent", None),
        ("delivered", "read"),
        ("read", None),
    ]


async def test_a_message_moved_after_the_walk_is_moved_on_its_true_state(
    mongo: AsyncMongoClient[Document],
    settings: Settings,
    repo: MessageRepository,
    number: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The walk saw `undetermined`, but another callback recorded `sent` before the
    applier's insert: the insert loses, and the rest is applied on the true state (no second
    `sent`)."""
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    message = await message_in(repo, Status.UNDETERMINED, wamid="wamid.A")
    true_walk = Transitions.current_state
    walks = 0

    async def walk_then_lose_the_race(
        self: Transitions, found: Message
    ) -> tuple[Status, int, Document | None]:
        nonlocal walks
        walks += 1
        seen = await true_walk(self, found)
        if walks == 1:
            rival = Change(message.id, seen[1], Status.UNDETERMINED, Status.SENT)
            assert await Transitions(repo).apply([rival]) == [True]
        return seen

    monkeypatch.setattr(Transitions, "current_state", walk_then_lose_the_race)
    assert await applier.apply(update(number, "delivered", message)) is Result.APPLIED
    assert walks > 1  # the careful path ran
    done = await repo.get(message.id)
    assert done is not None
    assert done.status is Status.DELIVERED
    tail = [e["to"] for e in await repo.history(done)][-3:]
    assert tail == ["undetermined", "sent", "delivered"]
    await applier.close()


async def test_a_projection_behind_its_events_is_caught_by_the_fenced_insert(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    """The document says `sent` (its `delivered` event not projected yet): the applier does
    not walk first, its insert of `delivered` finds the seq taken, and `read` is recorded on
    the true state, once."""
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    message = await message_in(repo, Status.DELIVERED, wamid="wamid.A")
    await repo.messages.update_one(
        {"_id": message.id}, {"$set": {"status": "sent", "seq": message.seq - 1}}
    )
    assert await applier.apply(update(number, "read", message)) is Result.APPLIED
    done = await repo.get(message.id)
    assert done is not None
    assert (done.status, done.seq) == (Status.READ, message.seq + 1)
    assert [e["to"] for e in await repo.history(done)][-3:] == ["sent", "delivered", "read"]
    await applier.close()


async def test_a_document_behind_a_claim_is_walked_before_the_status_is_judged(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    """The worker's claim is its event only, so the document says `queued` while Meta's
    `delivered` may already come: judged on `queued` it would be dropped as not applying."""
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    message = await message_in(repo, Status.DISPATCHING)
    await repo.messages.update_one(
        {"_id": message.id}, {"$set": {"status": "queued", "seq": message.seq - 1}}
    )
    assert await applier.apply(update(number, "delivered", message)) is Result.APPLIED
    done = await repo.get(message.id)
    assert done is not None
    assert done.status is Status.DELIVERED
    assert [e["to"] for e in await repo.history(done)][-3:] == ["dispatching", "sent", "delivered"]
    await applier.close()


async def test_found_by_wamid_without_an_opaque_reference(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    message = await message_in(repo, Status.SENT, wamid="wamid.B")
    failed = StatusUpdate(
        number, "wamid.B", "failed", AT, errors=[{"code": 131026, "title": "Undeliverable"}]
    )
    assert await applier.apply(failed) is Result.APPLIED
    done = await repo.get(message.id)
    assert done is not None
    assert done.status is Status.FAILED
    assert done.extra["error"]["code"] == 131026


async def test_a_callback_that_beats_the_send_answer_wins_over_the_workers_outcome(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    message = await message_in(repo, Status.DISPATCHING)
    assert await applier.apply(update(number, "sent", message)) is Result.APPLIED
    # the worker's own outcome write, from the claim's seq, now loses its fenced insert
    late = Change(message.id, message.seq, Status.DISPATCHING, Status.UNDETERMINED)
    assert await Transitions(repo).apply([late]) == [False]
    done = await repo.get(message.id)
    assert done is not None
    assert done.status is Status.SENT


async def test_a_worker_projection_landing_after_the_callbacks_is_repaired(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    """The worker recorded `sent`; Meta's `delivered` is applied before the worker's
    projection lands, and that projection then overwrites the newer one: the callback's
    check a moment later puts the document back on its events."""
    applier = StatusApplier(mongo, settings.mongo.platform_db, settle_s=0.3)
    message = await message_in(repo, Status.DISPATCHING)
    moves = Transitions(repo)
    outcome = Change(
        message.id, message.seq, Status.DISPATCHING, Status.SENT, fields={"wamid": "wamid.A"}
    )
    at = now_ms()
    assert await moves._record([outcome], at, "wk_test", False) == [True]  # event, no projection
    assert await applier.apply(update(number, "delivered", message)) is Result.APPLIED
    await moves._project([outcome], at)  # the worker's projection, late
    stale = await repo.get(message.id)
    assert stale is not None
    assert (stale.status, stale.seq) == (Status.SENT, message.seq + 1)
    await asyncio.sleep(0.6)
    done = await repo.get(message.id)
    assert done is not None
    assert (done.status, done.seq) == (Status.DELIVERED, message.seq + 2)
    assert done.wamid == "wamid.A"
    await applier.close()


async def test_a_callback_on_an_up_to_date_projection_checks_nothing_later(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    applier = StatusApplier(mongo, settings.mongo.platform_db, settle_s=0.3)
    message = await message_in(repo, Status.SENT, wamid="wamid.A")
    assert await applier.apply(update(number, "delivered", message)) is Result.APPLIED
    assert not applier._settling
    await applier.close()


async def test_a_retrying_message_meta_did_send_is_not_retried(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    message = await message_in(repo, Status.RETRYING)
    assert await applier.apply(update(number, "delivered", message)) is Result.APPLIED
    done = await repo.get(message.id)
    assert done is not None
    assert done.status is Status.DELIVERED


async def test_unknown_numbers_and_messages(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    assert await applier.apply(update("999999999999999", "sent", None)) is Result.UNKNOWN_NUMBER
    assert (
        await applier.apply(update(number, "sent", None, "wamid.nobody")) is Result.UNKNOWN_MESSAGE
    )


async def test_a_template_review_and_a_number_error_are_recorded(
    mongo: AsyncMongoClient[Document],
    settings: Settings,
    repo: MessageRepository,
    number: str,
    tenant: str,
) -> None:
    templates = TemplateRepository(mongo[tenant_db(tenant)])
    definition = {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Order {{1}} is on its way."}],
    }
    await templates.put(definition, "APPROVED")
    applier = StatusApplier(mongo, settings.mongo.platform_db)
    paused = TemplateUpdate("1", "order_update", "en_US", "PAUSED", "NONE", AT)
    assert await applier.apply_template(paused) >= 1
    record = await templates.get("order_update", "en_US")
    assert record is not None
    assert record.status == "PAUSED"
    assert not record.sendable
    unknown = TemplateUpdate("1", "no_such", "en_US", "APPROVED", None, AT)
    assert await applier.apply_template(unknown) == 0

    error = NumberError(number, 130429, "Rate limit hit", "too many messages")
    assert await applier.record_error(error, AT)
    stored = await mongo[tenant_db(tenant)][NUMBER_ERRORS].find_one({"phone_number_id": number})
    assert stored is not None
    assert (stored["code"], stored["title"]) == (130429, "Rate limit hit")
    assert not await applier.record_error(NumberError("999", 1, None, None), AT)


# -- the consumer's notices to the webhook delivery worker --------------------------------


class _Notices(HookNotifier):
    def __init__(self) -> None:
        super().__init__(None)
        self.ids: list[str] = []

    async def changed(self, tenant: str, message_ids: Iterable[str]) -> None:
        self.ids += message_ids


@dataclasses.dataclass
class _Delivery:
    body: bytes
    redelivered: bool
    acked: bool = False
    headers: dict[str, Any] = dataclasses.field(default_factory=dict)

    async def ack(self) -> None:
        self.acked = True


def _callback(number: str, message: Message, status: str) -> bytes:
    event = StatusEvent(
        "wamid.A", status, int(AT.timestamp()) + 5, "447700900001", number, "+1 555 0100",
        "1", "utility", "conv-1", f"{message.id}.1",
    )  # fmt: skip
    return encode(build_envelope([event]))


async def test_a_stale_callback_notices_only_when_it_is_a_redelivery(
    mongo: AsyncMongoClient[Document], settings: Settings, repo: MessageRepository, number: str
) -> None:
    """Meta's `sent` after the worker recorded it changes nothing: no notice. The same
    callback redelivered (the consumer may have died before noticing) notices again."""
    consumer = StatusConsumer(mongo, settings.mongo.platform_db)
    consumer.notifier = notices = _Notices()
    message = await message_in(repo, Status.SENT, wamid="wamid.A")

    stale = _Delivery(_callback(number, message, "sent"), redelivered=False)
    await consumer.handle(stale)  # type: ignore[arg-type]
    assert stale.acked
    assert notices.ids == []

    again = _Delivery(_callback(number, message, "sent"), redelivered=True)
    await consumer.handle(again)  # type: ignore[arg-type]
    assert again.acked
    assert notices.ids == [message.id]

    moved = _Delivery(_callback(number, message, "delivered"), redelivered=False)
    await consumer.handle(moved)  # type: ignore[arg-type]
    assert moved.acked
    assert notices.ids == [message.id, message.id]
    await consumer.close()
