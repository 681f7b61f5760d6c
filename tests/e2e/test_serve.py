"""`ccx serve` as a real granian process."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CCX_API_MAX_BODY_BYTES": "1024"}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ccx.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=0.5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        proc.wait(10)
        pytest.fail(f"ccx serve did not start:\n{log.read_text()}")
    yield base
    proc.terminate()
    proc.wait(10)


def test_health_metrics_docs(server: str) -> None:
    r = httpx.get(server + "/healthz")
    assert r.status_code == 200
    assert r.headers["x-request-id"]
    assert r.headers["traceparent"].startswith("00-")
    assert "ccx_http_request_seconds" in httpx.get(server + "/metrics").text
    assert httpx.get(server + "/openapi.json").json()["openapi"] == "3.1.0"
    assert "text/html" in httpx.get(server + "/docs").headers["content-type"]


def test_problem_json_over_the_wire(server: str) -> None:
    r = httpx.get(server + "/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404
