"""The topology on a real RabbitMQ: tier routing, delay queues that bring retries home, DLQ."""

import asyncio
import os
import time

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from ccx.queue.names import (
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
        await declare_shared(channel)
        await declare_shared(channel)  # idempotent
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
