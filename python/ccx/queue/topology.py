"""Idempotent declaration of the shared topology and of each tenant's tier queues."""

from __future__ import annotations

from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection

from ccx.queue.names import (
    CALLBACKS_QUEUE,
    CALLBACKS_ROUTING_KEY,
    DELIVERY_LIMIT,
    DLQ,
    DLX_EXCHANGE,
    HOOKS_QUEUE,
    HOOKS_ROUTING_KEY,
    HOOKS_WAIT_PREFIX,
    HOOKS_WAIT_STEPS,
    RECONCILE_QUEUE,
    RECONCILE_STEP,
    RESEND_QUEUE,
    RESEND_STEP,
    RETRY_DELAYS,
    RETRY_EXCHANGE,
    RETRY_PREFIX,
    WORK_EXCHANGE,
    Tier,
    hooks_wait_routing_key,
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


def _reconcile_arguments() -> dict[str, Any]:
    # No queue TTL: each message carries its own (`expiration` = the reconcile interval), and
    # all share one interval, so they expire in order at the head. Dead-lettered like a retry.
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": WORK_EXCHANGE,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def declare_shared(connection: AbstractConnection) -> None:
    """Exchanges, the eight retry-delay queues, the reconcile, callbacks and dead-letter
    queues."""
    async with connection.channel() as channel:
        await channel.declare_exchange(WORK_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        retry = await channel.declare_exchange(
            RETRY_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dlx = await channel.declare_exchange(
            DLX_EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True
        )
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
        callbacks = await channel.declare_queue(
            CALLBACKS_QUEUE, durable=True, arguments=_quorum(**{"x-delivery-limit": DELIVERY_LIMIT})
        )
        await callbacks.bind(WORK_EXCHANGE, routing_key=CALLBACKS_ROUTING_KEY)
    await _declare_reconcile(connection)
    async with connection.channel() as channel:
        resend = await channel.declare_queue(
            RESEND_QUEUE, durable=True, arguments=_reconcile_arguments()
        )
        await resend.bind(RETRY_EXCHANGE, routing_key=f"*.*.*.{RESEND_STEP}")
    await _declare_hooks(connection)


async def _declare_hooks(connection: AbstractConnection) -> None:
    async with connection.channel() as channel:
        hooks = await channel.declare_queue(
            HOOKS_QUEUE, durable=True, arguments=_quorum(**{"x-delivery-limit": DELIVERY_LIMIT})
        )
        await hooks.bind(WORK_EXCHANGE, routing_key=HOOKS_ROUTING_KEY)
        for step, seconds in HOOKS_WAIT_STEPS.items():
            wait = await channel.declare_queue(
                HOOKS_WAIT_PREFIX + step,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": seconds * 1000,
                    "x-dead-letter-exchange": WORK_EXCHANGE,
                    "x-dead-letter-routing-key": HOOKS_ROUTING_KEY,
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
            )
            await wait.bind(RETRY_EXCHANGE, routing_key=hooks_wait_routing_key(step))


async def _declare_reconcile(connection: AbstractConnection) -> None:
    try:
        async with connection.channel() as channel:
            queue = await channel.declare_queue(
                RECONCILE_QUEUE, durable=True, arguments=_reconcile_arguments()
            )
            await queue.bind(RETRY_EXCHANGE, routing_key=f"*.*.*.{RECONCILE_STEP}")
            return
    except aiormq.exceptions.ChannelPreconditionFailed:
        pass  # declared by an earlier ccx as a plain queue (dead-lettering to the DLQ)
    async with connection.channel() as channel:
        # Replaced only when empty (quorum queues have no delete-if-empty, hence the check;
        # earlier versions never published to it): nothing queued is ever dropped here.
        old = await channel.declare_queue(RECONCILE_QUEUE, passive=True)
        count = old.declaration_result.message_count
        if count:
            raise RuntimeError(
                f"queue {RECONCILE_QUEUE} was declared by an earlier ccx and holds {count} "
                "messages: move them, delete it, then start again"
            )
        await channel.queue_delete(RECONCILE_QUEUE)
        queue = await channel.declare_queue(
            RECONCILE_QUEUE, durable=True, arguments=_reconcile_arguments()
        )
        await queue.bind(RETRY_EXCHANGE, routing_key=f"*.*.*.{RECONCILE_STEP}")


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
