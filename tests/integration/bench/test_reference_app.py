"""The bench's reference accept path against the real services: one message lands in the
tenant's MongoDB database and, as ccx's envelope, in the tenant's queue for its priority."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from ccx.bench import stack
from ccx.config import load_settings
from ccx.queue.names import Tier, tier_queue
from ccx.queue.publisher import envelope_message_ids
from ccx.store.mongo import Document
from ccx.store.names import MESSAGES, tenant_db


@pytest_asyncio.fixture
async def tenant(
    mongo: AsyncMongoClient[Document], rabbit: AbstractRobustConnection
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A tenant id and the bench environment (its own platform database); removed after."""
    tid = f"it_bench_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    env = stack.bench_env()
    yield tid, env
    await stack.drop_tenant(load_settings(env=env), tid)


async def test_one_message_is_stored_and_queued(
    tenant: tuple[str, dict[str, str]],
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tmp_path: Path,
) -> None:
    tid, env = tenant
    setup = await asyncio.to_thread(stack.prepare_tenant, tid, env)
    server = await asyncio.to_thread(stack.start_server, "reference", 1, env, tmp_path)
    try:
        body = {"to": "+5511999998888", "type": "text", "text": {"body": "hi"}, "priority": "high"}
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            answer = await client.post(
                "/v1/messages",
                content=orjson.dumps(body),
                headers={"authorization": f"Bearer {setup.token}", "idempotency-key": "k-1"},
            )
            again = await client.post(
                "/v1/messages",
                content=orjson.dumps(body),
                headers={"authorization": f"Bearer {setup.token}", "idempotency-key": "k-1"},
            )
            invalid = await client.post(
                "/v1/messages",
                content=b'{"to": "+5511999998888", "type": "text"}',
                headers={"authorization": f"Bearer {setup.token}"},
            )
            unauthorized = await client.post("/v1/messages", content=orjson.dumps(body))
    finally:
        await asyncio.to_thread(server.stop)

    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["status"] == "accepted"
    assert again.status_code == 202
    assert again.json()["id"] == accepted["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert unauthorized.status_code == 401

    stored = await mongo[tenant_db(tid)][MESSAGES].find_one({"_id": accepted["id"]})
    assert stored is not None
    assert stored["to"] == "+5511999998888"
    assert stored["priority"] == "high"
    assert stored["idempotency_key"] == "k-1"
    assert await mongo[tenant_db(tid)][MESSAGES].count_documents({}) == 1

    channel = await rabbit.channel()
    queue = await channel.get_queue(tier_queue(tid, Tier.HIGH))
    delivered = await queue.get(timeout=5, fail=True)
    assert delivered is not None
    await delivered.ack()
    envelope = orjson.loads(delivered.body)
    assert envelope_message_ids(delivered.body) == [accepted["id"]]
    assert envelope["tenant"] == tid
    assert envelope["kind"] == "dispatch"
    assert await queue.get(timeout=5, fail=False) is None
    await channel.close()
