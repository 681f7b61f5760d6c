"""Issue 6's promise end to end: messages sent through the worker to the sandbox, Meta's
callbacks duplicated and reordered on their way to a real `ccx serve`, and the client's
loopback receiver gets signed `message.sent`, `message.delivered` and `message.read` for
each message, once each and in order, verified with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from sandbox_it import SandboxProcess

from ccx._native import generate_webhook_secret
from ccx.config import Settings
from ccx.dispatch.worker import Worker
from ccx.ingest.accept import GroupCommitter
from ccx.security import DataKeys
from ccx.status.consumer import StatusConsumer
from ccx.store.messages import MessageRepository, Status
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.webhooks import EndpointRepository
from ccx.webhooks.worker import DeliveryWorker
from tests.e2e.serving import serve
from tests.integration.dispatch.worker_it import accept_texts, admin_call, set_faults, wait_for
from tests.integration.webhooks.conftest import hook_settings
from tests.integration.webhooks.receiver import Receiver, receiving


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    with serve(tmp_path) as base:
        yield base


@pytest_asyncio.fixture
async def statuses(
    settings: Settings, mongo: AsyncMongoClient[Document], rabbit: AbstractRobustConnection
) -> AsyncIterator[StatusConsumer]:
    consumer = StatusConsumer(mongo, settings.mongo.platform_db)
    await consumer.start(rabbit)
    yield consumer
    await consumer.close()


@pytest_asyncio.fixture
async def deliverer(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    rabbit: AbstractRobustConnection,
) -> AsyncIterator[DeliveryWorker]:
    worker = DeliveryWorker(hook_settings(settings), mongo, redis)
    await worker.start(rabbit)
    yield worker
    await worker.close()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as r:
        yield r


async def test_reordered_and_duplicated_callbacks_give_one_signed_webhook_per_state_in_order(
    api: str,
    worker: Worker,
    statuses: StatusConsumer,
    deliverer: DeliveryWorker,
    receiver: Receiver,
    committer: GroupCommitter,
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    secret = generate_webhook_secret()
    endpoints = EndpointRepository(
        mongo[tenant_db(tenant)], tenant, DataKeys.from_settings(settings.security)
    )
    await endpoints.create(receiver.url, secret)
    timing = {"sent_delay_s": 0.1, "delivered_delay_s": 0.2, "read_delay_s": 0.2}
    await admin_call(sandbox, "PUT", "/callbacks", json={"url": api + "/webhooks/meta", **timing})
    try:
        await set_faults(sandbox, {"callbacks": {"duplicate": 1.0, "reorder": 0.5}})
        ids = await accept_texts(committer, tenant, 6)
        repo = MessageRepository(mongo[tenant_db(tenant)])
        await wait_for(repo, ids, {Status.READ}, timeout_s=30)
        await receiver.wait(3 * len(ids), timeout_s=30)
        await asyncio.sleep(1.0)  # anything extra would arrive now
    finally:
        await admin_call(sandbox, "PUT", "/callbacks", json={"url": ""})

    events = receiver.verified(secret)
    assert len(events) == 3 * len(ids)
    for message_id in ids:
        mine = [e for e in events if e["data"]["message_id"] == message_id]
        assert [e["type"] for e in mine] == ["message.sent", "message.delivered", "message.read"]
        seqs = [e["data"]["seq"] for e in mine]
        assert seqs == sorted(seqs)
        assert len({e["id"] for e in mine}) == 3
