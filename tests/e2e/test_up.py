"""`ccx up` from the README: services, sandbox, `ccx serve` and `ccx worker` supervised, and
the demo's messages followed to `read` with every client webhook verified."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.serving import ROOT, free_port, run_module, services_or_skip

pytestmark = pytest.mark.e2e


def test_up_runs_the_pipeline_and_its_demo_end_to_end() -> None:
    services_or_skip()
    ports = [str(free_port()) for _ in range(3)]
    out = run_module(
        "ccx.cli", "up", "--exit-after-demo", "--per-priority", "1",
        "--port", ports[0], "--sandbox-port", ports[1], "--receiver-port", ports[2],
        timeout_s=240,
    )  # fmt: skip
    assert "demo: 4/4 read; 12 signed webhooks verified, 0 refused" in out
    for priority in ("critical", "high", "default", "low"):
        line = next(x for x in out.splitlines() if x.strip().startswith(priority))
        assert "→ sent +" in line
        assert "→ read +" in line
    assert out.count("receiver: verified message.read") == 4
    assert "ccx up: stopping" in out


def test_down_stops_a_running_up_and_its_children(tmp_path: Path) -> None:
    services_or_skip()
    port = free_port()
    output = (tmp_path / "up.log").open("w")
    up = subprocess.Popen(
        [
            sys.executable, "-m", "ccx.cli", "up", "--no-demo",
            "--port", str(port), "--sandbox-port", str(free_port()),
        ],
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("ccx up did not get ready")
        down = subprocess.run(
            [sys.executable, "-m", "ccx.cli", "down"], cwd=ROOT, timeout=60, check=False
        )
        assert down.returncode == 0
        assert up.wait(30) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
        assert "ccx up: stopping" in (tmp_path / "up.log").read_text()
    finally:
        if up.poll() is None:
            up.kill()
        output.close()
