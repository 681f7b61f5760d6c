"""Confirmed batch publishing of dispatch envelopes to `ccx.work` (ARCHITECTURE §5).

An envelope carries ids and routing data only, never PII: the worker reads the messages from
MongoDB. One envelope holds up to `ENVELOPE_MAX` messages of one tenant and tier (v2): an AMQP
message per accepted message cost the API a quarter of its CPU at 750 msg/s (aio-pika frames
and confirm futures) and RabbitMQ a quorum-queue write each. The envelopes of a batch are
pipelined with `asyncio.gather` on one confirming channel, never one await per envelope, and
every item reports the result of its envelope. `traceparent` is per message in the body; the
AMQP header carries the first one's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
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

ENVELOPE_VERSION = 2
#: Most messages in one envelope (the worker claims them as one batch).
ENVELOPE_MAX = 256
#: Envelopes in flight at once; more are sent in chunks of this size.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Dispatch:
    """What the worker needs to find and route a message: no recipient, no content."""

    message_id: str
    tenant: str
    priority: str
    traceparent: str | None = None
    attempt: int = 0
    #: The `seq` the message is at when it is not freshly queued (a retry): the worker's
    #: claim is event seq + 1 (see `ccx.store.transitions`). None means 2, `queued`.
    seq: int | None = None

    @property
    def routing_key(self) -> str:
        return tier_routing_key(self.tenant, self.priority)


def envelope(items: Sequence[Dispatch]) -> bytes:
    """The versioned queue payload of dispatches of one tenant and tier."""
    first = items[0]
    return orjson.dumps(
        {
            "v": ENVELOPE_VERSION,
            "kind": "dispatch",
            "tenant": first.tenant,
            "priority": first.priority,
            "messages": [_item(i) for i in items],
        }
    )


def _item(item: Dispatch) -> dict[str, object]:
    body: dict[str, object] = {
        "id": item.message_id,
        "attempt": item.attempt,
        "traceparent": item.traceparent,
    }
    if item.seq is not None:
        body["seq"] = item.seq
    return body


def envelope_message_ids(body: bytes) -> list[str]:
    """The message ids an envelope body carries (v1 single-message envelopes too)."""
    data = orjson.loads(body)
    if data.get("v") == 1:
        return [str(data["message_id"])]
    return [str(m["id"]) for m in data["messages"]]


def amqp_message(items: Sequence[Dispatch], expiration_s: float | None = None) -> aio_pika.Message:
    first = items[0]
    headers: HeadersType = {"x-attempt": max(i.attempt for i in items), "x-count": len(items)}
    if first.traceparent:
        headers["traceparent"] = first.traceparent
    return aio_pika.Message(
        envelope(items),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=first.message_id,
        headers=headers,
        expiration=expiration_s,
    )


Route = Callable[[Dispatch], str]


def tier_route(item: Dispatch) -> str:
    """Where the accept path sends a dispatch: its tenant's tier queue."""
    return item.routing_key


def group_envelopes(items: Sequence[Dispatch], route: Route = tier_route) -> list[list[int]]:
    """Indexes of `items` per envelope: same routing key (so same tenant and tier), at most
    ENVELOPE_MAX each."""
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(route(item), []).append(index)
    return [
        indexes[start : start + ENVELOPE_MAX]
        for indexes in groups.values()
        for start in range(0, len(indexes), ENVELOPE_MAX)
    ]


class PublisherUnavailable(Exception):
    """The broker connection is closed or not (yet) re-established."""


class Publisher:
    """One confirming channel on a robust connection (it reopens after a broker restart)."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        timeout_s: float = 5.0,
        exchange: str = WORK_EXCHANGE,
    ) -> None:
        self.connection = connection
        self.timeout_s = timeout_s
        self.exchange_name = exchange
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
                    self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                )
            return self._exchange

    async def start(self) -> None:
        """Open the channel now rather than on the first publish."""
        await self._exchange_ready()

    async def publish_batch(
        self,
        items: Sequence[Dispatch],
        route: Route = tier_route,
        expiration_s: float | None = None,
    ) -> list[bool | Exception]:
        """Publish every item with confirms, grouped into envelopes by `route` (the routing
        key), each expiring after `expiration_s` if given; per item True (its envelope
        confirmed) or the exception (nack, unroutable, timeout, connection lost). Never raises
        for a single item."""
        if not items:
            return []
        try:
            exchange = await self._exchange_ready()
        except Exception as exc:
            return [exc] * len(items)
        results: list[bool | Exception] = [True] * len(items)
        envelopes = group_envelopes(items, route)
        for start in range(0, len(envelopes), CHUNK):
            chunk = envelopes[start : start + CHUNK]
            outcomes = await asyncio.gather(
                *(
                    exchange.publish(
                        amqp_message([items[i] for i in indexes], expiration_s),
                        route(items[indexes[0]]),
                        mandatory=True,
                        timeout=self.timeout_s,
                    )
                    for indexes in chunk
                ),
                return_exceptions=True,
            )
            for indexes, outcome in zip(chunk, outcomes, strict=True):
                if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                    raise outcome  # cancellation and the like
                if isinstance(outcome, Exception):
                    for i in indexes:
                        results[i] = outcome
        return results

    async def publish_body(
        self,
        body: bytes,
        routing_key: str,
        headers: HeadersType | None = None,
        expiration_s: float | None = None,
    ) -> None:
        """Publish one persistent JSON message with confirms, expiring after `expiration_s`
        if given; raises when it is not confirmed (nack, unroutable, timeout, connection
        lost)."""
        exchange = await self._exchange_ready()
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers=headers or {},
            expiration=expiration_s,
        )
        await exchange.publish(message, routing_key, mandatory=True, timeout=self.timeout_s)

    async def close(self) -> None:
        """Close the channel (the connection belongs to the caller)."""
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
        self._channel = self._exchange = None
