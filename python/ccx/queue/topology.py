"""Idempotent declaration of the shared topology and of each tenant's tier queues."""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel

from ccx.queue.names import (
    DELIVERY_LIMIT,
    DLQ,
    DLX_EXCHANGE,
    RECONCILE_QUEUE,
    RETRY_DELAYS,
    RETRY_EXCHANGE,
    RETRY_PREFIX,
    WORK_EXCHANGE,
    Tier,
    tier_queue,
    tier_routing_key,
)


def _quorum(**extra: Any) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DLX_EXCHANGE,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        **extra,
    }


async def declare_shared(channel: AbstractChannel) -> None:
    """Exchanges, the eight retry-delay queues, the reconcile queue and the DLQ."""
    await channel.declare_exchange(WORK_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    retry = await channel.declare_exchange(
        RETRY_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dlx = await channel.declare_exchange(DLX_EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True)
    dlq = await channel.declare_queue(DLQ, durable=True, arguments={"x-queue-type": "quorum"})
    await dlq.bind(dlx)
    for name, seconds in RETRY_DELAYS.items():
        # No dead-letter routing key: an expired retry keeps `t.<tenant>.<tier>.<delay>`,
        # which the tier queue's `t.<tenant>.<tier>.*` binding brings home.
        queue = await channel.declare_queue(
            RETRY_PREFIX + name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-message-ttl": seconds * 1000,
                "x-dead-letter-exchange": WORK_EXCHANGE,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        await queue.bind(retry, routing_key=f"*.*.*.{name}")
    await channel.declare_queue(RECONCILE_QUEUE, durable=True, arguments=_quorum())


async def declare_tenant(channel: AbstractChannel, tenant: str) -> list[str]:
    """The tenant's four tier queues with their bindings; returns the queue names."""
    work = await channel.declare_exchange(WORK_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    names = []
    for tier in Tier:
        name = tier_queue(tenant, tier)
        queue = await channel.declare_queue(
            name, durable=True, arguments=_quorum(**{"x-delivery-limit": DELIVERY_LIMIT})
        )
        key = tier_routing_key(tenant, tier)
        await queue.bind(work, routing_key=key)
        await queue.bind(work, routing_key=key + ".*")
        names.append(name)
    return names
