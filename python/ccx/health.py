"""Health of the services ccx depends on: MongoDB, Redis and RabbitMQ, checked concurrently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from ccx.cache import redis as cache
from ccx.config import Settings
from ccx.queue import connection as queue
from ccx.store import mongo as store

DEPENDENCIES = ("mongo", "redis", "rabbitmq")

Check = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class DependencyHealth:
    """The outcome of one check: `version` when it answered, `detail` (the error) when not."""

    name: str
    ok: bool
    latency_ms: float
    address: str
    version: str | None = None
    detail: str = ""


def address_of(url: str) -> str:
    """`host:port` part of a service URL, without credentials (`a:1,b:2` for several hosts)."""
    rest = url.partition("://")[2] or url
    hosts = rest.split("/", 1)[0].split("?", 1)[0]
    return hosts.rpartition("@")[2]


def describe_error(exc: BaseException, timeout_s: float) -> str:
    """One short line for a failed check."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    text = next(iter(str(exc).strip().splitlines()), "")
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _measure(name: str, address: str, timeout_s: float, check: Check) -> DependencyHealth:
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            version = await check()
    except Exception as exc:  # a down service is a result, not an error
        elapsed = (time.perf_counter() - start) * 1000
        detail = describe_error(exc, timeout_s)
        return DependencyHealth(name, False, round(elapsed, 1), address, None, detail)
    elapsed = (time.perf_counter() - start) * 1000
    return DependencyHealth(name, True, round(elapsed, 1), address, version)


def _plan(settings: Settings) -> dict[str, tuple[str, float, Check]]:
    """For each dependency: its address, its timeout in seconds, and the check to run."""
    mongo, redis, rabbitmq = settings.mongo, settings.redis, settings.rabbitmq
    return {
        "mongo": (address_of(mongo.uri), mongo.timeout_ms / 1000, lambda: store.check(mongo)),
        "redis": (address_of(redis.url), redis.timeout_s, lambda: cache.check(redis)),
        "rabbitmq": (address_of(rabbitmq.url), rabbitmq.timeout_s, lambda: queue.check(rabbitmq)),
    }


async def check_dependencies(
    settings: Settings, names: Iterable[str] = DEPENDENCIES
) -> dict[str, DependencyHealth]:
    """Check the named dependencies concurrently, each bounded by its own settings timeout.

    Never raises for a service that is down, refuses, or hangs: that is reported in the result.
    """
    plan = _plan(settings)
    wanted = list(dict.fromkeys(names))
    unknown = set(wanted) - set(plan)
    if unknown:
        raise ValueError(f"unknown dependencies {sorted(unknown)}; known: {list(plan)}")
    results = await asyncio.gather(*(_measure(name, *plan[name]) for name in wanted))
    return {health.name: health for health in results}
