"""The tenants a run sends as, `lt-<scenario>-<k>`: each one created (`ccx tenant
create`, idempotent), given a token (`ccx token issue`) and, through the API, a sender
number (the demo's for the first) and the demo's templates. Their messages are deleted
before the run (what an earlier run left) and after it, once counted, with their queues
purged: the worker skips what the run left queued, and the next run does not pay for this
one's data (the worker's sweeper and the relays scan every tenant's messages, and FerretDB
v1 scans whole collections).

Documents are deleted, databases are not dropped while the stack runs: a drop under
concurrent reads crashed FerretDB here (SIGBUS in its SQLite layer). `clean` drops the
loadtest tenants altogether, once the stack is down."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping

import httpx

from ccx.admin.cli import list_tenants
from ccx.bench.stack import SetupError, ccx_cli, drop_tenant
from ccx.config import Settings
from ccx.ingest.idempotency import redis_key
from ccx.queue.names import Tier, tier_queue
from ccx.stack.demo import SENDER, TEMPLATES, WABA
from ccx.store.names import EVENTS, IDEMPOTENCY, MESSAGES, tenant_db
from loadtest.context import Tenant
from loadtest.scenarios import SCENARIOS

PREFIX = "lt-"
SCOPES = "messages:write messages:read templates:write admin"
#: What a run writes and deletes again: messages, their events, their idempotency keys.
RUN_DATA = (MESSAGES, EVENTS, IDEMPOTENCY)


def tenant_ids(scenario: str, count: int) -> list[str]:
    return [f"{PREFIX}{scenario}-{i}" for i in range(1, count + 1)]


def issue_token(tenant: str, ttl_s: int, env: Mapping[str, str]) -> str:
    """A token with every scope the scenarios use; the first signing key is made when the
    key store has none (as `ccx up` does)."""
    args = ["token", "issue", "--tenant", tenant, "--scope", SCOPES, "--ttl", str(ttl_s)]
    try:
        return ccx_cli(args, env)
    except SetupError as exc:
        if "no active signing key" not in str(exc):
            raise
    ccx_cli(["keys", "rotate"], env)
    return ccx_cli(args, env)


def sender_number(scenario: str, k: int) -> str:
    """The number of the scenario's k-th tenant: the demo's (15550001111) for the first
    tenant of the first scenario, then one per tenant and a hundred per scenario, so no two
    tenants share a number's rate limits (nor does a run inherit them from another run)."""
    return str(int(SENDER) + 100 * list(SCENARIOS).index(scenario) + k - 1)


def register(host: str, token: str, number: str) -> None:
    """`number` as the tenant's default sender and the demo's templates, via the API."""
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=host, headers=headers, timeout=10, trust_env=False) as api:
        sender = {"waba_id": WABA, "access_token": "sandbox", "is_default": True}
        answer = api.put(f"/v1/senders/{number}", json=sender)
        if answer.status_code not in (200, 201):
            raise SetupError(f"PUT /v1/senders/{number}: {answer.status_code} {answer.text}")
        for template in TEMPLATES:
            answer = api.post("/v1/templates", json=template)
            if answer.status_code not in (200, 201):
                name = template["name"]
                raise SetupError(f"template {name}: {answer.status_code} {answer.text}")


def prepare(
    host: str, scenario: str, count: int, ttl_s: int, env: Mapping[str, str]
) -> list[Tenant]:
    tenants = []
    for k, tenant in enumerate(tenant_ids(scenario, count), start=1):
        ccx_cli(["tenant", "create", tenant, "--name", "ccx loadtest"], env)
        token = issue_token(tenant, ttl_s, env)
        register(host, token, sender_number(scenario, k))
        tenants.append(Tenant(tenant, token))
    return tenants


def patient(settings: Settings) -> Settings:
    """`settings` with a MongoDB timeout for slow work: on FerretDB v1 a count is a full
    scan, and a drop of a big database takes seconds."""
    return dataclasses.replace(
        settings, mongo=dataclasses.replace(settings.mongo, timeout_ms=120_000)
    )


async def _count(settings: Settings, tenants: list[str]) -> dict[str, int]:
    from ccx.store.mongo import make_client

    client = make_client(patient(settings).mongo)
    try:
        return {t: await client[tenant_db(t)][MESSAGES].count_documents({}) for t in tenants}
    finally:
        await client.close()


def count_stored(settings: Settings, tenants: list[str]) -> dict[str, int]:
    """Messages each tenant's database holds."""
    return asyncio.run(_count(settings, tenants))


async def _delete(settings: Settings, tenants: list[str]) -> None:
    from ccx.store.mongo import make_client

    client = make_client(patient(settings).mongo)
    try:
        for tenant in tenants:
            for collection in RUN_DATA:
                await client[tenant_db(tenant)][collection].delete_many({})
    finally:
        await client.close()
    await _forget_keys(settings, tenants)


async def _forget_keys(settings: Settings, tenants: list[str]) -> None:
    """Delete the tenants' idempotency keys in Redis."""
    from ccx.cache.redis import make_client

    redis = make_client(settings.redis)
    try:
        for tenant in tenants:
            keys = [k async for k in redis.scan_iter(match=f"{redis_key(tenant, '')}*")]
            for start in range(0, len(keys), 1000):
                await redis.delete(*keys[start : start + 1000])
    finally:
        await redis.aclose()


def delete_run_data(settings: Settings, tenants: list[str]) -> None:
    """Delete the tenants' messages, events and idempotency keys (in MongoDB and Redis);
    senders, templates and the tenants themselves stay."""
    asyncio.run(_delete(settings, tenants))


async def _purge(settings: Settings, tenants: list[str]) -> int:
    from ccx.queue.connection import connect

    purged = 0
    connection = await connect(settings.rabbitmq, name="ccx-loadtest")
    try:
        channel = await connection.channel()
        for tenant in tenants:
            for tier in Tier:
                queue = await channel.declare_queue(tier_queue(tenant, tier), passive=True)
                result = await queue.purge()
                purged += result.message_count or 0
        await channel.close()
    finally:
        await connection.close()
    return purged


def purge_queues(settings: Settings, tenants: list[str]) -> int:
    """Empty the tenants' tier queues; the envelopes dropped (each holds up to 256 ids)."""
    return asyncio.run(_purge(settings, tenants))


async def _clean(settings: Settings) -> list[str]:
    registered = [str(t["tenant"]) for t in await list_tenants(settings)]
    ours = [t for t in registered if t.startswith(PREFIX)]
    for tenant in ours:
        await drop_tenant(patient(settings), tenant)
    await _forget_keys(settings, ours)
    return ours


def clean(settings: Settings) -> list[str]:
    """Drop every loadtest tenant (database, registry entry, queues, idempotency keys): the
    ones removed."""
    return asyncio.run(_clean(settings))
