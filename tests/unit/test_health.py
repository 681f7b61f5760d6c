"""ccx.health without services: addresses, error lines, and the never-raise contract."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ccx.cache import redis as cache
from ccx.config import RedisSettings, Settings
from ccx.health import address_of, check_dependencies, describe_error
from ccx.queue import connection as queue
from ccx.store import mongo as store


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("mongodb://127.0.0.1:27017/", "127.0.0.1:27017"),
        ("mongodb://user:secret@db1:27017,db2:27018/ccx?replicaSet=rs0", "db1:27017,db2:27018"),
        ("redis://:pw@127.0.0.1:6379/0", "127.0.0.1:6379"),
        ("amqp://guest:guest@127.0.0.1:5672/", "127.0.0.1:5672"),
        ("amqp://localhost", "localhost"),
        ("127.0.0.1:6379", "127.0.0.1:6379"),
    ],
)
def test_address_of_drops_credentials_and_path(url: str, address: str) -> None:
    assert address_of(url) == address


def test_describe_error() -> None:
    assert describe_error(TimeoutError(), 0.5) == "no answer within 0.5 s"
    assert describe_error(ConnectionRefusedError(111, "refused"), 1) == (
        "ConnectionRefusedError: [Errno 111] refused"
    )
    assert describe_error(RuntimeError("first\nsecond"), 1) == "RuntimeError: first"
    assert describe_error(ValueError(), 1) == "ValueError"
    assert len(describe_error(RuntimeError("x" * 500), 1)) < 200


async def test_failures_and_hangs_are_results_not_exceptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def boom(_: object) -> str:
        raise RuntimeError("boom")

    async def hang(_: object) -> str:
        await asyncio.Event().wait()
        return "never"

    async def fine(_: object) -> str:
        return "RabbitMQ 9.9"

    monkeypatch.setattr(store, "check", boom)
    monkeypatch.setattr(cache, "check", hang)
    monkeypatch.setattr(queue, "check", fine)
    settings = dataclasses.replace(Settings(), redis=RedisSettings(timeout_s=0.1))

    result = await check_dependencies(settings)

    assert list(result) == ["mongo", "redis", "rabbitmq"]
    assert (result["mongo"].ok, result["mongo"].detail) == (False, "RuntimeError: boom")
    assert (result["redis"].ok, result["redis"].detail) == (False, "no answer within 0.1 s")
    assert 100 <= result["redis"].latency_ms < 1000
    assert (result["rabbitmq"].ok, result["rabbitmq"].version) == (True, "RabbitMQ 9.9")
    assert result["rabbitmq"].address == "127.0.0.1:5672"


async def test_only_the_named_dependencies_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fine(_: object) -> str:
        return "7.0.15"

    monkeypatch.setattr(cache, "check", fine)
    assert list(await check_dependencies(Settings(), ["redis", "redis"])) == ["redis"]
    with pytest.raises(ValueError, match="unknown dependencies"):
        await check_dependencies(Settings(), ["postgres"])
