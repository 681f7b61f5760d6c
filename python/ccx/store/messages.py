"""The `messages` and `events` collections of a tenant database (ARCHITECTURE §4, §6).

The accept path writes one document per message and nothing else per message: a per-document
update costs FerretDB v1 a scan of the whole collection (measured: 100 ms per `update_one` by
`_id` at 20,000 documents) and every round trip costs it a millisecond or more, so "not yet
published" is a per-process watermark (`ccx.store.writers`) and the first two transitions are
implied by the message document (`implied_events`).

Every message crosses the store boundary through `to_document` / `from_document` only, so
encrypting the PII fields (recipient, template variables, text body) slots in there later.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from ccx.ids import is_message_id
from ccx.store.mongo import Document
from ccx.store.names import EVENTS, MESSAGES

DUPLICATE_KEY = 11000
#: Events read at once for a message's history, and the most read past its projection.
_HISTORY_READS = 16


class Status(StrEnum):
    """Message states (ARCHITECTURE §4)."""

    ACCEPTED = "accepted"
    QUEUED = "queued"
    DISPATCHING = "dispatching"
    RETRYING = "retrying"
    UNDETERMINED = "undetermined"
    RECONCILING = "reconciling"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def utc_ms(moment: datetime) -> datetime:
    """`moment` in UTC, truncated to milliseconds (what BSON dates hold), tz-aware."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def now_ms() -> datetime:
    return utc_ms(datetime.now(UTC))


@dataclass(slots=True)
class Message:
    """A message as the application sees it (plaintext PII)."""

    id: str
    to: str
    type: str
    created_at: datetime
    status: Status = Status.ACCEPTED
    sender: str | None = None
    template: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    priority: str = "default"
    metadata: dict[str, Any] | None = None
    on_ambiguous: str = "hold"
    idempotency_key: str | None = None
    trace_id: str | None = None
    updated_at: datetime | None = None
    attempt: int = 0
    #: Sequence number of the last transition event (1 = `accepted`); every state change
    #: increments it atomically with the change, which numbers its event.
    seq: int = 1
    fence: int = 0
    lease: dict[str, Any] | None = None
    wamid: str | None = None
    queued_at: datetime | None = None
    #: The API process that wrote it (see `ccx.store.writers`).
    writer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _opaque(value: dict[str, Any] | None) -> str | None:
    # Client-shaped JSON (any keys: "$x", "a.b", "") is kept as JSON text: BSON servers
    # restrict field names (FerretDB v1 refuses some), and nothing queries inside it.
    return None if value is None else orjson.dumps(value).decode()


