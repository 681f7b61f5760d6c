"""check_dependencies against the real services, and against ports where nothing answers."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator

import pytest

from ccx.config import Settings
from ccx.health import check_dependencies

pytestmark = pytest.mark.integration


@pytest.fixture
def closed_port() -> int:
    """A loopback port that refuses connections (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections but never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.mark.usefixtures("mongo", "redis", "rabbit")
async def test_all_dependencies_healthy(settings: Settings) -> None:
    health = await check_dependencies(settings)

    assert list(health) == ["mongo", "redis", "rabbitmq"]
    for item in health.values():
        assert item.ok, item
        assert item.version
        assert item.latency_ms > 0
        assert item.detail == ""
    assert str(health["mongo"].version).startswith("7.0")
    assert str(health["rabbitmq"].version).startswith("RabbitMQ ")


@pytest.mark.usefixtures("mongo", "redis", "rabbit")
async def test_refused_port_is_reported_down_without_raising(
    settings: Settings, closed_port: int
) -> None:
    broken = dataclasses.replace(
        settings,
        redis=dataclasses.replace(settings.redis, url=f"redis://127.0.0.1:{closed_port}/0"),
    )
    start = time.monotonic()
    health = await check_dependencies(broken)
    elapsed = time.monotonic() - start

    assert not health["redis"].ok
    assert health["redis"].address == f"127.0.0.1:{closed_port}"
    assert "ConnectionError" in health["redis"].detail
    assert health["mongo"].ok
    assert health["rabbitmq"].ok
    assert elapsed < settings.redis.timeout_s + 1.0


def _silent(dependency: str, port: int, timeout_s: float) -> Settings:
    """Default settings, except that `dependency` points at `port` with a short timeout."""
    settings = Settings()
    if dependency == "mongo":
        mongo = dataclasses.replace(
            settings.mongo, uri=f"mongodb://127.0.0.1:{port}/", timeout_ms=int(timeout_s * 1000)
        )
        return dataclasses.replace(settings, mongo=mongo)
    if dependency == "redis":
        redis = dataclasses.replace(
            settings.redis, url=f"redis://127.0.0.1:{port}/0", timeout_s=timeout_s
        )
        return dataclasses.replace(settings, redis=redis)
    rabbitmq = dataclasses.replace(
        settings.rabbitmq, url=f"amqp://guest:guest@127.0.0.1:{port}/", timeout_s=timeout_s
    )
    return dataclasses.replace(settings, rabbitmq=rabbitmq)


@pytest.mark.parametrize("dependency", ["mongo", "redis", "rabbitmq"])
async def test_silent_server_times_out_within_the_setting(
    silent_port: int, dependency: str
) -> None:
    start = time.monotonic()
    health = await check_dependencies(_silent(dependency, silent_port, 0.5), [dependency])
    elapsed = time.monotonic() - start

    assert not health[dependency].ok
    assert health[dependency].detail
    assert elapsed < 0.5 + 0.5
