"""The shared (Redis) rate limits against a real Redis: bursts, waits, all-or-nothing, several
workers sharing one limit, and Redis down; two workers with the sandbox's throughput limit."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from sandbox_it import PNID, SandboxProcess

from ccx.config import Settings
from ccx.dispatch.limits import Bucket, SharedLimits
from ccx.dispatch.worker import Worker
from ccx.ingest.accept import GroupCommitter
from ccx.security import DataKeys
from ccx.store.messages import MessageRepository, Status
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.senders import SenderRepository
from ccx.telemetry import metrics
from tests.integration.dispatch.worker_it import (
    accept_texts,
    ledger,
    meta_allows,
    wait_for,
    worker_settings,
)


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def grants_within(limits: SharedLimits, buckets: list[Bucket], seconds: float) -> int:
    """How many acquires complete within `seconds` when 100 ask at once."""
    done = 0

    async def one() -> None:
        nonlocal done
        await limits.acquire(buckets)
        done += 1

    tasks = [asyncio.create_task(one()) for _ in range(100)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return done


async def test_a_burst_then_the_rate(redis: Redis) -> None:
    limits = SharedLimits(redis)
    bucket = Bucket(key(), rate=10.0, burst=5.0)
    # 5 at once, then one per 100 ms: about 5 + 5 within half a second
    granted = await grants_within(limits, [bucket], 0.55)
    assert 8 <= granted <= 11


async def test_a_message_held_back_by_one_bucket_takes_nothing_from_the_others(
    redis: Redis,
) -> None:
    limits = SharedLimits(redis)
    number, pair = Bucket(key(), rate=1.0, burst=2.0), Bucket(key(), rate=0.1, burst=1.0)
    await limits.acquire([number, pair])  # the pair's only token
    started = time.monotonic()
    blocked = asyncio.create_task(limits.acquire([number, pair]))
    await asyncio.sleep(0.2)
    assert not blocked.done()
    # the number bucket still has its second token: the blocked message did not take it
    await asyncio.wait_for(limits.acquire([number]), 0.5)
    assert time.monotonic() - started < 0.6
    blocked.cancel()


async def test_two_workers_share_one_limit(redis: Redis) -> None:
    shared = Bucket(key(), rate=20.0, burst=1.0)
    first, second = SharedLimits(redis), SharedLimits(redis)
    started = time.monotonic()
    await asyncio.gather(
        *(first.acquire([shared]) for _ in range(20)),
        *(second.acquire([shared]) for _ in range(20)),
    )
    # 40 tokens at 20/s across both: about 2 s, not the 1 s two local buckets would allow
    assert time.monotonic() - started > 1.7


async def test_urgent_requests_are_granted_first_within_a_batch(redis: Redis) -> None:
    limits = SharedLimits(redis, linger_s=0.02)
    bucket = Bucket(key(), rate=1.0, burst=1.0)
    bulk = asyncio.create_task(limits.acquire([bucket], rank=3))
    otp = asyncio.create_task(limits.acquire([bucket], rank=0))
    await asyncio.wait_for(otp, 1.0)
    assert not bulk.done()
    bulk.cancel()


async def test_unlimited_buckets_are_not_asked(redis: Redis) -> None:
    assert await SharedLimits(redis).acquire([Bucket(key(), rate=0.0)]) == 0.0


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0"])
async def test_redis_down_skips_the_shared_stage(url: str) -> None:
    down = Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.2)
    before = metrics.dispatch_limit_errors_total._value.get()
    try:
        limits = SharedLimits(down)
        await asyncio.wait_for(limits.acquire([Bucket(key(), 1.0)]), 2.0)
        await asyncio.wait_for(limits.acquire([Bucket(key(), 1.0)]), 2.0)
    finally:
        await down.aclose()
    assert metrics.dispatch_limit_errors_total._value.get() >= before + 2


async def test_two_workers_keep_a_number_under_metas_limit_together(
    settings: Settings,
    sandbox: SandboxProcess,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sender: str,
) -> None:
    # Meta allows the number 20 msg/s, and its sender record says so: each worker's local
    # bucket alone would let both together send 40/s
    senders = SenderRepository(
        mongo[tenant_db(tenant)], DataKeys.from_settings(settings.security), tenant
    )
    await senders.put(sender, throughput=20)
    await meta_allows(sandbox, PNID, 20)
    tuned = worker_settings(settings, sandbox)
    workers = [Worker(tuned, tenants=[tenant]) for _ in range(2)]
    for w in workers:
        await w.start()
        await w.consume_tenant(tenant)
    try:
        ids: list[str] = []
        for batch in range(8):  # eight envelopes, which the broker deals to both workers
            ids += await accept_texts(committer, tenant, 20, start=batch * 20)
            await asyncio.sleep(0.05)
        done = await wait_for(MessageRepository(mongo[tenant_db(tenant)]), ids, timeout_s=40)
    finally:
        for w in workers:
            await w.close()
    assert {m.status for m in done.values()} == {Status.SENT}
    book = await ledger(sandbox)
    assert book["count"] == 160
    # measured: 21-22 refusals of 160 with CCX_DISPATCH_SHARED_LIMITS=false (each local bucket
    # lets 20/s through, and the pacers halve only after refusals), 2-3 with the shared stage
    assert book["requests"]["responses"].get("130429", 0) <= 8, book["requests"]
