"""The relay on the real services: a dead writer's queued messages since its watermark are
republished and the writer forgotten; this process's own unconfirmed ones are retried."""

from __future__ import annotations

from datetime import timedelta

from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from ccx.config import Settings
from ccx.ids import new_message_id
from ccx.ingest.relay import Relay
from ccx.queue.publisher import Publisher, envelope_message_ids
from ccx.store.messages import Message, MessageRepository, Status, now_ms
from ccx.store.mongo import Document
from ccx.store.names import IDEMPOTENCY, tenant_db
from ccx.store.tenants import TenantRepository
from ccx.store.writers import WriterRegistry
from ccx.telemetry.tracing import TraceContext

from .test_accept import drain


async def test_relay_recovers_a_dead_writer_from_its_watermark(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    repo = MessageRepository(mongo[tenant_db(tenant)])
    writers = WriterRegistry(mongo, settings.mongo.platform_db)
    trace = TraceContext.new()
    now = now_ms()
    dead, alive = f"w_dead_{tenant}", f"w_alive_{tenant}"

    def message(age_s: int, writer: str, status: Status = Status.QUEUED) -> Message:
        return Message(
            id=new_message_id(),
            to="+5511999998888",
            type="text",
            text={"body": "hello"},
            priority="high",
            created_at=now - timedelta(seconds=age_s),
            status=status,
            seq=2,
            writer=writer,
            trace_id=trace.trace_id,
        )

    before, lost = message(300, dead), message(90, dead)
    cancelled, other = message(90, dead, Status.CANCELLED), message(90, alive)
    await repo.insert_many([before, lost, cancelled, other])
    await writers.beat(dead, now - timedelta(seconds=120), now - timedelta(seconds=60))
    await writers.beat(alive, now - timedelta(seconds=120), now)

    publisher = Publisher(rabbit)
    relay = Relay(
        TenantRepository(mongo, settings.mongo.platform_db),
        lambda t: repo,
        publisher,
        writers,
        dead_after_s=30,
    )
    try:
        assert await relay.run_once(now, only=[tenant]) == 1
        assert await relay.run_once(now, only=[tenant]) == 0  # the dead writer is forgotten
    finally:
        await publisher.close()
        await writers.remove(alive)

    assert [w.id for w in await writers.dead(timedelta(seconds=30), now)] == []
    [envelope] = await drain(rabbit, tenant, "high")
    assert envelope_message_ids(envelope.body) == [lost.id]
    assert str(envelope.headers["traceparent"]).split("-")[1] == trace.trace_id


async def test_relay_purges_expired_idempotency_records_at_most_each_interval(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    db = mongo[tenant_db(tenant)]
    now = now_ms()
    expired = {"fingerprint": "f", "message_id": "m", "expires_at": now - timedelta(days=1)}
    await db[IDEMPOTENCY].insert_one({"_id": "k1", **expired})
    publisher = Publisher(rabbit)
    relay = Relay(
        TenantRepository(mongo, settings.mongo.platform_db),
        lambda t: MessageRepository(mongo[tenant_db(t)]),
        publisher,
        WriterRegistry(mongo, settings.mongo.platform_db),
        purge_interval_s=3600,
    )
    try:
        await relay.run_once(now, only=[tenant])
        assert await db[IDEMPOTENCY].count_documents({}) == 0
        await db[IDEMPOTENCY].insert_one({"_id": "k2", **expired})
        await relay.run_once(now + timedelta(minutes=5), only=[tenant])
        assert await db[IDEMPOTENCY].count_documents({}) == 1  # not yet: hourly
        await relay.run_once(now + timedelta(hours=2), only=[tenant])
        assert await db[IDEMPOTENCY].count_documents({}) == 0
    finally:
        await publisher.close()
