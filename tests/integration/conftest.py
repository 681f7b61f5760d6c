"""Clients connected to the real local services; a service that is down skips, or fails in CI."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import NoReturn

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.cache import redis as cache
from ccx.config import Settings, load_settings
from ccx.queue import connection as queue
from ccx.store import mongo as store
from ccx.store.mongo import Document

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
