"""`python -m loadtest run` against a real `ccx up`: a short `idempotent` run writes its
JSON results, without a failure, and its replays made no message twice. (The run deletes
its messages afterwards; its tenant, `lt-idempotent-1`, stays registered for the next run.)"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.serving import ROOT, free_port, run_module, services_or_skip

pytestmark = pytest.mark.e2e

FIRST = "/v1/messages (new key)"
REPLAY = "/v1/messages (same key, same body)"
CONFLICT = "/v1/messages (same key, other body)"


@contextlib.contextmanager
def stack(log: Path) -> Iterator[tuple[str, str]]:
    """`ccx up --no-demo` on free ports; the base URLs of its API and its sandbox."""
    port, sandbox = free_port(), free_port()
    with log.open("w") as output:
        up = subprocess.Popen(
            [
                sys.executable, "-m", "ccx.cli", "up", "--no-demo",
                "--port", str(port), "--sandbox-port", str(sandbox),
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    api = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{api}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or up.poll() is not None:
                pytest.fail(f"ccx up did not get ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield api, f"http://127.0.0.1:{sandbox}"
    finally:
        up.terminate()  # this `ccx up` only (`ccx down` would stop any)
        try:
            up.wait(30)
        except subprocess.TimeoutExpired:
            up.kill()


def test_idempotent_run_writes_clean_results(tmp_path: Path) -> None:
    services_or_skip()
    out = tmp_path / "loadtest-idempotent.json"
    with stack(tmp_path / "up.log") as (api, sandbox):
        stdout = run_module(
            "loadtest", "run", "idempotent", "--users", "2", "--spawn-rate", "2",
            "--duration", "5s", "--host", api, "--sandbox", sandbox, "--out", str(out),
            timeout_s=90,
        )  # fmt: skip
    assert "total (HTTP)" in stdout
    report = json.loads(out.read_text())

    assert report["benchmark"] == "loadtest"
    assert report["scenario"] == "idempotent"
    assert report["date"].startswith("20")
    assert {"cpus", "cpu_model", "memory_mb", "kernel", "load_average"} <= set(report["machine"])
    versions = report["versions"]
    assert versions["locust"]
    assert versions["ccx"]
    assert set(versions["services"]) == {"mongo", "redis", "rabbitmq"}
    settings = report["settings"]
    assert (settings["users"], settings["duration_s"], settings["tenants"]) == (2, 5.0, 1)
    assert settings["tenant_ids"] == ["lt-idempotent-1"]
    assert settings["host"] == api

    totals = report["totals"]
    assert totals["requests"] > 0
    assert totals["failures"] == 0
    assert report["failures"] == []
    assert totals["p99_ms"] is not None
    rows = {r["name"]: r for r in report["requests"]}
    assert set(rows) == {FIRST, REPLAY, CONFLICT}
    assert all({"rps", "p50_ms", "p90_ms", "p99_ms", "max_ms"} <= set(r) for r in rows.values())
    # every round finished (users stop between rounds): 2 replays and 1 conflict per new key
    assert rows[REPLAY]["requests"] == 2 * rows[FIRST]["requests"]
    assert rows[CONFLICT]["requests"] == rows[FIRST]["requests"]
    # replays and conflicts made no message: one stored per new key
    messages = report["messages"]
    assert messages["accepted"] == rows[FIRST]["requests"] > 0
    assert messages["stored"] == messages["accepted"]
    # the worker was idle and served the tenant before the load; it sent nothing twice
    assert report["before_load"]["worker_idle_s"] is not None
    assert report["before_load"]["probe_sent_s"] < 30
    assert report["sandbox"]["sends"] > 0
    assert report["sandbox"]["duplicates"] == 0
