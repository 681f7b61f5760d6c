"""A throw-away tenant per test (registry entry, database, tier queues, idempotency keys)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.admin.cli import create_tenant
from ccx.config import Settings
from ccx.queue.names import Tier, tier_queue
from ccx.store.mongo import Document
from ccx.store.names import PLATFORM_TENANTS, tenant_db


async def drop_tenant(
    tid: str,
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    rabbit: AbstractRobustConnection,
) -> None:
    await mongo.drop_database(tenant_db(tid))
    await mongo[settings.mongo.platform_db][PLATFORM_TENANTS].delete_one({"_id": tid})
    keys = [key async for key in redis.scan_iter(match=f"ccx:idem:{tid}:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    channel = await rabbit.channel()
    for tier in Tier:
        queue = await channel.get_queue(tier_queue(tid, tier), ensure=False)
        await queue.delete(if_unused=False, if_empty=False)
    await channel.close()


@pytest_asyncio.fixture
async def tenant(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    rabbit: AbstractRobustConnection,
) -> AsyncIterator[str]:
    tid = f"in-{os.getpid()}-{time.monotonic_ns() % 10**10}"
    await create_tenant(settings, tid, None)
    yield tid
    await drop_tenant(tid, settings, mongo, redis, rabbit)
