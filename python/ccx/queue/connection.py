"""The RabbitMQ connection, made from settings, and its health probe."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractRobustConnection, TimeoutType

from ccx.config import RabbitSettings


class _RobustConnection(aio_pika.RobustConnection):
    """Closes itself when the first connect fails: otherwise its `__del__` schedules `close()`
    on whatever loop is current when it is collected, and that coroutine is never awaited."""

    async def connect(self, timeout: TimeoutType = None) -> None:  # noqa: ASYNC109 (override)
        try:
            await super().connect(timeout)
        except BaseException:
            await self.close()
            raise


async def connect(settings: RabbitSettings, name: str = "ccx") -> AbstractRobustConnection:
    """A robust connection: after a broker outage it reconnects and re-declares its channels,
    exchanges, queues, bindings and consumers. The first attempt fails fast instead of retrying.
    """
    return await aio_pika.connect_robust(
        settings.url,
        timeout=settings.timeout_s,
        client_properties={"connection_name": name},
        reconnect_interval=settings.reconnect_interval_s,
        fail_fast=True,
        connection_class=_RobustConnection,
    )


def server_version(connection: AbstractConnection) -> str:
    """Product and version the broker announced when the connection opened."""
    transport = connection.transport
    properties = transport.connection.server_properties if transport is not None else {}

    def text(key: str) -> str:
        value = properties.get(key)
        return value.decode() if isinstance(value, bytes) else str(value or "")

    return " ".join(filter(None, (text("product"), text("version")))) or "unknown"


async def probe(connection: AbstractConnection) -> str:
    """Open and close a channel (a round trip to the broker); return the broker's version."""
    channel = await connection.channel(publisher_confirms=False)
    await channel.close()
    return server_version(connection)


async def check(settings: RabbitSettings) -> str:
    """Connect once (no reconnects), probe, close: the version, or the error raised on the way."""
    connection = await aio_pika.connect(settings.url, timeout=settings.timeout_s)
    try:
        return await probe(connection)
    finally:
        await connection.close()
