"""Issue 6's promise end to end: an endpoint registered and messages posted through a real
`ccx serve`, sent by the worker to the sandbox, Meta's callbacks duplicated and reordered on
their way back to that `ccx serve`, and the client's loopback receiver gets signed
`message.sent`, `message.delivered` and `message.read` for each message, once each and in
order, verified with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from sandbox_it import SandboxProcess

from ccx.config import Settings
from ccx.dispatch.worker import Worker
from ccx.status.consumer import StatusConsumer
from ccx.store.messages import MessageRepository, Status
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.webhooks.worker import DeliveryWorker
from tests.e2e.serving import serve
from tests.integration.dispatch.worker_it import admin_call, set_faults, wait_for
from tests.integration.webhooks.conftest import LOOPBACK, hook_settings
from tests.integration.webhooks.receiver import Receiver, receiving


def ccx(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ccx.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def token(tenant: str) -> str:
    """A token from the CLI, signed with a key in the key store (made before `ccx serve`
    starts, so the server loads it)."""
    ccx("keys", "rotate")
    return ccx("token", "issue", "--tenant", tenant, "--scope", "messages:write webhooks:write")


@pytest.fixture
def api(tmp_path: Path, token: str) -> Iterator[str]:
    with serve(tmp_path, env={"CCX_WEBHOOKS_ALLOW_NETWORKS": LOOPBACK}) as base:
        yield base


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
    token: str,
    worker: Worker,
    statuses: StatusConsumer,
    deliverer: DeliveryWorker,
    receiver: Receiver,
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    auth = {"authorization": f"Bearer {token}"}
    timing = {"sent_delay_s": 0.1, "delivered_delay_s": 0.2, "read_delay_s": 0.2}
    await admin_call(sandbox, "PUT", "/callbacks", json={"url": api + "/webhooks/meta", **timing})
    try:
        await set_faults(sandbox, {"callbacks": {"duplicate": 1.0, "reorder": 0.5}})
        async with httpx.AsyncClient(base_url=api, headers=auth, trust_env=False) as client:
            created = await client.post("/v1/webhook-endpoints", json={"url": receiver.url})
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            ids = []
            for i in range(6):
                message = {"to": f"+44770090{i:04d}", "type": "text", "text": {"body": "hi"}}
                accepted = await client.post("/v1/messages", json=message)
                assert accepted.status_code == 202, accepted.text
                ids.append(accepted.json()["id"])
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
