"""The relay on the real services: a message whose outbox marker outlived the grace period is
published and the marker removed; orphan markers and markers of cancelled messages go away."""

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
from ccx.store.names import tenant_db
from ccx.store.tenants import TenantRepository
from ccx.telemetry.tracing import TraceContext

from .test_accept import drain


async def test_relay_publishes_messages_left_in_the_outbox(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    repo = MessageRepository(mongo[tenant_db(tenant)])
    trace = TraceContext.new()
    now = now_ms()

    def message(age_s: int, status: Status = Status.QUEUED) -> Message:
        return Message(
            id=new_message_id(),
            to="+5511999998888",
            type="text",
            text={"body": "hello"},
            priority="high",
            created_at=now - timedelta(seconds=age_s),
            status=status,
            seq=2,
            trace_id=trace.trace_id,
        )

    stale, fresh, orphan = message(60), message(1), message(60)
    cancelled = message(60, Status.CANCELLED)
    await repo.add_outbox("ob_old", [stale, orphan, cancelled])
    await repo.add_outbox("ob_new", [fresh])
    outcome = await repo.insert_many([stale, fresh, cancelled])  # written, never published
    assert len(outcome.inserted) == 3

    publisher = Publisher(rabbit)
    relay = Relay(TenantRepository(mongo, settings.mongo.platform_db), lambda t: repo, publisher)
    try:
        assert await relay.run_once(now, only=[tenant]) == 1
        assert await relay.run_once(now, only=[tenant]) == 0
    finally:
        await publisher.close()

    left = [e["_id"] for e in await repo.outbox_stale(now + timedelta(seconds=10))]
    assert left == ["ob_new"]  # the old batch is relayed (orphan and cancelled skipped)
    [envelope] = await drain(rabbit, tenant, "high")
    assert envelope_message_ids(envelope.body) == [stale.id]
    assert str(envelope.headers["traceparent"]).split("-")[1] == trace.trace_id
