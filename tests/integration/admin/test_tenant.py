"""`ccx tenant create` against the real store and broker: idempotent, indexes and queues."""

import dataclasses
import os
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from ccx.admin.cli import block_countries, create_tenant, list_tenants
from ccx.config import Settings
from ccx.queue.names import Tier, tier_queue
from ccx.store.indexes import CONSTRAINTS, TENANT_INDEXES, uses_query_indexes
from ccx.store.mongo import Document
from ccx.store.names import PLATFORM_TENANTS, tenant_db


@pytest_asyncio.fixture
async def tenant(
    settings: Settings, mongo: AsyncMongoClient[Document], rabbit: AbstractRobustConnection
) -> AsyncIterator[str]:
    tid = f"it-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    yield tid
    await mongo.drop_database(tenant_db(tid))
    await mongo[settings.mongo.platform_db][PLATFORM_TENANTS].delete_one({"_id": tid})
    channel = await rabbit.channel()
    for tier in Tier:
        queue = await channel.get_queue(tier_queue(tid, tier), ensure=False)
        await queue.delete(if_unused=False, if_empty=False)
    await channel.close()


async def test_create_is_idempotent_and_prepares_store_and_queues(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
) -> None:
    first = await create_tenant(settings, tenant, "Integration")
    second = await create_tenant(settings, tenant, "Renamed")
    assert first["created"] is True
    assert second["created"] is False
    assert second["name"] == "Integration"
    assert first["queues"] == [tier_queue(tenant, t) for t in Tier]

    db = mongo[tenant_db(tenant)]
    for collection, models in TENANT_INDEXES.items():
        names = {ix["name"] async for ix in await db[collection].list_indexes()}
        wanted = {m.document["name"] for m in models}
        if await uses_query_indexes(db):
            assert wanted <= names
        else:  # FerretDB v1: the constraints only
            assert {n for n in wanted if (collection, n) in CONSTRAINTS} <= names
            assert not {n for n in wanted if (collection, n) not in CONSTRAINTS} & names

    channel = await rabbit.channel()
    for name in first["queues"]:  # type: ignore[union-attr]
        await channel.declare_queue(name, passive=True)  # raises if missing
    await channel.close()
    assert tenant in [t["tenant"] for t in await list_tenants(settings)]


async def test_unsafe_tenant_ids_are_refused(settings: Settings) -> None:
    for bad in ["Upper", "", "a b", "a.b", "../x", "x" * 64]:
        with pytest.raises(ValueError, match="invalid tenant id"):
            await create_tenant(settings, bad, None)


async def test_country_rules_are_set_replaced_and_cleared(settings: Settings, tenant: str) -> None:
    await create_tenant(settings, tenant, None)
    first = await block_countries(settings, tenant, ["98", "53", "98"])
    assert first == {"tenant": tenant, "blocked_countries": ["53", "98"]}
    assert (await block_countries(settings, tenant, ["1876"]))["blocked_countries"] == ["1876"]
    assert (await block_countries(settings, tenant, []))["blocked_countries"] == []
    with pytest.raises(ValueError, match="not a country calling code: \\+98"):
        await block_countries(settings, tenant, ["+98"])
    with pytest.raises(ValueError, match="no tenant"):
        await block_countries(settings, tenant + "-missing", ["98"])


async def test_every_index_is_made_when_asked_even_on_ferretdb(
    settings: Settings, mongo: AsyncMongoClient[Document], tenant: str
) -> None:
    every = dataclasses.replace(
        settings, mongo=dataclasses.replace(settings.mongo, ferretdb_query_indexes=True)
    )
    await create_tenant(every, tenant, None)
    db = mongo[tenant_db(tenant)]
    for collection, models in TENANT_INDEXES.items():
        names = {ix["name"] async for ix in await db[collection].list_indexes()}
        assert {m.document["name"] for m in models} <= names
