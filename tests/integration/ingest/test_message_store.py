"""MessageRepository on the real FerretDB: batch insert, paging, accepted → queued, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from ccx.ids import new_message_id
from ccx.store.messages import Message, MessageRepository, Status, decode_cursor, now_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.transitions import Change, Transitions


def _message(created_at: datetime, **kw: object) -> Message:
    return Message(
        id=new_message_id(),
        to="+5511999998888",
        type="text",
        text={"body": "hi"},
        created_at=created_at,
        **kw,  # type: ignore[arg-type]
    )


async def test_insert_get_list_queue_and_events(
    mongo: AsyncMongoClient[Document], tenant: str
) -> None:
    repo = MessageRepository(mongo[tenant_db(tenant)])
    base = now_ms() - timedelta(minutes=5)
    messages = [_message(base + timedelta(seconds=i // 2)) for i in range(7)]  # equal times too
    outcome = await repo.insert_many(messages)
    assert outcome.inserted == [m.id for m in messages]
    again = await repo.insert_many([messages[0], _message(base)])
    assert again.duplicates == [messages[0].id]
    assert len(again.inserted) == 1
    everything = [*messages, _message(base)]
    everything[-1].id = again.inserted[0]

    got = await repo.get(messages[3].id)
    assert got is not None
    assert got.to == "+5511999998888"
    assert got.created_at == messages[3].created_at
    assert got.created_at.tzinfo is not None
    assert (got.status, got.attempt, got.fence, got.lease, got.wamid) == (
        "accepted",
        0,
        0,
        None,
        None,
    )

    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await repo.list(limit=3, cursor=cursor)
        seen += [m.id for m in page]
        if cursor is None:
            break
        decode_cursor(cursor)
    expected = sorted(everything, key=lambda m: (m.created_at, m.id), reverse=True)
    assert seen == [m.id for m in expected]

    moves = Transitions(repo)
    moved = await moves.transition(messages[0].id, [Status.ACCEPTED], Status.CANCELLED)
    assert moved is not None
    assert (moved.status, moved.seq) == (Status.CANCELLED, 2)
    assert await moves.transition(messages[0].id, [Status.ACCEPTED], Status.CANCELLED) is None
    history = await repo.history(moved)
    assert [(e["seq"], e["to"]) for e in history] == [(1, "accepted"), (2, "cancelled")]
    cancelled, _ = await repo.list(status=Status.CANCELLED)
    assert [m.id for m in cancelled] == [messages[0].id]
    window, _ = await repo.list(created_from=base, created_to=base + timedelta(seconds=1))
    assert {m.id for m in window} == {messages[0].id, messages[1].id, everything[-1].id}

    since = base + timedelta(seconds=30)
    old = _message(base, status=Status.QUEUED, writer="w_test")
    mine = _message(since, status=Status.QUEUED, writer="w_test")
    gone = _message(since, status=Status.CANCELLED, writer="w_test")
    theirs = _message(since, status=Status.QUEUED, writer="w_other")
    await repo.insert_many([old, mine, gone, theirs])
    assert [m.id for m in await repo.written_since("w_test", since)] == [mine.id]
    history = await repo.history(messages[0])
    assert [(e["seq"], e["to"]) for e in history] == [(1, "accepted"), (2, "cancelled")]

    at = datetime.now(UTC)
    assert await repo.append_event(messages[1].id, 1, None, "accepted", at, "t" * 32)
    assert await repo.append_event(messages[1].id, 2, "accepted", "queued", at, None, attempt=0)
    assert not await repo.append_event(messages[1].id, 2, "accepted", "queued", at, None)
    events = await repo.list_events(messages[1].id)
    assert [(e["seq"], e["to"]) for e in events] == [(1, "accepted"), (2, "queued")]

    with pytest.raises(ValueError, match="cursor"):
        await repo.list(cursor="garbage")


class _RacedRepair(Transitions):
    """A repair whose first walk of the events is overtaken by the holder's next transition,
    projected before the repair writes what it saw."""

    def __init__(self, repo: MessageRepository, holder: Transitions, change: Change) -> None:
        super().__init__(repo)
        self.holder, self.change, self.walks = holder, change, 0

    async def current_state(self, message: Message) -> tuple[Status, int, Document | None]:
        seen = await super().current_state(message)
        self.walks += 1
        if self.walks == 1:
            assert await self.holder.apply([self.change]) == [True]
        return seen


async def test_a_repair_never_leaves_an_older_state_over_a_newer_one(
    mongo: AsyncMongoClient[Document], tenant: str
) -> None:
    repo = MessageRepository(mongo[tenant_db(tenant)])
    message = _message(now_ms())
    await repo.insert_many([message])
    # the holder's claim event is in, its projection not yet
    assert await repo.append_event(message.id, 2, "accepted", "dispatching", now_ms(), None)
    sent = Change(message.id, 2, Status.DISPATCHING, Status.SENT, None, {"wamid": "wamid.R"})
    loser = _RacedRepair(repo, Transitions(repo), sent)
    stale = await repo.get(message.id)
    assert stale is not None
    assert stale.status == Status.ACCEPTED

    repaired = await loser.repair(stale)

    assert (repaired.status, repaired.seq, repaired.wamid) == (Status.SENT, 3, "wamid.R")
    stored = await repo.get(message.id)
    assert stored is not None
    assert (stored.status, stored.seq) == (Status.SENT, 3)
    assert loser.walks >= 2


async def test_existing_and_discard_answer_for_a_batch_of_ids(
    mongo: AsyncMongoClient[Document], tenant: str
) -> None:
    repo = MessageRepository(mongo[tenant_db(tenant)])
    stored = [_message(now_ms()) for _ in range(3)]
    await repo.insert_many(stored)
    never = new_message_id()
    ids = [m.id for m in stored]
    assert await repo.existing([*ids, never]) == set(ids)
    await repo.discard([ids[0], never])
    assert await repo.existing([*ids, never]) == set(ids[1:])


async def test_a_claim_recorded_without_its_projection_is_projected_by_the_next_change(
    mongo: AsyncMongoClient[Document], tenant: str
) -> None:
    """The worker's claim: its event only (the document still reads `queued`, every decision
    still sees `dispatching`); its outcome then projects both."""
    repo = MessageRepository(mongo[tenant_db(tenant)])
    message = _message(now_ms(), status=Status.QUEUED, seq=2)
    await repo.insert_many([message])
    moves = Transitions(repo)
    claim = Change(
        message.id, 2, Status.QUEUED, Status.DISPATCHING, None,
        {"attempt": 1, "lease": {"owner": "wk_test", "until": now_ms()}},
    )  # fmt: skip
    assert await moves.apply([claim], "wk_test", project=False) == [True]
    unprojected = await repo.get(message.id)
    assert unprojected is not None
    assert (unprojected.status, unprojected.seq, unprojected.attempt) == (Status.QUEUED, 2, 0)
    status, seq, _ = await moves.current_state(unprojected)
    assert (status, seq) == (Status.DISPATCHING, 3)
    history = await repo.history(unprojected)  # the claim is there, past the projection
    assert [(e["seq"], e["to"]) for e in history] == [
        (1, "accepted"),
        (2, "queued"),  # implied by seq 2: queued when written
        (3, "dispatching"),
    ]
    # a cancel decides on the true state: nothing to cancel mid-send
    assert await moves.transition(message.id, [Status.QUEUED], Status.CANCELLED) is None

    sent = Change(
        message.id, 3, Status.DISPATCHING, Status.SENT, None,
        {"wamid": "wamid.X", "lease": None}, carry=claim.fields,
    )  # fmt: skip
    assert await moves.apply([sent], "wk_test") == [True]
    done = await repo.get(message.id)
    assert done is not None
    assert (done.status, done.seq, done.attempt, done.lease) == (Status.SENT, 4, 1, None)
    events = await repo.list_events(message.id)
    assert [e["to"] for e in events][-2:] == ["dispatching", "sent"]
    assert "attempt" not in events[-1]  # carried onto the document, not onto the sent event
