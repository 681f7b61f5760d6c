"""The topology on a real RabbitMQ: tier routing, delay queues that bring retries home, DLQ."""

import asyncio
import os
import time

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from ccx.queue.names import (
    DLX_EXCHANGE,
    RECONCILE_QUEUE,
    RECONCILE_STEP,
    RETRY_EXCHANGE,
    RETRY_PREFIX,
    WORK_EXCHANGE,
    Tier,
    retry_routing_key,
    tier_queue,
    tier_routing_key,
)
from ccx.queue.topology import declare_shared, declare_tenant


@pytest.fixture
def tenant() -> str:
    return f"t{os.getpid()}{int(time.time() * 1000) % 100000}"


async def _get(channel: aio_pika.abc.AbstractChannel, queue: str, within: float) -> bytes | None:
    q = await channel.get_queue(queue, ensure=False)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        message = await q.get(fail=False)
        if message is not None:
            await message.ack()
            return message.body
        await asyncio.sleep(0.05)
    return None


async def test_tier_routing_retry_and_cleanup(
    rabbit: AbstractRobustConnection, tenant: str
) -> None:
    channel = await rabbit.channel(publisher_confirms=True)
    try:
        await declare_shared(rabbit)
        await declare_shared(rabbit)  # idempotent
        names = await declare_tenant(channel, tenant)
        assert names == [tier_queue(tenant, t) for t in Tier]
        work = await channel.get_exchange(WORK_EXCHANGE)

        await work.publish(
            aio_pika.Message(b"otp"), routing_key=tier_routing_key(tenant, "critical")
        )
        assert await _get(channel, tier_queue(tenant, "critical"), 5) == b"otp"

        start = time.monotonic()
        retry = await channel.get_exchange(RETRY_EXCHANGE)
        await retry.publish(
            aio_pika.Message(b"again"), routing_key=retry_routing_key(tenant, "low", "2s")
        )
        assert await _get(channel, tier_queue(tenant, "low"), 10) == b"again"
        assert 1.5 < time.monotonic() - start < 9
        assert await _get(channel, RETRY_PREFIX + "2s", 0.1) is None
    finally:
        for name in [tier_queue(tenant, t) for t in Tier]:
            queue = await channel.get_queue(name, ensure=False)
            await queue.delete(if_unused=False, if_empty=False)
        await channel.close()


async def test_reconcile_queue_holds_each_message_for_its_ttl_then_sends_it_home(
    rabbit: AbstractRobustConnection, tenant: str
) -> None:
    await declare_shared(rabbit)
    channel = await rabbit.channel(publisher_confirms=True)
    try:
        await declare_tenant(channel, tenant)
        retry = await channel.get_exchange(RETRY_EXCHANGE)
        start = time.monotonic()
        await retry.publish(
            aio_pika.Message(b"later", expiration=1.0),
            routing_key=retry_routing_key(tenant, "high", RECONCILE_STEP),
        )
        assert await _get(channel, tier_queue(tenant, "high"), 10) == b"later"
        assert 0.8 < time.monotonic() - start < 9
    finally:
        for name in [tier_queue(tenant, t) for t in Tier]:
            queue = await channel.get_queue(name, ensure=False)
            await queue.delete(if_unused=False, if_empty=False)
        await channel.close()


async def test_an_empty_reconcile_queue_of_an_earlier_version_is_replaced(
    rabbit: AbstractRobustConnection,
) -> None:
    channel = await rabbit.channel()
    try:
        await channel.queue_delete(RECONCILE_QUEUE)
        await channel.declare_queue(  # what ccx declared before reconciliation existed
            RECONCILE_QUEUE,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": DLX_EXCHANGE},
        )
    finally:
        await channel.close()

    await declare_shared(rabbit)
    await declare_shared(rabbit)

    channel = await rabbit.channel()
    try:
        queue = await channel.declare_queue(RECONCILE_QUEUE, passive=True)
        assert queue.declaration_result.message_count == 0
    finally:
        await channel.close()
