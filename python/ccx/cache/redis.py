"""The Redis client, made from settings."""

from __future__ import annotations

from redis.asyncio import Redis

from ccx.config import RedisSettings


def make_client(settings: RedisSettings) -> Redis:
    """A pooled client for `settings.url`; connect and socket timeouts are `settings.timeout_s`."""
    return Redis.from_url(
        settings.url,
        socket_timeout=settings.timeout_s,
        socket_connect_timeout=settings.timeout_s,
    )


async def ping(client: Redis) -> str:
    """One round trip (`INFO server`); returns the server version."""
    info = await client.info("server")
    return str(info["redis_version"])


async def check(settings: RedisSettings) -> str:
    """Connect, ping and close: the server version, or the error raised on the way."""
    client = make_client(settings)
    try:
        return await ping(client)
    finally:
        await client.aclose()
