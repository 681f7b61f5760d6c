"""Client webhook endpoints, per-message delivery streams and delivery records (ARCHITECTURE §7).

Collections of a tenant database:

- `webhook_endpoints`: `_id` `ep_<ulid>`; URL, event filter, enabled, and its `whsec_`
  secrets, each stored only as a data-key token (`ccx.security`) bound to
  `<tenant>:<endpoint>`. During a rotation the old secret stays until `expires_at`, and both
  sign.
- `webhook_streams`: `_id` `<message_id>|<endpoint_id>`; `seq` is the last event of that
  message handled for that endpoint (delivered, failed for good, or not subscribed). It is
  what keeps one message's webhooks in order: event n+1 is not tried while n is pending.
- `webhook_deliveries`: `_id` `whd_<message ulid>_<seq>_<endpoint ulid>` (so a duplicate
  notification finds the delivery it already made); the signed body, status
  (`pending` → `delivered` | `failed`), every attempt, and when the next one is due.

Every lookup the delivery worker makes is by `_id` (the one filter FerretDB v1 pushes down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError
from redis.asyncio import Redis

from ccx.ids import UlidGenerator
from ccx.security import DataKeys
from ccx.store.messages import now_ms, utc_ms
from ccx.store.mongo import Document
from ccx.store.names import WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, WEBHOOK_STREAMS

ENDPOINT_PREFIX = "ep_"
DELIVERY_PREFIX = "whd_"
#: Attempts kept on a delivery record (the oldest are dropped; the count is kept).
MAX_ATTEMPTS_KEPT = 20
#: Bytes of a response body kept on an attempt.
BODY_KEPT = 512

_ids = UlidGenerator()
DUPLICATE_KEY = 11000


#: The states a client hears about, as webhook event types (`message.<status>`); the
#: internal steps (accepted, queued, dispatching, retrying) are not sent.
EVENT_TYPES: tuple[str, ...] = (
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "message.undetermined",
    "message.reconciling",
    "message.expired",
    "message.cancelled",
)


def event_type(status: str) -> str | None:
    """The webhook type of a state, or None for a state clients are not told about."""
    name = f"message.{status}"
    return name if name in EVENT_TYPES else None


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class EndpointSecret:
    secret: str
    created_at: datetime
    #: None for the current secret; set on the previous one during a rotation.
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A client endpoint; `events` empty means every event type."""

    id: str
    url: str
    events: tuple[str, ...]
    description: str | None
    enabled: bool
    secrets: tuple[EndpointSecret, ...]
    created_at: datetime
    updated_at: datetime
    disabled_reason: str | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one first, then any still in overlap."""
        return [s.secret for s in self.secrets if s.expires_at is None or s.expires_at > now]

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


def endpoint_aad(tenant: str, endpoint_id: str) -> bytes:
    return f"{tenant}:{endpoint_id}".encode()


def new_endpoint_id() -> str:
    return ENDPOINT_PREFIX + _ids.new()


class EndpointVersions:
    """A counter per tenant in Redis, bumped on every change to its endpoints, so delivery
    workers re-read them at once instead of after their cache's lifetime (a new endpoint
    would otherwise miss the events of its first seconds)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def key(tenant: str) -> str:
        return f"ccx:wh:endpoints:{tenant}"

    async def bump(self, tenant: str) -> None:
        await self.redis.incr(self.key(tenant))

    async def current(self, tenant: str) -> int:
        value = await self.redis.get(self.key(tenant))
        return int(value) if value is not None else 0


