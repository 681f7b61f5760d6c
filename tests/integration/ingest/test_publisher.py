"""Publisher on the real RabbitMQ: per-item results, and recovery after the connection drops."""

from __future__ import annotations

import asyncio
import time

from aio_pika.abc import AbstractRobustConnection

from ccx.config import Settings
from ccx.queue.connection import connect
from ccx.queue.publisher import Dispatch, Publisher

from .test_accept import drain


async def test_results_per_item_and_recovery_after_a_dropped_connection(
    settings: Settings, rabbit: AbstractRobustConnection, tenant: str
) -> None:
    connection = await connect(settings.rabbitmq, name="ccx-tests-publisher")
    publisher = Publisher(connection)
    try:
        results = await publisher.publish_batch(
            [Dispatch("msg_a", tenant, "low"), Dispatch("msg_b", "no-such-tenant", "low")]
        )
        assert results[0] is True
        assert isinstance(results[1], Exception)  # unroutable (mandatory): reported, not raised

        # Drop the socket under the robust connection, as a broker restart would.
        assert connection.transport is not None
        await connection.transport.connection.close(ConnectionResetError("simulated outage"))
        assert not publisher.ready
        during = await publisher.publish_batch([Dispatch("msg_c", tenant, "low")])
        assert isinstance(during[0], Exception)

        deadline = time.monotonic() + 15
        while True:
            after = await publisher.publish_batch([Dispatch("msg_d", tenant, "low")])
            if after[0] is True or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert after == [True]
    finally:
        await publisher.close()
        await connection.close()
    got = [m.message_id for m in await drain(rabbit, tenant, "low")]
    assert got == ["msg_a", "msg_d"]
