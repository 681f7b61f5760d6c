"""The MongoDB client: one AsyncMongoClient per process and event loop, made from settings."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from ccx.config import MongoSettings

Document = dict[str, Any]


def make_client(settings: MongoSettings) -> AsyncMongoClient[Document]:
    """A client for `settings.uri`. It connects lazily; every timeout is `settings.timeout_ms`."""
    return AsyncMongoClient(
        settings.uri,
        serverSelectionTimeoutMS=settings.timeout_ms,
        connectTimeoutMS=settings.timeout_ms,
        socketTimeoutMS=settings.timeout_ms,
        maxPoolSize=settings.pool_size,
        appname="ccx",
    )


async def ping(client: AsyncMongoClient[Document]) -> str:
    """One round trip (`buildInfo`); returns the server version, and FerretDB's own if present."""
    info = await client.admin.command("buildInfo")
    version = str(info.get("version", "unknown"))
    ferretdb = info.get("ferretdbVersion")
    return f"{version} (FerretDB {ferretdb})" if ferretdb else version


async def check(settings: MongoSettings) -> str:
    """Connect, ping and close: the server version, or the error raised on the way."""
    client = make_client(settings)
    try:
        return await ping(client)
    finally:
        await client.close()