def _unopaque(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def to_document(message: Message) -> Document:
    """Message → stored document, without the fields that are None or implied, which
    `from_document` reads back: the defaults in `_DEFAULTS`, `updated_at` equal to
    `created_at`, and `queued_at` equal to `created_at` once the message is past `queued`
    (seq >= 2; the accept path queues every message as it writes it). FerretDB v1 spends CPU
    on every stored field: a new message's document without its five implied fields costs it
    a third less to insert. This is where PII (`to`, template variables, `text`) will be
    encrypted (AES-256-GCM with the key id beside it) and the recipient's blind index added."""
    doc = {
        k: v
        for k, v in _all_fields(message).items()
        if v is not None and _DEFAULTS.get(k, _NO_DEFAULT) != v
    }
    created = doc["created_at"]
    if doc.get("updated_at") == created:
        del doc["updated_at"]
    if doc.get("queued_at") == created and doc.get("seq", 1) >= 2:
        del doc["queued_at"]
    return doc


#: Fields read back as this value when they are missing.
_DEFAULTS: dict[str, Any] = {"attempt": 0, "fence": 0, "on_ambiguous": "hold"}
_NO_DEFAULT = object()


def _all_fields(message: Message) -> Document:
    return {
        "_id": message.id,
        "status": str(message.status),
        "created_at": message.created_at,
        "updated_at": message.updated_at or message.created_at,
        "to": message.to,
        "from": message.sender,
        "type": message.type,
        "template": _opaque(message.template),
        "text": message.text,
        "priority": message.priority,
        "metadata": _opaque(message.metadata),
        "on_ambiguous": message.on_ambiguous,
        "idempotency_key": message.idempotency_key,
        "attempt": message.attempt,
        "seq": message.seq,
        "fence": message.fence,
        "lease": message.lease,
        "wamid": message.wamid,
        "queued_at": message.queued_at,
        "writer": message.writer,
        "trace_id": message.trace_id,
        **message.extra,
    }


_KNOWN = frozenset(_all_fields(Message("", "", "", datetime.now(UTC))))


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and not value.tzinfo else value


def from_document(doc: Document) -> Message:
    """Stored document → Message: the inverse of `to_document` (decryption goes here)."""
    created_at = _aware(doc["created_at"])
    seq = doc.get("seq", 1)
    queued_at = _aware(doc.get("queued_at")) or (created_at if seq >= 2 else None)
    return Message(
        id=doc["_id"],
        status=Status(doc["status"]),
        created_at=created_at,
        updated_at=_aware(doc.get("updated_at", created_at)),
        to=doc["to"],
        sender=doc.get("from"),
        type=doc["type"],
        template=_unopaque(doc.get("template")),
        text=doc.get("text"),
        priority=doc.get("priority", "default"),
        metadata=_unopaque(doc.get("metadata")),
        on_ambiguous=doc.get("on_ambiguous", "hold"),
        idempotency_key=doc.get("idempotency_key"),
        attempt=doc.get("attempt", 0),
        seq=seq,
        fence=doc.get("fence", 0),
        lease=doc.get("lease"),
        wamid=doc.get("wamid"),
        queued_at=queued_at,
        writer=doc.get("writer"),
        trace_id=doc.get("trace_id"),
        extra={k: _aware(v) for k, v in doc.items() if k not in _KNOWN},
    )


@dataclass(frozen=True, slots=True)
class InsertOutcome:
    """Per-item result of `insert_many`: committed ids, duplicate ids, other failures."""

    inserted: list[str]
    duplicates: list[str]
    errors: dict[str, str]


def _bulk_outcome(ids: Sequence[str], exc: BulkWriteError | None) -> InsertOutcome:
    failed: dict[int, Document] = {}
    if exc is not None:
        failed = {int(e["index"]): e for e in exc.details.get("writeErrors", [])}
    inserted, duplicates, errors = [], [], {}
    for index, item in enumerate(ids):
        error = failed.get(index)
        if error is None:
            inserted.append(item)
        elif error.get("code") == DUPLICATE_KEY:
            duplicates.append(item)
        else:
            errors[item] = str(error.get("errmsg", "write error"))
    return InsertOutcome(inserted, duplicates, errors)


async def insert_unordered(collection: Any, docs: Sequence[Document]) -> InsertOutcome:
    """One `insert_many(ordered=False)`; duplicate keys and other per-document errors are
    reported per item (the rest is committed). Server-wide failures raise."""
    ids = [str(d["_id"]) for d in docs]
    if not docs:
        return InsertOutcome([], [], {})
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        return _bulk_outcome(ids, exc)
    return _bulk_outcome(ids, None)


# -- cursors -----------------------------------------------------------------------------------


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=6, person=b"ccx-cursor").digest()


def encode_cursor(created_at: datetime, message_id: str) -> str:
    """Opaque cursor after (created_at, id). The checksum rejects damaged or hand-edited cursors;
    it is not a secret: a forged cursor can only page through the caller's own tenant database."""
    payload = orjson.dumps([int(utc_ms(created_at).timestamp() * 1000), message_id])
    return base64.urlsafe_b64encode(_digest(payload) + payload).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Inverse of `encode_cursor`; ValueError for anything it did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        check, payload = raw[:6], raw[6:]
        if len(check) != 6 or check != _digest(payload):
            raise ValueError("checksum")
        ms, message_id = orjson.loads(payload)
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc
    if type(ms) is not int or not isinstance(message_id, str) or not is_message_id(message_id):
        raise ValueError("invalid cursor")
    return datetime.fromtimestamp(ms / 1000, UTC), message_id


# -- repository ----------------------------------------------------------------------------------


