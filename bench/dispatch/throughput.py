"""Dispatch throughput (queue → sandbox, events persisted) and latency from 202 to `sent`.

    .venv/bin/python -m bench.dispatch.throughput [--messages 4000] [--numbers 8]
        [--rate 100] [--seconds 10] [--slow-seconds 30] [--slow-messages 12000]
        [--json] [--out FILE]

Needs the local services (`make services`). Starts a sandbox (no rate limits) and runs, on a
fresh tenant with `--numbers` sender numbers (tier 1000):

1. **baseline**: the same sends straight to the sandbox from the worker's Meta client with 64
   tasks: no queue, no claim, no database. The ratio `worker / baseline` is the share of
   the raw send rate the whole pipeline keeps.
2. **throughput**: `--messages` accepted first (they wait in the tier queue), then one
   `ccx worker` process is started; rate = messages / (last `sent` persisted − first send).
3. **latency**: with the worker running, messages accepted at `--rate`/s for `--seconds`;
   per message, `sent` event time − accept time (both on this machine's clock).
4. **memory**: Meta slowed to 1.5 s per answer and `--slow-messages` queued: the worker's
   RSS sampled each second for `--slow-seconds` (it must stay flat: prefetch bounds what it
   holds, whatever the queue's length).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.dispatch.http_client import ROOT, TOKEN, start_sandbox
from ccx.admin.cli import create_tenant
from ccx.bench.cpu import cpu_seconds, service_pids
from ccx.cache import redis as cache
from ccx.config import load_settings
from ccx.dispatch.meta_client import MetaClient
from ccx.ingest.accept import AcceptItem, GroupCommitter
from ccx.queue import connection as amqp
from ccx.queue.publisher import Publisher
from ccx.security import DataKeys
from ccx.store import mongo as store
from ccx.store.names import tenant_db
from ccx.store.senders import SenderRepository

WABA_ID = "100000000000001"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


FINAL = ["sent", "failed", "undetermined", "reconciling"]


def text(i: int) -> dict[str, Any]:
    # +44 7700 recipients never equal a sandbox display number (+1555…), so none fail 131021
    return {"to": f"+447700{i % 10**6:06d}", "type": "text", "text": {"body": f"bench {i}"}}


async def baseline(url: str, numbers: list[str], sends: int) -> float:
    body = {
        "messaging_product": "whatsapp",
        "to": "+15550001111",
        "type": "text",
        "text": {"body": "baseline"},
    }
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(sends):
        queue.put_nowait(i)
    async with MetaClient(url, max_connections=64) as client:

        async def task() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                await client.send(numbers[i % len(numbers)], TOKEN, body)

        started = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(64)))
        return sends / (time.perf_counter() - started)


def worker_process(settings_env: dict[str, str], tenant: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings_env}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ccx", "worker", "--tenant", tenant],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def ledger_count(admin: httpx.AsyncClient) -> int:
    reply = await admin.get("/ledger", params={"entries": "0"})
    return int(reply.json()["count"])


@dataclasses.dataclass
class Bench:
    """The stack one benchmark run drives: a fresh tenant, its numbers, the sandbox."""

    args: argparse.Namespace
    tenant: str
    numbers: list[str]
    committer: GroupCommitter
    admin: httpx.AsyncClient
    db: Any
    worker_env: dict[str, str]
    log: Path
    worker: subprocess.Popen[bytes] | None = None

    async def accept(self, i: int) -> tuple[str, float]:
        item = AcceptItem(self.tenant, text(i), sender=self.numbers[i % len(self.numbers)])
        result = await self.committer.submit(item)
        return result.id, result.created_at.timestamp()

    def check_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is not None:
            raise RuntimeError("worker died:\n" + self.log.read_text()[-3000:])

    async def poll(self, done: Callable[[], Awaitable[bool]], seconds: float, every: float) -> None:
        for _ in range(int(seconds / every)):
            self.check_worker()
            if await done():
                return
            await asyncio.sleep(every)
        raise TimeoutError(f"not done after {seconds:.0f} s; worker log: {self.log}")


async def throughput(bench: Bench) -> dict[str, Any]:
    """Fill the queue, start one worker, time first send → last final state persisted."""
    count: int = bench.args.messages
    await asyncio.gather(*(bench.accept(i) for i in range(count)))
    bench.worker = worker_process(bench.worker_env, bench.tenant, bench.log)

    async def any_sent() -> bool:
        return await ledger_count(bench.admin) > 0

    await bench.poll(any_sent, seconds=60, every=0.01)
    first_send = time.perf_counter()
    store_pid = service_pids().get("ferretdb")
    worker_cpu = cpu_seconds(bench.worker.pid)
    store_cpu = cpu_seconds(store_pid) if store_pid else 0.0
    messages = bench.db["messages"]

    # The sandbox ledger is cheap to poll; counting documents is a full scan in FerretDB, so it
    # starts only once every send has happened (the last outcome writes follow within ms).
    async def all_answered() -> bool:
        return await ledger_count(bench.admin) >= count

    async def all_final() -> bool:
        return int(await messages.count_documents({"status": {"$in": FINAL}})) >= count

    await bench.poll(all_answered, seconds=600, every=0.05)
    await bench.poll(all_final, seconds=60, every=0.05)
    elapsed = time.perf_counter() - first_send
    worker_cpu = cpu_seconds(bench.worker.pid) - worker_cpu
    store_cpu = cpu_seconds(store_pid) - store_cpu if store_pid else 0.0
    sent = await messages.count_documents({"status": "sent"})
    ledger = await ledger_count(bench.admin)
    rate = count / elapsed
    print(f"worker: {rate:,.0f} msg/s ({elapsed:.1f} s)", file=sys.stderr)
    return {
        "worker_msgs_per_s": round(rate, 1),
        "seconds": round(elapsed, 2),
        "sent": sent,
        "not_sent": count - sent,
        "sandbox_accepted_sends": ledger,
        # CPU per message of each side: where the time goes on this 2-core machine
        "worker_cpu_ms_per_msg": round(worker_cpu * 1000 / count, 3),
        "ferretdb_cpu_ms_per_msg": round(store_cpu * 1000 / count, 3) if store_pid else None,
    }


async def latency(bench: Bench) -> dict[str, Any]:
    """Accept at a steady rate with the worker running; 202 → `sent` event per message."""
    rate: int = bench.args.rate
    offset: int = bench.args.messages
    interval = 1 / rate
    start = time.perf_counter()
    tasks: list[asyncio.Task[tuple[str, float]]] = []
    for i in range(int(rate * bench.args.seconds)):  # open loop: one task per arrival
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(bench.accept(offset + i)))
    accepted = dict(await asyncio.gather(*tasks))
    # Wait on the sandbox ledger (cheap), then read the `sent` events in one query: polling
    # the events collection would be a full scan in FerretDB and slow the worker down.
    expected = offset + len(accepted)

    async def all_answered() -> bool:
        return await ledger_count(bench.admin) >= expected

    with contextlib.suppress(TimeoutError):
        await bench.poll(all_answered, seconds=60, every=0.05)
    await asyncio.sleep(1)
    latencies: list[float] = []
    pending = dict(accepted)
    # queued (seq 2) is implied by the message document; claim (3) and sent (4) are events
    ids = [f"{message_id}.{seq}" for message_id in accepted for seq in (3, 4)]
    at: dict[str, float] = {}
    async for event in bench.db["events"].find({"_id": {"$in": ids}}):
        at[event["_id"]] = event["at"].timestamp()
    stages: dict[str, list[float]] = {"accepted_to_claim": [], "claim_to_sent": []}
    for message_id, accepted_at in accepted.items():
        claimed, sent = at.get(f"{message_id}.3"), at.get(f"{message_id}.4")
        if claimed is None or sent is None:
            continue
        del pending[message_id]
        latencies.append((sent - accepted_at) * 1000)
        stages["accepted_to_claim"].append((claimed - accepted_at) * 1000)
        stages["claim_to_sent"].append((sent - claimed) * 1000)
    print(
        f"latency p50 {pct(latencies, 0.5):.0f} ms p99 {pct(latencies, 0.99):.0f} ms",
        file=sys.stderr,
    )
    return {
        "rate_per_s": rate,
        "count": len(latencies),
        "unfinished": len(pending),
        "p50": round(pct(latencies, 0.5), 1),
        "p90": round(pct(latencies, 0.9), 1),
        "p99": round(pct(latencies, 0.99), 1),
        "max": round(max(latencies, default=0.0), 1),
        # where the time goes: 202 → claim event, claim event → sent event
        "stage_p50": {k: round(pct(v, 0.5), 1) for k, v in stages.items()},
        "stage_p99": {k: round(pct(v, 0.99), 1) for k, v in stages.items()},
    }


async def memory(bench: Bench) -> dict[str, Any]:
    """Meta slowed to 1.5 s per answer, then `--slow-messages` queued (several times what the
    prefetch lets one worker hold): the worker's RSS before, once all are queued, and every
    second for `--slow-seconds` after."""
    assert bench.worker is not None
    await bench.admin.put("/faults/default", json={"latency": "fixed:1500"})
    before = rss_mb(bench.worker.pid)
    offset = bench.args.messages * 2
    total: int = bench.args.slow_messages
    for start in range(0, total, 1000):
        count = min(1000, total - start)
        await asyncio.gather(*(bench.accept(offset + start + i) for i in range(count)))
    queued = rss_mb(bench.worker.pid)
    rss: list[float] = []
    for _ in range(bench.args.slow_seconds):
        bench.check_worker()
        rss.append(rss_mb(bench.worker.pid))
        await asyncio.sleep(1)
    await bench.admin.put("/faults/default", json={})
    return {
        "meta_latency_ms": 1500,
        "queued": total,
        "seconds": bench.args.slow_seconds,
        "rss_mb_before": round(before, 1),
        "rss_mb_all_queued": round(queued, 1),
        "rss_mb_max": round(max(rss), 1) if rss else None,
        "rss_mb_last": round(rss[-1], 1) if rss else None,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings()
    settings = dataclasses.replace(
        settings, mongo=dataclasses.replace(settings.mongo, timeout_ms=10_000)
    )
    tenant = f"bench-dispatch-{int(time.time())}"
    numbers = [f"30000000000{i:04d}" for i in range(args.numbers)]
    workdir = Path(tempfile.mkdtemp(prefix="ccx-bench-dispatch-"))
    sandbox, url = start_sandbox(workdir)
    mongo = store.make_client(settings.mongo)
    redis = cache.make_client(settings.redis)
    rabbit = await amqp.connect(settings.rabbitmq, name="ccx-bench-dispatch")
    publisher = Publisher(rabbit)
    await publisher.start()
    bench = Bench(
        args=args,
        tenant=tenant,
        numbers=numbers,
        committer=GroupCommitter.for_clients(mongo, redis, publisher),
        admin=httpx.AsyncClient(base_url=url + "/_admin", trust_env=False, timeout=10),
        db=mongo[tenant_db(tenant)],
        worker_env={"CCX_DISPATCH_META_BASE_URL": url, "CCX_MONGO_TIMEOUT_MS": "10000"},
        log=workdir / "worker.log",
    )
    try:
        await create_tenant(settings, tenant, None)
        senders = SenderRepository(bench.db, DataKeys.from_settings(settings.security), tenant)
        for i, number in enumerate(numbers):
            await senders.put(
                number, waba_id=WABA_ID, access_token=TOKEN, is_default=i == 0, throughput=1000
            )
        base = await baseline(url, numbers, args.messages)
        await bench.admin.post("/reset", json={"faults": True})
        print(f"baseline: {base:,.0f} sends/s", file=sys.stderr)
        through = await throughput(bench)
        lat = await latency(bench)
        mem = await memory(bench)
    finally:
        if bench.worker is not None:
            bench.worker.terminate()
            try:
                bench.worker.wait(20)
            except subprocess.TimeoutExpired:
                bench.worker.kill()
        await bench.admin.aclose()
        await bench.committer.close()
        await publisher.close()
        await rabbit.close()
        await redis.aclose()
        await mongo.drop_database(tenant_db(tenant))
        await mongo[settings.mongo.platform_db]["tenants"].delete_one({"_id": tenant})
        await mongo.close()
        sandbox.terminate()
        sandbox.wait(10)
    return {
        "benchmark": "dispatch",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "setup": {
            "messages": args.messages,
            "numbers": args.numbers,
            "worker_processes": 1,
            "sandbox": "no rate limits, no latency",
            "store": "FerretDB v1 (SQLite, synchronous=normal) on this machine",
        },
        "baseline_sends_per_s": round(base, 1),
        **through,
        "ratio_to_baseline": round(through["worker_msgs_per_s"] / base, 3),
        "latency_ms": lat,
        "memory_meta_slow": mem,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.dispatch.throughput", description=__doc__)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--numbers", type=int, default=8)
    parser.add_argument("--rate", type=int, default=100, help="latency phase: messages/s")
    parser.add_argument("--seconds", type=int, default=10, help="latency phase: duration")
    parser.add_argument("--slow-seconds", type=int, default=30, help="memory phase: duration")
    parser.add_argument(
        "--slow-messages", type=int, default=12000, help="memory phase: messages queued"
    )
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
            f"worker {report['worker_msgs_per_s']:,.0f} msg/s = "
            f"{report['ratio_to_baseline']:.2f} x baseline {report['baseline_sends_per_s']:,.0f}; "
            f"202→sent p50 {report['latency_ms']['p50']} ms p99 {report['latency_ms']['p99']} ms; "
            f"RSS with Meta slow {report['memory_meta_slow']['rss_mb_all_queued']}→"
            f"{report['memory_meta_slow']['rss_mb_max']} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
