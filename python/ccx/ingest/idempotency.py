"""Idempotency keys: per tenant, kept 7 days (ARCHITECTURE §3).

Redis is the fast path: one pipeline of `SET ccx:idem:<tenant>:<key> <record> NX GET EX ttl`
answers a whole batch in one round trip. MongoDB's `idempotency` collection (`_id` = key) is the
source of truth: every key Redis hands out is also inserted there in one unordered batch, and a
duplicate `_id` means the key was taken before (Redis flushed, or another process won the race).
Without transactions, the idempotency record is written *before* the message, so a record whose
message never appears (the owner crashed in between) is an orphan: after `stale_after_s` it is
removed and the request is reserved again. Expired records are deleted by `purge_expired`
(FerretDB v1 has no TTL indexes).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ccx.ingest.errors import InProgress
from ccx.store.messages import insert_unordered, now_ms, utc_ms
from ccx.store.mongo import Document
from ccx.store.names import IDEMPOTENCY, MESSAGES

KEY_PREFIX = "ccx:idem:"
TTL_S = 7 * 24 * 3600


def fingerprint(body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical request: keys sorted at every level, `idempotency_key`
    left out (it names the request, it is not part of it)."""
    canonical = {k: v for k, v in body.items() if k != "idempotency_key"}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def redis_key(tenant: str, key: str) -> str:
    return f"{KEY_PREFIX}{tenant}:{key}"


class Outcome(StrEnum):
    NEW = "new"  #: this request owns the key: create the message
    REPLAY = "replay"  #: same key, same request: answer with the original
    CONFLICT = "conflict"  #: same key, different request: 409


@dataclass(frozen=True, slots=True)
class IdemRequest:
    """One request asking for a key; `message_id`/`created_at` are used if it wins."""

    tenant: str
    key: str
    fingerprint: str
    message_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Reservation:
    """The answer for one request. For REPLAY/CONFLICT, `message_id`, `status` and
    `created_at` are the original's. `durable` is False while the original message is not
    known to be written yet (see `IdempotencyStore.confirm`)."""

    request: IdemRequest
    outcome: Outcome
    message_id: str
    created_at: datetime
    status: str = "accepted"
    durable: bool = True


@dataclass(frozen=True, slots=True)
class _Record:
    fingerprint: str
    message_id: str
    created_at: datetime
    status: str
    committed: bool

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "f": self.fingerprint,
                "id": self.message_id,
                "at": int(self.created_at.timestamp() * 1000),
                "s": self.status,
                "c": self.committed,
            }
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> _Record:
        data = orjson.loads(raw)
        at = datetime.fromtimestamp(data["at"] / 1000, now_ms().tzinfo)
        return cls(data["f"], data["id"], at, data.get("s", "accepted"), bool(data.get("c")))

    def answer(self, request: IdemRequest) -> Reservation:
        outcome = Outcome.REPLAY if request.fingerprint == self.fingerprint else Outcome.CONFLICT
        return Reservation(
            request, outcome, self.message_id, self.created_at, self.status, self.committed
        )


def _new(request: IdemRequest) -> _Record:
    return _Record(
        request.fingerprint, request.message_id, utc_ms(request.created_at), "accepted", False
    )


