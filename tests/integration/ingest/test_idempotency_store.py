"""IdempotencyStore on the real Redis and FerretDB: NEW/REPLAY/CONFLICT, Redis flushed,
concurrent reservations, orphans and the sweeper."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.ids import new_message_id
from ccx.ingest.idempotency import IdempotencyStore, IdemRequest, Outcome, purge_expired, redis_key
from ccx.store.messages import now_ms, utc_ms
from ccx.store.mongo import Document
from ccx.store.names import IDEMPOTENCY, tenant_db


def _store(mongo: AsyncMongoClient[Document], redis: Redis, **kw: float) -> IdempotencyStore:
    return IdempotencyStore(redis, lambda t: mongo[tenant_db(t)], **kw)  # type: ignore[arg-type]


def _req(tenant: str, key: str, fp: str = "f1") -> IdemRequest:
    return IdemRequest(tenant, key, fp, new_message_id(), now_ms())


async def test_new_replay_conflict_and_batch_followers(
    mongo: AsyncMongoClient[Document], redis: Redis, tenant: str
) -> None:
    store = _store(mongo, redis)
    first = _req(tenant, "k1")
    batch = [first, _req(tenant, "k1"), _req(tenant, "k1", "other"), _req(tenant, "k2")]
    answers = await store.reserve_many(batch)
    assert [a.outcome for a in answers] == [Outcome.NEW, Outcome.REPLAY, Outcome.CONFLICT, "new"]
    assert {a.message_id for a in answers[:3]} == {first.message_id}
    assert not answers[1].durable  # the original is not written yet
    await store.commit(answers)
    again = await store.reserve(tenant, "k1", "f1", new_message_id(), now_ms())
    assert (again.outcome, again.message_id, again.durable) == ("replay", first.message_id, True)
    assert again.created_at == utc_ms(answers[0].created_at)
    clash = await store.reserve(tenant, "k1", "f2", new_message_id(), now_ms())
    assert clash.outcome is Outcome.CONFLICT
    assert await mongo[tenant_db(tenant)][IDEMPOTENCY].count_documents({}) == 2


async def test_mongo_decides_after_redis_lost_the_keys(
    mongo: AsyncMongoClient[Document], redis: Redis, tenant: str
) -> None:
    store = _store(mongo, redis)
    original = await store.reserve(tenant, "k", "f1", new_message_id(), now_ms())
    await store.commit([original])
    await redis.delete(redis_key(tenant, "k"))
    replay = await store.reserve(tenant, "k", "f1", new_message_id(), now_ms())
    assert (replay.outcome, replay.message_id) == (Outcome.REPLAY, original.message_id)
    assert (
        await store.reserve(tenant, "k", "f2", new_message_id(), now_ms())
    ).outcome == "conflict"


async def test_fifty_concurrent_reservations_have_one_winner(
    mongo: AsyncMongoClient[Document], redis: Redis, tenant: str
) -> None:
    stores = [_store(mongo, redis) for _ in range(5)]  # as if from several processes
    answers = await asyncio.gather(
        *(stores[i % 5].reserve(tenant, "same", "f", new_message_id(), now_ms()) for i in range(50))
    )
    assert sum(a.outcome is Outcome.NEW for a in answers) == 1
    assert len({a.message_id for a in answers}) == 1


async def test_orphans_are_removed_and_expired_keys_reused(
    mongo: AsyncMongoClient[Document], redis: Redis, tenant: str
) -> None:
    store = _store(mongo, redis, replay_wait_s=0.05, stale_after_s=0.0)
    orphan = await store.reserve(tenant, "o", "f", new_message_id(), now_ms())  # never written
    repeat = await store.reserve(tenant, "o", "f", new_message_id(), now_ms())
    assert repeat.outcome is Outcome.REPLAY
    assert await store.confirm(repeat) is None  # orphan gone: reserve again
    fresh = await store.reserve(tenant, "o", "f", new_message_id(), now_ms())
    assert fresh.outcome is Outcome.NEW
    assert fresh.message_id != orphan.message_id

    db = mongo[tenant_db(tenant)]
    short = IdempotencyStore(redis, lambda t: mongo[tenant_db(t)], ttl_s=1)  # type: ignore[arg-type]
    old = await short.reserve(tenant, "e", "f", new_message_id(), now_ms() - timedelta(seconds=5))
    await redis.delete(redis_key(tenant, "e"))
    reused = await short.reserve(tenant, "e", "f2", new_message_id(), now_ms())
    assert reused.outcome is Outcome.NEW  # expired record, not purged yet
    assert reused.message_id != old.message_id

    await short.reserve(tenant, "gone", "f", new_message_id(), now_ms() - timedelta(seconds=5))
    assert await purge_expired(db) == 1
    assert await db[IDEMPOTENCY].find_one({"_id": "gone"}) is None
