"""Real operations against FerretDB, Redis and RabbitMQ, the way ccx uses them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pamqp.commands import Basic
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from redis.asyncio import Redis

from ccx.store.mongo import Document

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def db(mongo: AsyncMongoClient[Document]) -> AsyncIterator[AsyncDatabase[Document]]:
    name = f"ccx_test_{uuid.uuid4().hex[:12]}"
    yield mongo[name]
    await mongo.drop_database(name)


@pytest_asyncio.fixture
async def channel(rabbit: AbstractRobustConnection) -> AsyncIterator[AbstractChannel]:
    async with rabbit.channel(publisher_confirms=True, on_return_raises=True) as ch:
        yield ch


async def test_insert_many_unordered_reports_duplicates_and_keeps_the_rest(
    db: AsyncDatabase[Document],
) -> None:
    messages = db["messages"]
    await messages.create_index("key", unique=True)
    docs = [{"key": "a", "n": 1}, {"key": "b", "n": 2}, {"key": "a", "n": 3}, {"key": "c", "n": 4}]

    with pytest.raises(BulkWriteError) as caught:
        await messages.insert_many(docs, ordered=False)

    errors = caught.value.details["writeErrors"]
    assert [(e["index"], e["code"]) for e in errors] == [(2, 11000)]
    assert "E11000" in errors[0]["errmsg"]
    assert caught.value.details["nInserted"] == 3
    stored = await messages.find({}, {"_id": 0}).sort("n", 1).to_list()
    assert stored == [{"key": "a", "n": 1}, {"key": "b", "n": 2}, {"key": "c", "n": 4}]


async def test_find_one_and_update_upserts_then_updates(db: AsyncDatabase[Document]) -> None:
    counters = db["counters"]

    async def bump() -> Document | None:
        return await counters.find_one_and_update(
            {"_id": "tenant-1"},
            {"$inc": {"seq": 1}, "$setOnInsert": {"created": "now"}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    assert await bump() == {"_id": "tenant-1", "seq": 1, "created": "now"}
    assert await bump() == {"_id": "tenant-1", "seq": 2, "created": "now"}
    assert await counters.count_documents({}) == 1


async def test_redis_set_nx_ex_and_pipeline(redis: Redis) -> None:
    key = f"ccx:test:{uuid.uuid4().hex}"
    try:
        assert await redis.set(f"{key}:idem", b"message-1", nx=True, ex=60) is True
        assert await redis.set(f"{key}:idem", b"message-2", nx=True, ex=60) is None
        assert await redis.get(f"{key}:idem") == b"message-1"
        assert 0 < await redis.ttl(f"{key}:idem") <= 60

        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(f"{key}:count")
            pipe.incr(f"{key}:count")
            pipe.expire(f"{key}:count", 30)
            pipe.get(f"{key}:count")
            assert await pipe.execute() == [1, 2, True, b"2"]
    finally:
        await redis.delete(f"{key}:idem", f"{key}:count")


async def test_quorum_queue_with_confirms_ack_and_at_least_once_dead_lettering(
    channel: AbstractChannel,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    dlx = await channel.declare_exchange(f"ccx.test.dlx.{suffix}", aio_pika.ExchangeType.FANOUT)
    dlq = await channel.declare_queue(
        f"ccx.test.dlq.{suffix}", durable=True, arguments={"x-queue-type": "quorum"}
    )
    work = await channel.declare_queue(
        f"ccx.test.work.{suffix}",
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": 1,
            "x-dead-letter-exchange": dlx.name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )
    try:
        await dlq.bind(dlx)
        for body in (b"ok", b"poison"):
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            confirm = await channel.default_exchange.publish(
                message, routing_key=work.name, mandatory=True, timeout=5
            )
            assert isinstance(confirm, Basic.Ack)

        first = await work.get(timeout=5)
        assert first.body == b"ok"
        await first.ack()

        # With x-delivery-limit=1 the message is delivered twice, then dead-lettered.
        for redelivered in (False, True):
            poison = await work.get(timeout=5)
            assert (poison.body, poison.redelivered) == (b"poison", redelivered)
            await poison.nack(requeue=True)

        dead = await _next_message(dlq, seconds=5)
        assert dead.body == b"poison"
        assert dead.headers["x-first-death-reason"] == "delivery_limit"
        await dead.ack()
        assert await work.get(fail=False) is None
    finally:
        for queue in (work, dlq):
            await queue.delete(if_unused=False, if_empty=False)
        await dlx.delete()


async def _next_message(queue: AbstractQueue, seconds: float) -> AbstractIncomingMessage:
    """The next message the queue delivers to a consumer (dead-lettering is asynchronous)."""
    async with asyncio.timeout(seconds), queue.iterator() as messages:
        return await anext(messages)
