"""The relay on the real services: a message left `accepted` is published and marked queued."""

from __future__ import annotations

from datetime import timedelta

import orjson
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from ccx.config import Settings
from ccx.ids import new_message_id
from ccx.ingest.relay import Relay
from ccx.queue.publisher import Publisher
from ccx.store.messages import Message, MessageRepository, now_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.tenants import TenantRepository
from ccx.telemetry.tracing import TraceContext

from .test_accept import drain


async def test_relay_publishes_messages_left_accepted(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    repo = MessageRepository(mongo[tenant_db(tenant)])
    trace = TraceContext.new()
    now = now_ms()

    def message(age_s: int) -> Message:
        return Message(
            id=new_message_id(),
            to="+5511999998888",
            type="text",
            text={"body": "hello"},
            priority="high",
            created_at=now - timedelta(seconds=age_s),
            trace_id=trace.trace_id,
        )

    stale, fresh = message(60), message(1)
    outcome = await repo.insert_many([stale, fresh])  # written, never published
    assert len(outcome.inserted) == 2

    publisher = Publisher(rabbit)
    relay = Relay(TenantRepository(mongo, settings.mongo.platform_db), lambda t: repo, publisher)
    try:
        assert await relay.run_once(now, only=[tenant]) == 1
        assert await relay.run_once(now, only=[tenant]) == 0
    finally:
        await publisher.close()

    relayed = await repo.get(stale.id)
    waiting = await repo.get(fresh.id)
    assert relayed is not None
    assert waiting is not None
    assert (relayed.status, waiting.status) == ("queued", "accepted")
    assert [e["seq"] for e in await repo.list_events(stale.id)] == [1, 2]
    [envelope] = await drain(rabbit, tenant, "high")
    assert orjson.loads(envelope.body)["message_id"] == stale.id
    assert str(envelope.headers["traceparent"]).split("-")[1] == trace.trace_id
