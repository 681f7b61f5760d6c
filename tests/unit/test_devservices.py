"""ccx.devservices without services: finding the script, port overrides, rendering."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ccx.config import Settings
from ccx.devservices import (
    find_script,
    main,
    render_json,
    render_table,
    settings_for_ports,
    with_port,
)
from ccx.health import DependencyHealth


def test_find_script_walks_up(tmp_path: Path) -> None:
    script = tmp_path / "scripts" / "services.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    deep = tmp_path / "python" / "ccx"
    deep.mkdir(parents=True)

    assert find_script([deep]) == script
    assert find_script([tmp_path / "python", deep]) == script


def test_find_script_outside_a_checkout(tmp_path: Path) -> None:
    assert find_script([tmp_path]) is None


@pytest.mark.parametrize(
    ("url", "port", "expected"),
    [
        ("redis://127.0.0.1:6379/0", 6380, "redis://127.0.0.1:6380/0"),
        ("amqp://guest:guest@127.0.0.1:5672/", 5673, "amqp://guest:guest@127.0.0.1:5673/"),
        ("mongodb://127.0.0.1/?appname=x", 27018, "mongodb://127.0.0.1:27018/?appname=x"),
    ],
)
def test_with_port(url: str, port: int, expected: str) -> None:
    assert with_port(url, port) == expected


def test_settings_follow_the_script_ports_unless_the_url_is_set() -> None:
    env = {"CCX_REDIS_PORT": "6380", "CCX_MONGO_PORT": "27018", "CCX_RABBIT_PORT": "5673"}
    moved = settings_for_ports(Settings(), env)
    assert moved.redis.url == "redis://127.0.0.1:6380/0"
    assert moved.mongo.uri == "mongodb://127.0.0.1:27018/"
    assert moved.rabbitmq.url == "amqp://guest:guest@127.0.0.1:5673/"

    explicit = settings_for_ports(Settings(), {**env, "CCX_REDIS_URL": "redis://x:1/0"})
    assert explicit.redis.url == Settings().redis.url  # load_settings already applied the URL
    assert settings_for_ports(Settings(), {}) == Settings()


HEALTH = {
    "redis": DependencyHealth("redis", True, 1.25, "127.0.0.1:6379", "7.0.15"),
    "mongo": DependencyHealth("mongo", False, 2000.0, "127.0.0.1:27017", None, "no answer"),
}


def test_render_table() -> None:
    lines = render_table(HEALTH).splitlines()
    assert lines[0].split() == ["service", "state", "latency", "address", "version", "/", "detail"]
    assert lines[1].split() == ["redis", "up", "1.2", "ms", "127.0.0.1:6379", "7.0.15"]
    assert lines[2].split() == ["mongo", "down", "2000.0", "ms", "127.0.0.1:27017", "no", "answer"]


def test_render_json() -> None:
    data = orjson.loads(render_json(HEALTH))
    assert data["redis"] == {
        "name": "redis",
        "ok": True,
        "latency_ms": 1.25,
        "address": "127.0.0.1:6379",
        "version": "7.0.15",
        "detail": "",
    }
    assert data["mongo"]["ok"] is False


def test_unknown_service_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["status", "postgres"])
    assert exit_info.value.code == 2
    assert "unknown service(s) postgres" in capsys.readouterr().err
