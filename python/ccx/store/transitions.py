"""State changes of messages: the event log is the truth, the message document a projection.

A transition is the insert of its event `<message_id>.<seq>` (`_id` is unique): of two actors
that race for the same next state change (two workers given the same message, a worker and a
cancel, a worker whose lease expired and the sweeper), exactly one insert succeeds. `seq` is
the fencing counter: an actor that moves a message from seq n writes event n+1, which fails
if anyone else already did. Only the winner then copies the new state onto the message
document, with an update by `_id` alone.

Why not the single conditional update of ARCHITECTURE §4: an update with a filter beyond `_id`
is not pushed down by FerretDB v1 (tests, benchmarks) and decodes the whole collection (1.2 s
per update at 20,000 messages), while an insert and an update by `_id` cost 2-3 ms. The
guarantee is the same: one atomic single-document write decides each claim.

The projection can lag its event for a moment (the winner writes it right after) or be left
behind if the winner dies in between; `current_state` walks the events past the projection,
so every decision is made on the true state, and `repair` rewrites a stale projection.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument, UpdateOne

from ccx.store.messages import (
    Message,
    MessageRepository,
    Status,
    event,
    from_document,
    now_ms,
)
from ccx.store.mongo import Document

#: Updates per `update` command. FerretDB v1 keeps one SQLite connection open per update of
#: a command until the command ends (of 100 per database): 120 updates in one command stall
#: it for good.
UPDATE_CHUNK = 32
#: A projection more than this many events behind is repaired in one go, not walked further.
_MAX_WALK = 64
#: Rewrites of one repair that found the projection moved on under it, at most.
_MAX_REPAIRS = 8
_MESSAGE_FIELDS = frozenset(f.name for f in dataclasses.fields(Message)) - {"extra"}


@dataclass(frozen=True, slots=True)
class Change:
    """One requested transition: `message_id` from (`from_status`, `seq`) to `to_status`."""

    message_id: str
    seq: int
    from_status: Status
    to_status: Status
    trace_id: str | None = None
    #: Fields copied onto the message document (attempt, lease, wamid, error, ...).
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: Fields stored on the event only (error details, pricing).
    event_fields: Mapping[str, Any] = field(default_factory=dict)
    #: Fields of an earlier change that was recorded without its projection: set on the
    #: message document under `fields`, not on this change's event.
    carry: Mapping[str, Any] = field(default_factory=dict)

    @property
    def next_seq(self) -> int:
        return self.seq + 1


def _event(change: Change, at: datetime) -> Document:
    extra = {**{k: v for k, v in change.fields.items() if k in _EVENT_COPY}, **change.event_fields}
    return event(
        change.message_id,
        change.next_seq,
        change.from_status,
        change.to_status,
        at,
        change.trace_id,
        **extra,
    )


#: Message fields that are also part of the event (ARCHITECTURE §4 event shape).
_EVENT_COPY = frozenset({"attempt", "wamid", "error", "lease"})


def _projection(change: Change, at: datetime) -> Document:
    return {
        "$set": {
            "status": str(change.to_status),
            "seq": change.next_seq,
            "updated_at": at,
            **change.carry,
            **change.fields,
        }
    }


def projected(message: Message, change: Change) -> Message:
    """`message` as its projection reads once `change` (a change of it) has been applied,
    without reading it back."""
    known = {k: v for k, v in change.fields.items() if k in _MESSAGE_FIELDS}
    extra = {k: v for k, v in change.fields.items() if k not in _MESSAGE_FIELDS}
    return dataclasses.replace(
        message,
        status=change.to_status,
        seq=change.next_seq,
        updated_at=now_ms(),
        extra={**message.extra, **extra},
        **known,
    )


class Transitions:
    """Batched, fenced state changes of one tenant's messages."""

    def __init__(self, repo: MessageRepository) -> None:
        self.repo = repo

    async def _record(
        self, changes: Sequence[Change], at: datetime, actor: str | None, recheck: bool
    ) -> list[bool]:
        """Insert the events; per change True when this actor holds it. With `recheck` (a
        retry after an error that may have come after the insert), an event that already
        exists and was written `by` this actor counts as held."""
        events = [_event(c, at) for c in changes]
        if actor is not None:
            for e in events:
                e["by"] = actor
        outcome = await self.repo.append_events(events)
        if outcome.errors:
            raise RuntimeError(f"event insert failed: {next(iter(outcome.errors.values()))}")
        won = set(outcome.inserted)
        if recheck and actor is not None and outcome.duplicates:
            mine = await asyncio.gather(
                *(self.repo.events.find_one({"_id": d, "by": actor}) for d in outcome.duplicates)
            )
            won.update(d for d, doc in zip(outcome.duplicates, mine, strict=True) if doc)
        # The same change twice in one batch (a duplicate delivery): only the first holds it.
        results, taken = [], set()
        for c in changes:
            key = f"{c.message_id}.{c.next_seq}"
            results.append(key in won and key not in taken)
            taken.add(key)
        return results

    async def apply(
        self,
        changes: Sequence[Change],
        actor: str | None = None,
        recheck: bool = False,
        project: bool = True,
    ) -> list[bool]:
        """Record each change's event (one round trip) and project the winners (one update
        command per UPDATE_CHUNK). Per change: True when it won, False when another actor had
        already moved the message past `seq` (the caller must not act on it).

        `project=False` records the events only: for a step whose next one follows within
        moments and projects both (the worker's claim, see `ccx.dispatch.worker`)."""
        if not changes:
            return []
        at = now_ms()
        results = await self._record(changes, at, actor, recheck)
        if project:
            await self._project([c for c, ok in zip(changes, results, strict=True) if ok], at)
        return results

    async def _project(self, changes: Sequence[Change], at: datetime) -> None:
        # Sequential commands of batched updates, not one update per message at once: the
        # SQLite behind FerretDB v1 has a single writer, and concurrent writers wait for it in
        # 100 ms sleeps (measured: timeouts above about 50 concurrent updates).
        updates = [UpdateOne({"_id": c.message_id}, _projection(c, at)) for c in changes]
        for start in range(0, len(updates), UPDATE_CHUNK):
            await self.repo.messages.bulk_write(
                updates[start : start + UPDATE_CHUNK], ordered=False
            )

    async def claim(
        self, changes: Sequence[Change], actor: str | None = None, recheck: bool = False
    ) -> list[Message | None]:
        """`apply` for claims, returning each won message as projected; None for the claims
        that were lost."""
        won = await self.apply(changes, actor, recheck)
        ids = [c.message_id for c, ok in zip(changes, won, strict=True) if ok]
        found = await asyncio.gather(*(self.repo.messages.find_one({"_id": i}) for i in ids))
        messages = {doc["_id"]: from_document(doc) for doc in found if doc is not None}
        return [
            messages.get(c.message_id) if ok else None for c, ok in zip(changes, won, strict=True)
        ]

    async def current_state(self, message: Message) -> tuple[Status, int, Document | None]:
        """(status, seq, last event or None) after every recorded event, even those the
        projection has not caught up with."""
        status, seq, last = message.status, message.seq, None
        for _ in range(_MAX_WALK):
            doc = await self.repo.events.find_one({"_id": f"{message.id}.{seq + 1}"})
            if doc is None:
                break
            status, seq, last = Status(doc["to"]), seq + 1, doc
        return status, seq, last

    async def repair(self, message: Message) -> Message:
        """Bring a lagging projection up to its newest event; returns the message as it is.

        The write is by `_id` alone (see the module doc), so it can land after a newer
        projection written meanwhile by the actor that holds the message. Every projection
        follows its own event, so walking the events again after the write finds any such
        newer state, and the loop writes that instead: it ends on a walk that finds nothing
        past what it wrote."""
        for _ in range(_MAX_REPAIRS):
            status, seq, last = await self.current_state(message)
            if last is None:
                return message
            fields = {k: last[k] for k in _EVENT_COPY if k in last}
            doc = await self.repo.messages.find_one_and_update(
                {"_id": message.id},
                {"$set": {"status": str(status), "seq": seq, "updated_at": last["at"], **fields}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                return message
            message = from_document(doc)
        return message

    async def transition(
        self,
        message_id: str,
        from_states: Sequence[Status],
        to_state: Status,
        trace_id: str | None = None,
        *,
        event_fields: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Message | None:
        """Move one message from any of `from_states` to `to_state`, deciding on its true
        state (`fields` go on the message and, the usual ones, on the event; `event_fields`
        on the event only). Returns the moved message, or None when it is not (or no longer)
        in one of `from_states` or does not exist."""
        for _ in range(5):
            message = await self.repo.get(message_id)
            if message is None:
                return None
            status, seq, _ = await self.current_state(message)
            if status not in from_states:
                return None
            change = Change(message_id, seq, status, to_state, trace_id, fields, event_fields or {})
            moved = await self.claim([change])
            if moved[0] is not None:
                return moved[0]
        return None
