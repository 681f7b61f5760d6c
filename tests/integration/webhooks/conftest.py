"""A delivery worker on the real services, allowed to reach loopback receivers."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.config import Settings
from ccx.queue.hooks import HookNotifier
from ccx.queue.publisher import Publisher
from ccx.store.mongo import Document
from ccx.webhooks.worker import DeliveryWorker
from tests.integration.webhooks.receiver import Receiver, receiving

LOOPBACK = "127.0.0.0/8,::1/128"


def hook_settings(settings: Settings, **changes: object) -> Settings:
    webhooks = dataclasses.replace(settings.webhooks, **{"allow_networks": LOOPBACK, **changes})
    return dataclasses.replace(settings, webhooks=webhooks)


@pytest.fixture
def delivery_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Loopback allowed; a test changes more with `indirect` parametrization."""
    return hook_settings(settings, **getattr(request, "param", {}))


@pytest_asyncio.fixture
async def deliverer(
    delivery_settings: Settings,
    mongo: AsyncMongoClient[Document],
    redis: Redis,
    rabbit: AbstractRobustConnection,
) -> AsyncIterator[DeliveryWorker]:
    worker = DeliveryWorker(delivery_settings, mongo, redis)
    await worker.start(rabbit)
    yield worker
    await worker.close()


@pytest_asyncio.fixture
async def notifier(rabbit: AbstractRobustConnection) -> AsyncIterator[HookNotifier]:
    publisher = Publisher(rabbit)
    yield HookNotifier(publisher)
    await publisher.close()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as r:
        yield r


@dataclass(frozen=True)
class Hooks:
    """What a delivery test drives: a running delivery worker, a notifier, a receiver."""

    settings: Settings
    mongo: AsyncMongoClient[Document]
    tenant: str
    notifier: HookNotifier
    receiver: Receiver
    worker: DeliveryWorker

    def parts(
        self,
    ) -> tuple[Settings, AsyncMongoClient[Document], str, HookNotifier, Receiver]:
        return self.settings, self.mongo, self.tenant, self.notifier, self.receiver


@pytest_asyncio.fixture
async def hooks(
    deliverer: DeliveryWorker,
    notifier: HookNotifier,
    receiver: Receiver,
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    tenant: str,
) -> Hooks:
    return Hooks(settings, mongo, tenant, notifier, receiver, deliverer)