class EndpointRepository:
    """One tenant's webhook endpoints; secrets sealed with the data keys."""

    def __init__(self, db: AsyncDatabase[Document], tenant: str, keys: DataKeys) -> None:
        self.collection = db[WEBHOOK_ENDPOINTS]
        self.tenant = tenant
        self.keys = keys

    def _seal(self, endpoint_id: str, secret: str) -> str:
        return self.keys.encrypt(secret.encode(), endpoint_aad(self.tenant, endpoint_id))

    def _endpoint(self, doc: Document) -> Endpoint:
        aad = endpoint_aad(self.tenant, doc["_id"])
        secrets = tuple(
            EndpointSecret(
                self.keys.decrypt(s["sealed"], aad).decode(),
                utc_ms(s["created_at"]),
                utc_ms(s["expires_at"]) if s.get("expires_at") else None,
            )
            for s in doc.get("secrets", [])
        )
        return Endpoint(
            id=doc["_id"],
            url=doc["url"],
            events=tuple(doc.get("events") or ()),
            description=doc.get("description"),
            enabled=bool(doc.get("enabled", True)),
            secrets=secrets,
            created_at=utc_ms(doc["created_at"]),
            updated_at=utc_ms(doc["updated_at"]),
            disabled_reason=doc.get("disabled_reason"),
        )

    async def create(
        self,
        url: str,
        secret: str,
        events: Sequence[str] = (),
        description: str | None = None,
        enabled: bool = True,
    ) -> Endpoint:
        now = now_ms()
        endpoint_id = new_endpoint_id()
        doc: Document = {
            "_id": endpoint_id,
            "url": url,
            "events": list(events),
            "description": description,
            "enabled": enabled,
            "secrets": [{"sealed": self._seal(endpoint_id, secret), "created_at": now}],
            "created_at": now,
            "updated_at": now,
            "disabled_reason": None,
        }
        await self.collection.insert_one(doc)
        return self._endpoint(doc)

    async def get(self, endpoint_id: str) -> Endpoint | None:
        doc = await self.collection.find_one({"_id": endpoint_id})
        return self._endpoint(doc) if doc else None

    async def list(self) -> list[Endpoint]:
        """Every endpoint of the tenant, newest first."""
        found = self.collection.find({}).sort("created_at", DESCENDING)
        return [self._endpoint(doc) async for doc in found]

    async def update(self, endpoint_id: str, **fields: Any) -> Endpoint | None:
        """Set `url`, `events`, `description` or `enabled` (enabling clears the reason)."""
        changes = {k: v for k, v in fields.items() if k in _UPDATABLE}
        if changes.get("enabled") is True:
            changes["disabled_reason"] = None
        if "events" in changes:
            changes["events"] = list(changes["events"])
        changes["updated_at"] = now_ms()
        doc = await self.collection.find_one_and_update(
            {"_id": endpoint_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return self._endpoint(doc) if doc else None

    async def disable(self, endpoint_id: str, reason: str) -> None:
        await self.collection.update_one(
            {"_id": endpoint_id},
            {"$set": {"enabled": False, "disabled_reason": reason, "updated_at": now_ms()}},
        )

    async def rotate(self, endpoint_id: str, secret: str, overlap_s: float) -> Endpoint | None:
        """`secret` becomes current; the current one signs too for `overlap_s` more seconds;
        older ones are dropped."""
        doc = await self.collection.find_one({"_id": endpoint_id})
        if doc is None:
            return None
        now = now_ms()
        kept = [
            {**s, "expires_at": s.get("expires_at") or now + timedelta(seconds=overlap_s)}
            for s in doc.get("secrets", [])
            if s.get("expires_at") is None and overlap_s > 0
        ]
        secrets = [{"sealed": self._seal(endpoint_id, secret), "created_at": now}, *kept]
        updated = await self.collection.find_one_and_update(
            {"_id": endpoint_id},
            {"$set": {"secrets": secrets, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return self._endpoint(updated) if updated else None

    async def delete(self, endpoint_id: str) -> bool:
        return (await self.collection.delete_one({"_id": endpoint_id})).deleted_count == 1


_UPDATABLE = frozenset({"url", "events", "description", "enabled"})


def delivery_id(message_id: str, seq: int, endpoint_id: str) -> str:
    return (
        f"{DELIVERY_PREFIX}{message_id.removeprefix('msg_')}_{seq}_"
        f"{endpoint_id.removeprefix(ENDPOINT_PREFIX)}"
    )


def stream_id(message_id: str, endpoint_id: str) -> str:
    return f"{message_id}|{endpoint_id}"


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    #: HTTP status, or None when no response came (timeout, refused, blocked).
    status_code: int | None
    latency_ms: float
    error: str | None = None
    body: str | None = None

    def document(self) -> Document:
        return {
            "at": self.at,
            "status_code": self.status_code,
            "latency_ms": round(self.latency_ms, 1),
            "error": self.error,
            "body": self.body[:BODY_KEPT] if self.body else self.body,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    endpoint_id: str
    message_id: str
    seq: int
    event_id: str
    type: str
    body: bytes
    status: DeliveryStatus
    attempt_count: int
    created_at: datetime
    next_at: datetime | None
    attempts: tuple[Document, ...] = field(default=())
    delivered_at: datetime | None = None


def _delivery(doc: Document) -> Delivery:
    return Delivery(
        id=doc["_id"],
        endpoint_id=doc["endpoint_id"],
        message_id=doc["message_id"],
        seq=int(doc["seq"]),
        event_id=doc["event_id"],
        type=doc["type"],
        body=bytes(doc["body"]),
        status=DeliveryStatus(doc["status"]),
        attempt_count=int(doc.get("attempt_count", 0)),
        created_at=utc_ms(doc["at"]),
        next_at=utc_ms(doc["next_at"]) if doc.get("next_at") else None,
        attempts=tuple({**a, "at": utc_ms(a["at"])} for a in doc.get("attempts", [])),
        delivered_at=utc_ms(doc["delivered_at"]) if doc.get("delivered_at") else None,
    )


@dataclass(frozen=True, slots=True)
class Stream:
    """Where one message's webhooks to one endpoint are: `seq` handled, and the delivery
    (`pending`, an event seq) waiting for its retry at `next_at`, if any."""

    seq: int = 0
    pending: int | None = None
    next_at: datetime | None = None


def fresh_delivery(
    endpoint_id: str, message_id: str, seq: int, event_id: str, event_type: str, body: bytes
) -> Delivery:
    """A delivery about to be tried for the first time (not stored until it has an outcome)."""
    now = now_ms()
    return Delivery(
        id=delivery_id(message_id, seq, endpoint_id),
        endpoint_id=endpoint_id,
        message_id=message_id,
        seq=seq,
        event_id=event_id,
        type=event_type,
        body=body,
        status=DeliveryStatus.PENDING,
        attempt_count=0,
        created_at=now,
        next_at=now,
    )


def settled_document(
    delivery: Delivery, attempt: Attempt, status: DeliveryStatus, next_at: datetime | None
) -> Document:
    """The stored form of a fresh delivery after its first attempt."""
    return {
        "_id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "message_id": delivery.message_id,
        "seq": delivery.seq,
        "event_id": delivery.event_id,
        "type": delivery.type,
        "body": delivery.body,
        "status": str(status),
        "attempt_count": 1,
        "attempts": [attempt.document()],
        "at": delivery.created_at,
        "next_at": next_at,
        "delivered_at": attempt.at if status is DeliveryStatus.DELIVERED else None,
    }


class DeliveryRepository:
    """One tenant's delivery records and per-message streams."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.deliveries = db[WEBHOOK_DELIVERIES]
        self.streams = db[WEBHOOK_STREAMS]

    async def stream(self, message_id: str, endpoint_id: str) -> Stream:
        doc = await self.streams.find_one({"_id": stream_id(message_id, endpoint_id)})
        if doc is None:
            return Stream()
        next_at = doc.get("next_at")
        return Stream(int(doc["seq"]), doc.get("pending"), utc_ms(next_at) if next_at else None)

    async def save_stream(self, message_id: str, endpoint_id: str, stream: Stream) -> None:
        await self.streams.update_one(
            {"_id": stream_id(message_id, endpoint_id)},
            {
                "$set": {
                    "seq": stream.seq,
                    "pending": stream.pending,
                    "next_at": stream.next_at,
                    "updated_at": now_ms(),
                }
            },
            upsert=True,
        )

    async def insert_settled(self, documents: Sequence[Document]) -> None:
        """Store fresh deliveries with their first outcome (one round trip); one already
        stored (a repeat after a crash) is left as it is."""
        if not documents:
            return
        try:
            await self.deliveries.insert_many(list(documents), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise

    async def open(
        self,
        endpoint_id: str,
        message_id: str,
        seq: int,
        event_id: str,
        event_type: str,
        body: bytes,
    ) -> Delivery:
        """The delivery of event `seq` to the endpoint, made now or found as made before."""
        now = now_ms()
        doc: Document = {
            "_id": delivery_id(message_id, seq, endpoint_id),
            "endpoint_id": endpoint_id,
            "message_id": message_id,
            "seq": seq,
            "event_id": event_id,
            "type": event_type,
            "body": body,
            "status": str(DeliveryStatus.PENDING),
            "attempt_count": 0,
            "attempts": [],
            "at": now,
            "next_at": now,
        }
        try:
            await self.deliveries.insert_one(doc)
        except DuplicateKeyError:
            found = await self.deliveries.find_one({"_id": doc["_id"]})
            if found is not None:
                return _delivery(found)
        return _delivery(doc)

    async def record(
        self,
        delivery: Delivery,
        attempt: Attempt,
        status: DeliveryStatus,
        next_at: datetime | None,
    ) -> Delivery:
        """Append `attempt` and set the outcome (`next_at`: when a pending one is due)."""
        changes: Document = {"status": str(status), "next_at": next_at}
        if status is DeliveryStatus.DELIVERED:
            changes["delivered_at"] = attempt.at
        doc = await self.deliveries.find_one_and_update(
            {"_id": delivery.id},
            {
                "$set": changes,
                "$inc": {"attempt_count": 1},
                "$push": {
                    "attempts": {"$each": [attempt.document()], "$slice": -MAX_ATTEMPTS_KEPT}
                },
            },
            return_document=ReturnDocument.AFTER,
        )
        return _delivery(doc) if doc else delivery

    async def get(self, delivery_id_: str) -> Delivery | None:
        doc = await self.deliveries.find_one({"_id": delivery_id_})
        return _delivery(doc) if doc else None

    async def page(
        self,
        *,
        message_id: str | None = None,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Newest first (by id, whose ulid part orders them by message), filtered."""
        query: Document = {}
        if message_id is not None:
            query["message_id"] = message_id
        if endpoint_id is not None:
            query["endpoint_id"] = endpoint_id
        if status is not None:
            query["status"] = str(status)
        window: Document = {}
        if created_from is not None:
            window["$gte"] = created_from
        if created_to is not None:
            window["$lt"] = created_to
        if window:
            query["at"] = window
        if before is not None:
            query["_id"] = {"$lt": before}
        found = self.deliveries.find(query).sort("_id", DESCENDING).limit(limit)
        return [_delivery(doc) async for doc in found]

    async def purge(self, before: datetime) -> int:
        """Delete the delivery records made before `before`, and the streams last moved
        before it (a message that has been quiet that long); returns how many records."""
        result = await self.deliveries.delete_many({"at": {"$lt": before}})
        await self.streams.delete_many({"updated_at": {"$lt": before}})
        return int(result.deleted_count)

    async def of_message(self, message_id: str) -> list[Delivery]:
        found = self.deliveries.find({"message_id": message_id}).sort("seq", 1)
        return [_delivery(doc) async for doc in found]
