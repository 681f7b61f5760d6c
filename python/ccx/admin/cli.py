"""`ccx tenant create|list|block-countries`: a tenant's registry entry, database indexes,
queues and country rules."""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from ccx.config import Settings, load_settings
from ccx.queue.connection import connect
from ccx.queue.topology import declare_shared, declare_tenant
from ccx.store.mongo import make_client
from ccx.store.tenants import TenantRepository


async def create_tenant(settings: Settings, tenant_id: str, name: str | None) -> dict[str, object]:
    """Register the tenant, create its indexes and declare its queues (all idempotent)."""
    client = make_client(settings.mongo)
    try:
        tenant, created = await TenantRepository(client, settings.mongo.platform_db).create(
            tenant_id, name, settings.mongo.ferretdb_query_indexes
        )
    finally:
        await client.close()
    connection = await connect(settings.rabbitmq, name="ccx-admin")
    try:
        await declare_shared(connection)
        channel = await connection.channel()
        queues = await declare_tenant(channel, tenant_id)
    finally:
        await connection.close()
    return {"tenant": tenant.id, "name": tenant.name, "created": created, "queues": queues}


async def list_tenants(settings: Settings) -> list[dict[str, object]]:
    client = make_client(settings.mongo)
    try:
        tenants = await TenantRepository(client, settings.mongo.platform_db).list()
    finally:
        await client.close()
    return [
        {"tenant": t.id, "name": t.name, "created_at": t.created_at.isoformat()} for t in tenants
    ]


async def block_countries(
    settings: Settings, tenant_id: str, codes: list[str]
) -> dict[str, object]:
    """Set the calling codes a tenant never sends to (an empty list clears them)."""
    client = make_client(settings.mongo)
    try:
        tenant = await TenantRepository(client, settings.mongo.platform_db).block_countries(
            tenant_id, codes
        )
    finally:
        await client.close()
    if tenant is None:
        raise ValueError(f"no tenant {tenant_id}")
    return {"tenant": tenant.id, "blocked_countries": list(tenant.blocked_countries)}


def tenant_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ccx tenant", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a tenant (idempotent)")
    create.add_argument("tenant", help="tenant id: lowercase letters, digits, _ and -")
    create.add_argument("--name", help="display name")
    sub.add_parser("list", help="list tenants")
    rules = sub.add_parser(
        "block-countries", help="calling codes the tenant never sends to (replaces the list)"
    )
    rules.add_argument("tenant")
    rules.add_argument("codes", nargs="*", help='e.g. 98 53 ("" or none: clear)')
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    settings = load_settings()
    try:
        if args.action == "create":
            result: object = asyncio.run(create_tenant(settings, args.tenant, args.name))
        elif args.action == "block-countries":
            codes = [c for c in args.codes if c]
            result = asyncio.run(block_countries(settings, args.tenant, codes))
        else:
            result = asyncio.run(list_tenants(settings))
    except ValueError as exc:
        print(f"ccx tenant: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0
