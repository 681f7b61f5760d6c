"""Confirmed batch publishing of dispatch envelopes to `ccx.work` (ARCHITECTURE §5).

An envelope carries ids and routing data only, never PII: the worker reads the message from
MongoDB. A batch is pipelined with `asyncio.gather` on one confirming channel, never one await
per message, and every item reports its own result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import aio_pika
import orjson
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractRobustConnection,
    HeadersType,
)

from ccx.queue.names import WORK_EXCHANGE, tier_routing_key

ENVELOPE_VERSION = 1
#: Publishes in flight at once; larger batches are sent in chunks of this size.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Dispatch:
    """What the worker needs to find and route a message: no recipient, no content."""

    message_id: str
    tenant: str
    priority: str
    traceparent: str | None = None
    attempt: int = 0


def envelope(item: Dispatch) -> bytes:
    """The versioned queue payload of a dispatch."""
    return orjson.dumps(
        {
            "v": ENVELOPE_VERSION,
            "kind": "dispatch",
            "message_id": item.message_id,
            "tenant": item.tenant,
            "priority": item.priority,
            "attempt": item.attempt,
        }
    )


def amqp_message(item: Dispatch) -> aio_pika.Message:
    headers: HeadersType = {"x-attempt": item.attempt}
    if item.traceparent:
        headers["traceparent"] = item.traceparent
    return aio_pika.Message(
        envelope(item),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=item.message_id,
        headers=headers,
    )


class PublisherUnavailable(Exception):
    """The broker connection is closed or not (yet) re-established."""


class Publisher:
    """One confirming channel on a robust connection (it reopens after a broker restart)."""

    def __init__(self, connection: AbstractRobustConnection, timeout_s: float = 5.0) -> None:
        self.connection = connection
        self.timeout_s = timeout_s
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        """True when the connection is up (a publish can be attempted right now)."""
        if self.connection.is_closed:
            return False
        connected = getattr(self.connection, "connected", None)
        return connected is None or bool(connected.is_set())

    async def _exchange_ready(self) -> AbstractExchange:
        async with self._lock:
            if self._channel is None or self._channel.is_closed or self._exchange is None:
                if not self.ready:
                    raise PublisherUnavailable("RabbitMQ connection is closed")
                self._channel = await self.connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                self._exchange = await self._channel.declare_exchange(
                    WORK_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
                )
            return self._exchange

    async def start(self) -> None:
        """Open the channel now rather than on the first publish."""
        await self._exchange_ready()

    async def publish_batch(self, items: Sequence[Dispatch]) -> list[bool | Exception]:
        """Publish every item with confirms; per item True (confirmed) or the exception
        (nack, unroutable, timeout, connection lost). Never raises for a single item."""
        if not items:
            return []
        try:
            exchange = await self._exchange_ready()
        except Exception as exc:
            return [exc] * len(items)
        results: list[bool | Exception] = []
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            outcomes = await asyncio.gather(
                *(
                    exchange.publish(
                        amqp_message(item),
                        tier_routing_key(item.tenant, item.priority),
                        mandatory=True,
                        timeout=self.timeout_s,
                    )
                    for item in chunk
                ),
                return_exceptions=True,
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                    raise outcome  # cancellation and the like
                results.append(outcome if isinstance(outcome, Exception) else True)
        return results

    async def close(self) -> None:
        """Close the channel (the connection belongs to the caller)."""
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
        self._channel = self._exchange = None
