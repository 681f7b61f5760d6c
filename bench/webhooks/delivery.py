"""Client webhook delivery: events/s from notice to a local receiver's 2xx, with records kept.

    .venv/bin/python -m bench.webhooks.delivery [--messages 1000] [--json] [--out FILE]

Needs the local services (`make services`). On a fresh tenant with one endpoint (a receiver
on loopback, in this process), `--messages` messages are given the life sent → delivered →
read (3 events each, written before timing starts), then:

1. **baseline**: the same 3 x `--messages` bodies signed (native) and POSTed by 64 tasks
   over one aiohttp session: no notice, no lock, no database. The ratio `worker / baseline`
   is the share of the raw transport the delivery path keeps.
2. **delivery**: a `DeliveryWorker` in this process; one notice per message published at
   once; rate = events / (last 2xx - first notice), and per event the lag from its notice.
   Every event is checked to arrive once and in order per message.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import platform
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ccx._native import WebhookSigner, generate_webhook_secret
from ccx.admin.cli import create_tenant
from ccx.cache import redis as cache
from ccx.config import load_settings
from ccx.ids import new_message_id
from ccx.queue import connection as amqp
from ccx.queue.hooks import HookNotifier
from ccx.queue.publisher import Publisher
from ccx.queue.topology import declare_shared
from ccx.security import DataKeys
from ccx.store import mongo as store
from ccx.store.messages import Message, MessageRepository, Status, now_ms
from ccx.store.names import tenant_db
from ccx.store.transitions import Transitions
from ccx.store.webhooks import EndpointRepository
from ccx.webhooks.worker import DeliveryWorker

LIFE: list[tuple[Status, Status, dict[str, Any]]] = [
    (Status.ACCEPTED, Status.QUEUED, {}),
    (Status.QUEUED, Status.DISPATCHING, {"attempt": 1}),
    (Status.DISPATCHING, Status.SENT, {"wamid": "wamid.B"}),
    (Status.SENT, Status.DELIVERED, {}),
    (Status.DELIVERED, Status.READ, {}),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclasses.dataclass
class Counter:
    seen: list[tuple[float, bytes]] = dataclasses.field(default_factory=list)
    wanted: int = 0
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((time.perf_counter(), await request.read()))
        if len(self.seen) >= self.wanted:
            self.done.set()
        return web.Response(text="ok")


async def baseline(url: str, bodies: list[bytes], secret: str) -> float:
    signer = WebhookSigner([secret])
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def task() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                ts = int(time.time())
                headers = {
                    "content-type": "application/json",
                    "webhook-id": f"evt_{i}",
                    "webhook-timestamp": str(ts),
                    "webhook-signature": signer.sign(f"evt_{i}", ts, bodies[i]),
                }
                async with session.post(url, data=bodies[i], headers=headers) as reply:
                    await reply.read()

        started = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(64)))
        return len(bodies) / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings()
    settings = dataclasses.replace(
        settings,
        webhooks=dataclasses.replace(settings.webhooks, allow_networks="127.0.0.0/8"),
    )
    tenant = f"bench-wh-{os.getpid()}"
    await create_tenant(settings, tenant, None)
    mongo = store.make_client(settings.mongo)
    redis = cache.make_client(settings.redis)
    rabbit = await amqp.connect(settings.rabbitmq, name="bench-webhooks")
    await declare_shared(rabbit)
    counter = Counter()
    app = web.Application()
    app.router.add_post("/hooks", counter.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/hooks"
    publisher = Publisher(rabbit)
    worker = DeliveryWorker(settings, mongo, redis)
    try:
        db = mongo[tenant_db(tenant)]
        secret = generate_webhook_secret()
        keys = DataKeys.from_settings(settings.security)
        await EndpointRepository(db, tenant, keys).create(url, secret)
        repo = MessageRepository(db)
        moves = Transitions(repo)
        ids: list[str] = []
        for start in range(0, args.messages, 100):
            chunk = [
                Message(
                    id=new_message_id(),
                    to="+447700900001",
                    type="text",
                    text={"body": "bench"},
                    created_at=now_ms(),
                    metadata={"n": start + i},
                )
                for i in range(min(100, args.messages - start))
            ]
            await repo.insert_many(chunk)
            ids += [m.id for m in chunk]

        async def live(message_id: str) -> None:
            for source, target, fields in LIFE:
                await moves.transition(message_id, [source], target, None, **fields)

        sem = asyncio.Semaphore(16)

        async def bounded(message_id: str) -> None:
            async with sem:
                await live(message_id)

        await asyncio.gather(*(bounded(i) for i in ids))

        events = 3 * len(ids)
        bodies = [
            orjson.dumps({"type": "message.sent", "n": i, "pad": "x" * 300}) for i in range(events)
        ]
        counter.wanted = events
        base = await baseline(url, bodies, secret)
        counter.seen.clear()
        counter.done.clear()

        await worker.start(rabbit)
        notifier = HookNotifier(publisher)
        started = time.perf_counter()
        for start in range(0, len(ids), 50):
            await notifier.changed(tenant, ids[start : start + 50])
        await asyncio.wait_for(counter.done.wait(), args.timeout)
        await asyncio.sleep(1.0)  # anything extra (a duplicate) would land now
        elapsed = counter.seen[events - 1][0] - started
        lags = [(at - started) * 1000 for at, _ in counter.seen]
        order: dict[str, list[int]] = {}
        for _, body in counter.seen:
            data = orjson.loads(body)["data"]
            order.setdefault(data["message_id"], []).append(data["seq"])
        in_order = all(seqs == sorted(seqs) and len(seqs) == 3 for seqs in order.values())
    finally:
        await worker.close()
        await publisher.close()
        await runner.cleanup()
        await rabbit.close()
        await redis.aclose()
        await mongo.drop_database(tenant_db(tenant))
        await mongo[settings.mongo.platform_db]["tenants"].delete_one({"_id": tenant})
        await mongo.close()
    rate = events / elapsed
    return {
        "benchmark": "webhooks",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "setup": {
            "messages": args.messages,
            "events": events,
            "endpoints": 1,
            "receiver": "aiohttp on loopback, same process",
            "store": "FerretDB v1 (SQLite) on this machine",
        },
        "baseline_posts_per_s": round(base, 1),
        "delivered_events_per_s": round(rate, 1),
        "ratio_to_baseline": round(rate / base, 3),
        "received": len(counter.seen),
        "duplicates": len(counter.seen) - events,
        "in_order_per_message": in_order,
        "lag_from_notice_ms": {
            "p50": round(pct(lags, 0.5), 1),
            "p99": round(pct(lags, 0.99), 1),
            "max": round(max(lags), 1),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.webhooks.delivery", description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    data = orjson.dumps(report, option=orjson.OPT_INDENT_2)
    if args.out:
        args.out.write_bytes(data + b"\n")
    if args.json:
        print(data.decode())
    else:
        print(
            f"webhooks {report['delivered_events_per_s']:,.0f} events/s = "
            f"{report['ratio_to_baseline']:.2f} x baseline {report['baseline_posts_per_s']:,.0f}; "
            f"lag from notice p50 {report['lag_from_notice_ms']['p50']} ms "
            f"p99 {report['lag_from_notice_ms']['p99']} ms; in order: "
            f"{report['in_order_per_message']}, duplicates {report['duplicates']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