class MessageRepository:
    """Messages and their append-only events in one tenant database (`ccx_t_<tenant>`)."""

    def __init__(self, db: AsyncDatabase[Document], bulk_timeout_s: float = 30.0) -> None:
        self.db = db
        #: Deadline of the outbox cleanup, over the client's socket timeout.
        self.bulk_timeout_s = bulk_timeout_s
        self.messages = db[MESSAGES]
        self.events = db[EVENTS]

    async def insert_many(self, messages: Sequence[Message]) -> InsertOutcome:
        """Insert new messages in one unordered batch; duplicates (by id) are reported per item."""
        return await insert_unordered(self.messages, [to_document(m) for m in messages])

    async def existing(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these ids are stored."""
        found = self.messages.find({"_id": {"$in": list(message_ids)}}, {"_id": 1})
        return {str(doc["_id"]) async for doc in found}

    async def discard(self, message_ids: Sequence[str]) -> None:
        """Delete these messages (those an insert may have written although it failed)."""
        await self.messages.delete_many({"_id": {"$in": list(message_ids)}})

    async def get(self, message_id: str) -> Message | None:
        doc = await self.messages.find_one({"_id": message_id})
        return from_document(doc) if doc else None

    async def get_many(self, message_ids: Iterable[str]) -> dict[str, Message]:
        ids = list(message_ids)
        if not ids:
            return {}
        found = self.messages.find({"_id": {"$in": ids}})
        return {doc["_id"]: from_document(doc) async for doc in found}

    async def written_since(
        self, writer: str, since: datetime, limit: int = 10_000
    ) -> list[Message]:
        """`queued` messages of one writer created at or after `since`, oldest first (a scan;
        only run to recover after a process died)."""
        found = self.messages.find(
            {"writer": writer, "status": str(Status.QUEUED), "created_at": {"$gte": utc_ms(since)}}
        ).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return [from_document(doc) async for doc in found.limit(limit)]

    async def append_event(
        self,
        message_id: str,
        seq: int,
        from_status: str | None,
        to_status: str,
        at: datetime,
        trace_id: str | None,
        **extra: Any,
    ) -> bool:
        """Append one transition; False when (message_id, seq) was already recorded."""
        outcome = await self.append_events(
            [event(message_id, seq, from_status, to_status, at, trace_id, **extra)]
        )
        return bool(outcome.inserted)

    async def append_events(self, events: Sequence[Document]) -> InsertOutcome:
        """Append transitions in one unordered batch; an already recorded (message_id, seq)
        is reported as a duplicate, which makes replays of the same transition harmless."""
        return await insert_unordered(self.events, events)

    async def list_events(self, message_id: str) -> list[Document]:
        found = self.events.find({"message_id": message_id}).sort("seq", ASCENDING)
        return [doc async for doc in found]

    async def _event(self, message_id: str, seq: int) -> Document | None:
        return await self.events.find_one({"_id": f"{message_id}.{seq}"})

    async def purge_events(self, before: datetime) -> int:
        """Delete the events recorded before `before` (retention); returns how many."""
        result = await self.events.delete_many({"at": {"$lt": utc_ms(before)}})
        return int(result.deleted_count)

    async def history(self, message: Message) -> list[Document]:
        """Every transition of a message, oldest first: the implied ones, then the stored,
        those past the projection (a claim in flight) included. Events are read by `_id`
        (`<message_id>.<seq>`): on FerretDB v1 a filter on `message_id` scans every event of
        the tenant, index or not."""
        stored: list[Document] = []
        seqs = list(range(1, message.seq + 1))
        for start in range(0, len(seqs), _HISTORY_READS):
            found = await asyncio.gather(
                *(self._event(message.id, n) for n in seqs[start : start + _HISTORY_READS])
            )
            stored += [doc for doc in found if doc is not None]
        seq = message.seq
        for _ in range(_HISTORY_READS):
            doc = await self._event(message.id, seq + 1)
            if doc is None:
                break
            stored.append(doc)
            seq += 1
        seen = {e["seq"] for e in stored}
        implied = [e for e in implied_events(message) if e["seq"] not in seen]
        return sorted([*implied, *stored], key=lambda e: int(e["seq"]))

    async def list(
        self,
        status: Status | str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Message], str | None]:
        """Newest first, by (created_at desc, _id desc); `created_to` is exclusive. Returns the
        page and the cursor of the next page (None on the last). ValueError on a bad cursor."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        query: Document = {}
        if status is not None:
            query["status"] = str(Status(status))
        span: Document = {}
        if created_from is not None:
            span["$gte"] = utc_ms(created_from)
        if created_to is not None:
            span["$lt"] = utc_ms(created_to)
        if span:
            query["created_at"] = span
        if cursor is not None:
            at, after_id = decode_cursor(cursor)
            after = {
                "$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": after_id}}]
            }
            query = {"$and": [query, after]} if query else after
        found = self.messages.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        docs = [doc async for doc in found.limit(limit + 1)]
        page = [from_document(doc) for doc in docs[:limit]]
        more = len(docs) > limit
        return page, encode_cursor(page[-1].created_at, page[-1].id) if more else None


def implied_events(message: Message) -> list[Document]:
    """The transitions the message document itself records: `accepted` (seq 1) at
    `created_at` and `queued` (seq 2) at `queued_at`. The accept path writes no event
    documents (one insert per message is its whole cost); later transitions are stored."""
    events = [event(message.id, 1, None, Status.ACCEPTED, message.created_at, message.trace_id)]
    if message.queued_at is not None:
        events.append(
            event(
                message.id,
                2,
                Status.ACCEPTED,
                Status.QUEUED,
                message.queued_at,
                message.trace_id,
            )
        )
    return events


def event(
    message_id: str,
    seq: int,
    from_status: str | None,
    to_status: str,
    at: datetime,
    trace_id: str | None,
    **extra: Any,
) -> Document:
    """An event document; its `_id` is `<message_id>.<seq>`, so a replay is a duplicate."""
    return {
        "_id": f"{message_id}.{seq}",
        "message_id": message_id,
        "seq": seq,
        "from": from_status,
        "to": to_status,
        "at": utc_ms(at),
        "trace_id": trace_id,
        **extra,
    }
