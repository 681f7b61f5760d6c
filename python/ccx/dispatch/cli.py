"""`ccx worker`: run a dispatch worker, the status consumer that applies Meta's callbacks and
the client-webhook delivery worker, until SIGTERM or SIGINT (uvloop)."""

from __future__ import annotations

import argparse
import asyncio
import signal

import uvloop
from aio_pika.abc import AbstractRobustConnection
from prometheus_client import start_http_server

from ccx.cache import redis as cache
from ccx.config import Settings, load_settings
from ccx.dispatch.worker import Worker
from ccx.queue import connection as amqp
from ccx.queue.topology import declare_shared
from ccx.status.consumer import StatusConsumer
from ccx.store import mongo as store
from ccx.webhooks.worker import DeliveryWorker


async def _statuses(settings: Settings) -> tuple[StatusConsumer, AbstractRobustConnection]:
    rabbit = await amqp.connect(settings.rabbitmq, name="ccx-status")
    await declare_shared(rabbit)
    consumer = StatusConsumer(store.make_client(settings.mongo), settings.mongo.platform_db)
    await consumer.start(rabbit)
    return consumer, rabbit


async def _webhooks(settings: Settings) -> tuple[DeliveryWorker, AbstractRobustConnection]:
    rabbit = await amqp.connect(settings.rabbitmq, name="ccx-webhooks")
    await declare_shared(rabbit)
    hooks = DeliveryWorker(
        settings, store.make_client(settings.mongo), cache.make_client(settings.redis)
    )
    await hooks.start(rabbit)
    return hooks, rabbit


async def _run(worker: Worker, settings: Settings, callbacks: bool, webhooks: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    statuses = await _statuses(settings) if callbacks else None
    hooks = await _webhooks(settings) if webhooks else None
    try:
        await worker.run(stop)
    finally:
        if hooks is not None:
            delivery, connection = hooks
            await delivery.close()
            await connection.close()
            await delivery.mongo.close()
            await delivery.redis.aclose()
        if statuses is not None:
            consumer, rabbit = statuses
            await consumer.close()
            await rabbit.close()
            await consumer.applier.mongo.close()


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="ccx worker", description=__doc__)
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=settings.dispatch.metrics_port,
        help="serve Prometheus /metrics on 127.0.0.1:PORT (0: off)",
    )
    parser.add_argument("--id", help="worker id in leases and logs (default: random)")
    parser.add_argument(
        "--tenant",
        action="append",
        dest="tenants",
        help="serve only this tenant (repeatable; default: every tenant)",
    )
    parser.add_argument(
        "--no-callbacks",
        dest="callbacks",
        action="store_false",
        help="do not apply Meta's status callbacks in this process",
    )
    parser.add_argument(
        "--no-webhooks",
        dest="webhooks",
        action="store_false",
        help="do not deliver client webhooks in this process",
    )
    args = parser.parse_args(argv)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr="127.0.0.1")
    worker = Worker(settings, worker_id=args.id, tenants=args.tenants)
    uvloop.run(_run(worker, settings, args.callbacks, args.webhooks))
    return 0
