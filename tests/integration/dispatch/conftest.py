"""A real sandbox process for the dispatch client, started with the sandbox tests' helper.

`sandbox_it` lives beside the sandbox tests (a rootdir-style module, not a package), so
its folder is put on `sys.path` here. One sandbox per session; every test starts from a
reset (fresh seed, no faults, no rate limits unless the test sets them).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))

from sandbox_it import HANG_S, PNID, WABA_ID, SandboxProcess, start_sandbox

from ccx.config import Settings
from ccx.dispatch.limits import PREFIX
from ccx.dispatch.worker import Worker
from ccx.ingest.accept import GroupCommitter
from ccx.queue.publisher import Publisher
from ccx.security import DataKeys
from ccx.status.consumer import StatusConsumer
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.senders import SenderRepository
from tests.integration.dispatch.worker_it import worker_settings


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sb = start_sandbox(
        tmp_path_factory.mktemp("dispatch-sandbox"),
        "--token", "sandbox",
        "--hang-seconds", str(HANG_S),
        "--log-level", "WARNING",
    )  # fmt: skip
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def admin(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/_admin", timeout=5, trust_env=False) as c:
        yield c


_seeds = itertools.count(5000)


@pytest.fixture(autouse=True)
def clean(admin: httpx.Client) -> None:
    assert admin.post("/reset", json={"seed": next(_seeds), "faults": True}).is_success
    limits = {"throughput_enabled": False, "pair_enabled": False}
    assert admin.put("/limits", json=limits).is_success


@pytest_asyncio.fixture(autouse=True)
async def fresh_limits(redis: Redis) -> None:
    """No shared rate limit state from an earlier test (they reuse numbers and recipients)."""
    keys = [k async for k in redis.scan_iter(match=PREFIX + "*", count=1000)]
    if keys:
        await redis.delete(*keys)


# -- the worker tests --------------------------------------------------------------------------


@pytest_asyncio.fixture
async def sender(settings: Settings, mongo: AsyncMongoClient[Document], tenant: str) -> str:
    repo = SenderRepository(
        mongo[tenant_db(tenant)], DataKeys.from_settings(settings.security), tenant
    )
    await repo.put(PNID, waba_id=WABA_ID, access_token="sandbox", is_default=True)
    return PNID


@pytest_asyncio.fixture
async def committer(
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> AsyncIterator[GroupCommitter]:
    publisher = Publisher(rabbit)
    await publisher.start()
    committer = GroupCommitter.for_clients(mongo, redis, publisher)
    yield committer
    await committer.close()
    await publisher.close()


@pytest_asyncio.fixture
async def worker(
    settings: Settings, sandbox: SandboxProcess, tenant: str, sender: str
) -> AsyncIterator[Worker]:
    w = Worker(worker_settings(settings, sandbox), tenants=[tenant])
    await w.start()
    await w.consume_tenant(tenant)
    yield w
    await w.close()


@pytest_asyncio.fixture
async def statuses(
    settings: Settings, mongo: AsyncMongoClient[Document], rabbit: AbstractRobustConnection
) -> AsyncIterator[StatusConsumer]:
    """The status consumer, applying what `ccx serve` queues from Meta's callbacks."""
    consumer = StatusConsumer(mongo, settings.mongo.platform_db)
    await consumer.start(rabbit)
    yield consumer
    await consumer.close()