class IdempotencyStore:
    """Reserves idempotency keys for batches of requests (Redis pipeline + one Mongo batch)."""

    def __init__(
        self,
        redis: Redis,
        db: Callable[[str], AsyncDatabase[Document]],
        ttl_s: int = TTL_S,
        replay_wait_s: float = 2.0,
        stale_after_s: float = 30.0,
    ) -> None:
        self.redis = redis
        self.db = db
        self.ttl_s = ttl_s
        self.replay_wait_s = replay_wait_s
        self.stale_after_s = stale_after_s
        #: Redis calls that failed (the batch then went to MongoDB alone).
        self.redis_errors = 0

    async def reserve(
        self, tenant: str, key: str, fingerprint: str, message_id: str, created_at: datetime
    ) -> Reservation:
        """Reserve one key (see `reserve_many`)."""
        request = IdemRequest(tenant, key, fingerprint, message_id, created_at)
        return (await self.reserve_many([request]))[0]

    async def reserve_many(self, requests: Sequence[IdemRequest]) -> list[Reservation]:
        """One Redis round trip and one Mongo insert per tenant for the whole batch.

        Several requests for one key in the batch: the first decides, the others replay it
        (or conflict). Raises on a MongoDB failure, after releasing the Redis keys it took.
        """
        leaders: dict[tuple[str, str], IdemRequest] = {}
        for r in requests:
            leaders.setdefault((r.tenant, r.key), r)
        records: dict[tuple[str, str], tuple[_Record, bool]] = {}  # (record, owned by us)
        unresolved = await self._redis_reserve(list(leaders.values()), records)
        if unresolved:
            try:
                await self._mongo_reserve(unresolved, records)
            except BaseException:
                await self._redis_delete(unresolved)
                raise
        answers: list[Reservation] = []
        for r in requests:
            record, owned = records[(r.tenant, r.key)]
            if owned and leaders[(r.tenant, r.key)] is r:
                answers.append(Reservation(r, Outcome.NEW, r.message_id, r.created_at))
            else:
                answers.append(record.answer(r))
        return answers

    async def _redis_reserve(
        self,
        leaders: list[IdemRequest],
        records: dict[tuple[str, str], tuple[_Record, bool]],
    ) -> list[IdemRequest]:
        """SET NX GET for every leader; returns the ones Redis gave us (or all if Redis fails)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for r in leaders:
                    pipe.set(
                        redis_key(r.tenant, r.key),
                        _new(r).dumps(),
                        nx=True,
                        get=True,
                        ex=self.ttl_s,
                    )
                previous = await pipe.execute()
        except RedisError:
            self.redis_errors += 1
            return leaders
        taken = []
        for r, old in zip(leaders, previous, strict=True):
            if old is None:
                taken.append(r)
            else:
                records[(r.tenant, r.key)] = (_Record.loads(old), False)
        return taken

    async def _mongo_reserve(
        self,
        requests: list[IdemRequest],
        records: dict[tuple[str, str], tuple[_Record, bool]],
    ) -> None:
        by_tenant: dict[str, list[IdemRequest]] = {}
        for r in requests:
            by_tenant.setdefault(r.tenant, []).append(r)
        for tenant, batch in by_tenant.items():
            collection = self.db(tenant)[IDEMPOTENCY]
            docs = [self._document(r) for r in batch]
            outcome = await insert_unordered(collection, docs)
            if outcome.errors:
                raise RuntimeError(f"idempotency insert failed: {outcome.errors}")
            for r in batch:
                records[(tenant, r.key)] = (_new(r), True)
            if not outcome.duplicates:
                continue
            found = collection.find({"_id": {"$in": outcome.duplicates}})
            existing = {doc["_id"]: doc async for doc in found}
            losers = []
            for r in batch:
                doc = existing.get(r.key)
                if r.key not in outcome.duplicates:
                    continue
                if doc is None:  # purged between the insert and the read: ask again next time
                    raise RuntimeError(f"idempotency record {r.key!r} vanished")
                if utc_ms(doc["expires_at"]) <= now_ms():  # expired, not purged yet: take it
                    taken = await collection.replace_one(
                        {"_id": r.key, "message_id": doc["message_id"]}, self._document(r)
                    )
                    if taken.matched_count:
                        continue
                    doc = await collection.find_one({"_id": r.key}) or doc
                losers.append(r)
                record = _Record(
                    doc["fingerprint"],
                    doc["message_id"],
                    utc_ms(doc["created_at"]),
                    doc.get("status", "accepted"),
                    False,
                )
                records[(tenant, r.key)] = (record, False)
            await self._redis_delete(losers)  # our provisional value was wrong

    def _document(self, r: IdemRequest) -> Document:
        created = utc_ms(r.created_at)
        return {
            "_id": r.key,
            "fingerprint": r.fingerprint,
            "message_id": r.message_id,
            "status": "accepted",
            "created_at": created,
            "expires_at": created + timedelta(seconds=self.ttl_s),
        }

    async def _redis_delete(self, requests: Sequence[IdemRequest]) -> None:
        if not requests:
            return
        try:
            await self.redis.delete(*(redis_key(r.tenant, r.key) for r in requests))
        except RedisError:
            self.redis_errors += 1

    async def commit(self, reservations: Sequence[Reservation]) -> None:
        """Mark NEW keys durable in Redis once their messages are written (best effort: a
        repeat that finds an unmarked record checks the message itself)."""
        owned = [r for r in reservations if r.outcome is Outcome.NEW]
        if not owned:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for res in owned:
                    record = _Record(
                        res.request.fingerprint,
                        res.message_id,
                        utc_ms(res.created_at),
                        res.status,
                        committed=True,
                    )
                    pipe.set(
                        redis_key(res.request.tenant, res.request.key),
                        record.dumps(),
                        xx=True,
                        keepttl=True,
                    )
                await pipe.execute()
        except RedisError:
            self.redis_errors += 1

    async def release(self, reservations: Sequence[Reservation]) -> None:
        """Give NEW keys back after their messages could not be written (best effort)."""
        owned = [r for r in reservations if r.outcome is Outcome.NEW]
        await self._redis_delete([r.request for r in owned])
        by_tenant: dict[str, list[Reservation]] = {}
        for res in owned:
            by_tenant.setdefault(res.request.tenant, []).append(res)
        for tenant, batch in by_tenant.items():
            await self.db(tenant)[IDEMPOTENCY].delete_many(
                {
                    "_id": {"$in": [r.request.key for r in batch]},
                    "message_id": {"$in": [r.message_id for r in batch]},
                }
            )

    async def confirm(self, reservation: Reservation) -> Reservation | None:
        """Wait (up to `replay_wait_s`) until a not-yet-durable original exists in `messages`.

        Returns the durable REPLAY; raises `InProgress` when the original is still being
        written elsewhere; returns None when the record was an orphan (its owner died before
        writing the message) and has been removed, so the request should be reserved again.
        """
        if reservation.durable or reservation.outcome is not Outcome.REPLAY:
            return reservation
        request = reservation.request
        messages = self.db(request.tenant)[MESSAGES]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.replay_wait_s
        while True:
            if await messages.find_one({"_id": reservation.message_id}, {"_id": 1}):
                durable = replace(reservation, durable=True)
                await self.commit([replace(durable, outcome=Outcome.NEW)])
                return durable
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.02)
        if now_ms() - utc_ms(reservation.created_at) < timedelta(seconds=self.stale_after_s):
            raise InProgress(request.key, reservation.message_id)
        await self.db(request.tenant)[IDEMPOTENCY].delete_one(
            {"_id": request.key, "message_id": reservation.message_id}
        )
        try:
            key = redis_key(request.tenant, request.key)
            raw = await self.redis.get(key)
            if raw is not None and _Record.loads(raw).message_id == reservation.message_id:
                await self.redis.delete(key)
        except RedisError:
            self.redis_errors += 1
        return None


async def purge_expired(db: AsyncDatabase[Document], now: datetime | None = None) -> int:
    """Delete the tenant's expired idempotency records; returns how many (FerretDB: no TTL)."""
    result = await db[IDEMPOTENCY].delete_many({"expires_at": {"$lt": utc_ms(now or now_ms())}})
    return int(result.deleted_count)
