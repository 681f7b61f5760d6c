"""GroupCommitter on the real services: durable write, tier queue envelope, idempotency under
concurrency, Redis losing its keys, group-commit batching, and each dependency down."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.config import Settings
from ccx.ingest import metrics
from ccx.ingest.accept import AcceptItem, GroupCommitter
from ccx.ingest.errors import ConflictError, DependencyUnavailable
from ccx.queue.connection import connect
from ccx.queue.names import Tier, tier_queue
from ccx.queue.publisher import Publisher, envelope_message_ids
from ccx.store.messages import MessageRepository
from ccx.store.mongo import Document
from ccx.store.names import IDEMPOTENCY, MESSAGES, tenant_db
from ccx.telemetry.tracing import TraceContext

REQUEST: dict[str, Any] = {
    "to": "+5511999998888",
    "type": "template",
    "template": {"name": "otp_code", "language": "pt_BR", "variables": {"body": ["123456"]}},
    "priority": "critical",
    "metadata": {"order_id": 42},
}


@pytest_asyncio.fixture
async def committer(
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    rabbit: AbstractRobustConnection,
    tenant: str,  # so the committer has finished writing before the tenant is dropped
) -> AsyncIterator[GroupCommitter]:
    publisher = Publisher(rabbit)
    await publisher.start()
    committer = GroupCommitter.for_clients(mongo, redis, publisher)
    yield committer
    await committer.close()
    await publisher.close()


async def drain(
    rabbit: AbstractRobustConnection, tenant: str, tier: str, settle_s: float = 0.3
) -> list[AbstractIncomingMessage]:
    channel = await rabbit.channel()
    queue = await channel.get_queue(tier_queue(tenant, tier), ensure=False)
    got: list[AbstractIncomingMessage] = []
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(0.02)
            continue
        await message.ack()
        got.append(message)
        deadline = time.monotonic() + settle_s
    await channel.close()
    return got


async def test_submit_persists_queues_and_publishes_an_envelope_without_pii(
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    trace = TraceContext.new()
    accepted = await committer.submit(AcceptItem(tenant, REQUEST, traceparent=trace.header()))
    await committer.settle()  # the 202 comes after the insert; publish and queued follow
    assert (accepted.status, accepted.replayed) == ("accepted", False)
    assert accepted.id.startswith("msg_")

    repo = MessageRepository(mongo[tenant_db(tenant)])
    stored = await repo.get(accepted.id)
    assert stored is not None
    assert (stored.status, stored.priority, stored.to) == ("queued", "critical", REQUEST["to"])
    assert stored.trace_id == trace.trace_id
    assert stored.created_at == accepted.created_at
    assert stored.queued_at is not None
    assert committer.unconfirmed == 0  # published and confirmed
    events = await repo.history(stored)
    assert [(e["seq"], e["from"], e["to"]) for e in events] == [
        (1, None, "accepted"),
        (2, "accepted", "queued"),
    ]

    [message] = await drain(rabbit, tenant, "critical")
    assert orjson.loads(message.body) == {
        "v": 2,
        "kind": "dispatch",
        "tenant": tenant,
        "priority": "critical",
        "messages": [{"id": accepted.id, "attempt": 0, "traceparent": trace.header()}],
    }
    assert b"5511999998888" not in message.body
    assert message.headers["traceparent"] == trace.header()
    assert message.headers["x-attempt"] == 0
    assert message.headers["x-count"] == 1
    assert message.message_id == accepted.id
    assert message.delivery_mode == 2
    for tier in ("high", "default", "low"):
        assert await drain(rabbit, tenant, tier, 0.05) == []


async def test_fifty_concurrent_requests_with_one_key_make_one_message(
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    item = AcceptItem(tenant, {**REQUEST, "idempotency_key": "order-42-otp"})
    answers = await asyncio.gather(*(committer.submit(item) for _ in range(50)))
    assert len({a.id for a in answers}) == 1
    assert sorted(a.replayed for a in answers) == [False] + [True] * 49
    assert len({a.created_at for a in answers}) == 1
    assert await mongo[tenant_db(tenant)][MESSAGES].count_documents({}) == 1
    assert len(await drain(rabbit, tenant, "critical")) == 1

    later = await committer.submit(item)  # a later batch: answered from Redis
    assert (later.id, later.replayed) == (answers[0].id, True)
    with pytest.raises(ConflictError) as caught:
        await committer.submit(
            AcceptItem(tenant, {**REQUEST, "to": "+5511000000000"}, "order-42-otp")
        )
    assert caught.value.message_id == answers[0].id


async def test_replay_still_holds_after_redis_lost_the_keys(
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    tenant: str,
) -> None:
    item = AcceptItem(tenant, REQUEST, idempotency_key="k-flushed")
    original = await committer.submit(item)
    keys = [k async for k in redis.scan_iter(match=f"ccx:idem:{tenant}:*")]
    assert keys
    await redis.delete(*keys)
    replay = await committer.submit(item)
    assert (replay.id, replay.replayed, replay.created_at) == (
        original.id,
        True,
        original.created_at,
    )
    with pytest.raises(ConflictError):
        await committer.submit(AcceptItem(tenant, {**REQUEST, "priority": "low"}, "k-flushed"))
    assert await mongo[tenant_db(tenant)][MESSAGES].count_documents({}) == 1


def _batches() -> tuple[float, float]:
    """(group commits so far, group commits of exactly one request)."""
    count = single = 0.0
    for family in metrics.batch_size.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_bucket") and sample.labels["le"] == "1.0":
                single = sample.value
    return count, single


async def test_five_hundred_concurrent_submits_are_group_committed(
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    before = _batches()
    tiers = list(Tier)
    items = [
        AcceptItem(
            tenant,
            {**REQUEST, "priority": str(tiers[i % 4]), "metadata": {"i": i}},
            idempotency_key=f"bulk-{i}" if i % 2 else None,
        )
        for i in range(500)
    ]
    started = time.perf_counter()
    answers = await asyncio.gather(*(committer.submit(item) for item in items))
    elapsed = time.perf_counter() - started
    await committer.settle()
    settled = time.perf_counter() - started
    after = _batches()
    batches, singles = after[0] - before[0], after[1] - before[1]
    print(
        f"\n500 concurrent submits: {batches:.0f} group commits ({singles:.0f} of one request);"
        f" all accepted in {elapsed * 1000:.0f} ms, all queued in {settled * 1000:.0f} ms"
    )
    assert len({a.id for a in answers}) == 500
    assert not any(a.replayed for a in answers)
    assert batches < 500
    assert batches > singles  # some batches held more than one request
    db = mongo[tenant_db(tenant)]
    assert await db[MESSAGES].count_documents({"status": "queued"}) == 500
    assert await db[IDEMPOTENCY].count_documents({}) == 250
    queued = {tier: await drain(rabbit, tenant, tier) for tier in tiers}
    per_tier = {
        tier: sum(len(envelope_message_ids(m.body)) for m in got) for tier, got in queued.items()
    }
    assert per_tier == {tier: 125 for tier in tiers}
    assert sum(len(got) for got in queued.values()) < 500  # envelopes carry several messages
    ids = {i for got in queued.values() for m in got for i in envelope_message_ids(m.body)}
    assert ids == {a.id for a in answers}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_mongo_unreachable_is_503_and_nothing_is_queued(
    redis: Redis, rabbit: AbstractRobustConnection, tenant: str
) -> None:
    dead: AsyncMongoClient[Document] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{_closed_port()}/", serverSelectionTimeoutMS=300
    )
    publisher = Publisher(rabbit)
    committer = GroupCommitter.for_clients(dead, redis, publisher)
    try:
        for key in (None, "k-mongo-down"):
            with pytest.raises(DependencyUnavailable) as caught:
                await committer.submit(AcceptItem(tenant, REQUEST, idempotency_key=key))
            assert caught.value.dependency == "mongodb"
    finally:
        await committer.close()
        await publisher.close()
        await dead.close()
    assert await redis.get(f"ccx:idem:{tenant}:k-mongo-down") is None  # key given back
    assert await drain(rabbit, tenant, "critical", 0.2) == []


async def test_rabbitmq_closed_is_503_and_nothing_is_written(
    settings: Settings, mongo: AsyncMongoClient[Document], redis: Redis, tenant: str
) -> None:
    connection = await connect(settings.rabbitmq, name="ccx-tests-closed")
    publisher = Publisher(connection)
    await publisher.start()
    committer = GroupCommitter.for_clients(mongo, redis, publisher)
    await connection.close()
    with pytest.raises(DependencyUnavailable) as caught:
        await committer.submit(AcceptItem(tenant, REQUEST, idempotency_key="k-rabbit-down"))
    assert caught.value.dependency == "rabbitmq"
    await committer.close()
    db = mongo[tenant_db(tenant)]
    assert await db[MESSAGES].count_documents({}) == 0
    assert await db[IDEMPOTENCY].count_documents({}) == 0
    assert await redis.get(f"ccx:idem:{tenant}:k-rabbit-down") is None


async def test_one_key_across_two_processes_makes_one_message(
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    """Two committers (as in two granian workers) race for one key: one message, and every
    repeat waits for the original to be durable before it is answered."""
    publishers = [Publisher(rabbit), Publisher(rabbit)]
    committers = [GroupCommitter.for_clients(mongo, redis, p) for p in publishers]
    item = AcceptItem(tenant, REQUEST, idempotency_key="two-workers")
    try:
        answers = await asyncio.gather(*(committers[i % 2].submit(item) for i in range(50)))
    finally:
        for committer, publisher in zip(committers, publishers, strict=True):
            await committer.close()
            await publisher.close()
    assert len({a.id for a in answers}) == 1
    assert sum(not a.replayed for a in answers) == 1
    assert await mongo[tenant_db(tenant)][MESSAGES].count_documents({}) == 1
    assert len(await drain(rabbit, tenant, "critical")) == 1
