"""Clients connected to the real local services; a service that is down skips, or fails in CI."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from typing import NoReturn

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.admin.cli import create_tenant
from ccx.cache import redis as cache
from ccx.config import Settings, load_settings
from ccx.queue import connection as queue
from ccx.queue.names import Tier, tier_queue
from ccx.store import mongo as store
from ccx.store.mongo import Document
from ccx.store.names import PLATFORM_TENANTS, tenant_db

HINT = "start the local services with `make services` or `scripts/services.sh start`"


def unavailable(service: str, exc: BaseException) -> NoReturn:
    """Skip the test when a service is down, but fail the run in CI, where it must be up."""
    message = f"{service} is not reachable ({type(exc).__name__}: {exc}); {HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest_asyncio.fixture(scope="session")
async def mongo(settings: Settings) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = store.make_client(settings.mongo)
    try:
        await store.ping(client)
    except Exception as exc:
        await client.close()
        unavailable("MongoDB (FerretDB)", exc)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = cache.make_client(settings.redis)
    try:
        await cache.ping(client)
    except Exception as exc:
        await client.aclose()
        unavailable("Redis", exc)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(scope="session")
async def rabbit(settings: Settings) -> AsyncIterator[AbstractRobustConnection]:
    try:
        connection = await queue.connect(settings.rabbitmq, name="ccx-tests")
    except Exception as exc:
        unavailable("RabbitMQ", exc)
    yield connection
    await connection.close()


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


@pytest_asyncio.fixture
async def other_tenant(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    rabbit: AbstractRobustConnection,
) -> AsyncIterator[str]:
    """A second tenant, for tests about isolation between tenants."""
    tid = f"in-{os.getpid()}-b{time.monotonic_ns() % 10**9}"
    await create_tenant(settings, tid, None)
    yield tid
    await drop_tenant(tid, settings, mongo, redis, rabbit)
