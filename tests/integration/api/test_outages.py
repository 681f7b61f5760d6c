"""A dependency down → /readyz names it, requests that need it get 503 and nothing is half
written; when it comes back the app recovers by itself. Outages are made with a TCP proxy
in front of the real service."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest_asyncio
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.config import Settings
from ccx.store.mongo import Document
from ccx.store.names import MESSAGES, tenant_db
from tests.integration.api.conftest import ALL_SCOPES, Client, api_settings, started_app
from tests.integration.proxy import TcpProxy

TEXT = {"to": "+5511999998888", "type": "text", "text": {"body": "hello"}}


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


@pytest_asyncio.fixture
async def rabbit_proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(*_host_port(settings.rabbitmq.url, 5672))
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest_asyncio.fixture
async def mongo_proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(*_host_port(settings.mongo.uri, 27017))
    await proxy.start()
    yield proxy
    await proxy.cut()


async def _until(predicate_coro: object, timeout_s: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if await predicate_coro():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def test_rabbitmq_down_at_start_then_up_then_down_again(
    settings: Settings,
    tenant: str,
    rabbit_proxy: TcpProxy,
    mongo: AsyncMongoClient[Document],
) -> None:
    await rabbit_proxy.cut()
    rabbit = dataclasses.replace(
        settings.rabbitmq,
        url=f"amqp://guest:guest@127.0.0.1:{rabbit_proxy.port}/",
        reconnect_interval_s=0.3,
        timeout_s=1.0,
    )
    app = await started_app(dataclasses.replace(api_settings(settings), rabbitmq=rabbit))
    try:
        client = Client(app, tenant, "")
        client.token = client.token_for(ALL_SCOPES)
        sender = {"waba_id": "1", "access_token": "t"}
        assert (await client.request("PUT", "/v1/senders/15550001111", sender)).status == 201
        ready = await client.get("/readyz", token=None)
        assert ready.status == 503
        assert ready.json()["unavailable"] == ["rabbitmq"]
        refused = await client.post("/v1/messages", TEXT)
        assert refused.status == 503
        assert refused.headers["retry-after"]
        assert refused.json()["dependency"] == "rabbitmq"
        assert await mongo[tenant_db(tenant)][MESSAGES].count_documents({}) == 0

        await rabbit_proxy.restore()

        async def ready_now() -> bool:
            return (await client.get("/readyz", token=None)).status == 200

        await _until(ready_now)
        accepted = await client.post("/v1/messages", TEXT)
        assert accepted.status == 202, accepted.json()

        await rabbit_proxy.cut()  # the broker goes away while serving
        await _until(lambda: _not(ready_now))
        assert (await client.post("/v1/messages", TEXT)).status == 503
        await rabbit_proxy.restore()
        await _until(ready_now)
        assert (await client.post("/v1/messages", TEXT)).status == 202
        assert await mongo[tenant_db(tenant)][MESSAGES].count_documents({}) == 2
    finally:
        await app.shutdown()


async def _not(check: object) -> bool:
    return not await check()  # type: ignore[operator]


async def test_mongodb_down_is_503_and_leaves_no_idempotency_key(
    settings: Settings,
    tenant: str,
    mongo_proxy: TcpProxy,
    mongo: AsyncMongoClient[Document],
    redis: Redis,
) -> None:
    uri = f"mongodb://127.0.0.1:{mongo_proxy.port}/?directConnection=true"
    store = dataclasses.replace(settings.mongo, uri=uri, timeout_ms=800)
    app = await started_app(dataclasses.replace(api_settings(settings), mongo=store))
    try:
        client = Client(app, tenant, "")
        client.token = client.token_for(ALL_SCOPES)
        sender = {"waba_id": "1", "access_token": "t"}
        assert (await client.request("PUT", "/v1/senders/15550001111", sender)).status == 201
        assert (await client.post("/v1/messages", TEXT)).status == 202  # tenant now cached

        await mongo_proxy.cut()
        headers = {"idempotency-key": "during-outage"}
        refused = await client.post("/v1/messages", TEXT, headers=headers)
        assert refused.status == 503, refused.json()
        assert refused.headers["retry-after"]
        assert refused.json()["dependency"] == "mongodb"
        assert await redis.get(f"ccx:idem:{tenant}:during-outage") is None
        ready = await client.get("/readyz", token=None)
        assert ready.status == 503
        assert "mongodb" in ready.json()["unavailable"]

        await mongo_proxy.restore()
        accepted = await client.post("/v1/messages", TEXT, headers=headers)
        assert accepted.status == 202, accepted.json()
        assert "idempotent-replayed" not in accepted.headers
        assert await mongo[tenant_db(tenant)][MESSAGES].count_documents({}) == 2
    finally:
        await app.shutdown()
