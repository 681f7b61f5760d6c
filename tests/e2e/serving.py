"""`ccx serve` as a real process for the e2e tests, and the helpers around it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(
    log_dir: Path, env: Mapping[str, str] | None = None, ready_path: str = "/readyz"
) -> Iterator[str]:
    """Start `ccx serve` on a free port, wait until `ready_path` answers 200, yield its base
    URL, stop it afterwards (the test fails with the server's log if it never gets ready)."""
    port = free_port()
    log = log_dir / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ccx.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"ccx serve did not become ready:\n{log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(15)


def run_module(*args: str, timeout_s: float) -> str:
    """`python -m ARGS` from the checkout; its stdout, or the test fails with the tail of
    its output unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def services_or_skip() -> None:
    """Skip when a local service is down (fail under CI, where they must be up)."""
    from ccx.config import load_settings
    from ccx.health import check_dependencies

    health = asyncio.run(check_dependencies(load_settings()))
    down = [name for name, h in health.items() if not h.ok]
    if down:
        message = f"services down: {down}; start them with `make services`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def drop_tenant(tenant: str) -> None:
    """Remove a test tenant's database and registry entry."""
    from pymongo import MongoClient

    from ccx.config import load_settings
    from ccx.store.names import PLATFORM_TENANTS, tenant_db

    settings = load_settings()
    with MongoClient(settings.mongo.uri) as client:
        client.drop_database(tenant_db(tenant))
        client[settings.mongo.platform_db][PLATFORM_TENANTS].delete_one({"_id": tenant})
