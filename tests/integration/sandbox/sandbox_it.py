"""Helpers of the sandbox end-to-end tests: process start, payloads, callback checks."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.meta_examples import TEMPLATE_EXAMPLE, TEXT_EXAMPLE

from ccx.sandbox.receiver import CallbackReceiver, Received

ROOT = Path(__file__).resolve().parents[3]
APP_SECRET = "it-secret-ünï"
PNID = "106540352242922"
WABA_ID = "102290129340398"
HANG_S = 1.5
CALLBACKS = {
    "sent_delay_s": 0.05,
    "delivered_delay_s": 0.05,
    "read_delay_s": 0.05,
    "retry_base_s": 0.05,
    "max_attempts": 5,
    "batch_window_s": 0.005,
}
LIMITS = {
    "throughput": 80,
    "throughput_by_number": {},
    "throughput_enabled": True,
    "pair_enabled": True,
    "pair_interval_s": 6.0,
    "pair_burst": 45,
}


@dataclass
class SandboxProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_sandbox(workdir: Path, *args: str) -> SandboxProcess:
    """Start `python -m ccx.sandbox --port 0 ...` and wait for /_admin/health."""
    ready = workdir / f"ready-{time.monotonic_ns()}.json"
    log = ready.with_suffix(".log")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ccx.sandbox", "--port", "0", "--ready-file", str(ready), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited {proc.returncode}:\n{log.read_text()}")
        if ready.exists() and ready.stat().st_size:
            sb = SandboxProcess(proc, json.loads(ready.read_text())["port"], log)
            try:
                if httpx.get(sb.url + "/_admin/health", timeout=1, trust_env=False).is_success:
                    return sb
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"sandbox did not start:\n{log.read_text()}")


# -- payloads (Meta reference §1.2 and §1.3) ----------------------------------------------

TEXT = TEXT_EXAMPLE
TEMPLATE = TEMPLATE_EXAMPLE


def text(
    to: str = "+16505555555", body: str = "Hello", opaque: str | None = None
) -> dict[str, Any]:
    payload = copy.deepcopy(TEXT)
    payload["to"] = to
    payload["text"]["body"] = body
    if opaque is None:
        del payload["biz_opaque_callback_data"]
    else:
        payload["biz_opaque_callback_data"] = opaque
    return payload


def template() -> dict[str, Any]:
    return copy.deepcopy(TEMPLATE)


def send(
    client: httpx.Client,
    payload: Any,
    pnid: str = PNID,
    token: str | None = "sandbox",
    **kw: Any,
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/v23.0/{pnid}/messages", json=payload, headers=headers, **kw)


def wamid_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    wamid: str = response.json()["messages"][0]["id"]
    return wamid


# -- callbacks as the receiver saw them --------------------------------------------------


def verify_signature(record: Received) -> bool:
    """Independent check: HMAC-SHA256 of the raw body with the app secret, constant-time."""
    header = record.headers.get("x-hub-signature-256", "")
    expected = hmac.new(APP_SECRET.encode(), record.body, hashlib.sha256).hexdigest()
    return header.startswith("sha256=") and hmac.compare_digest(header[7:], expected)


def statuses(records: list[Received], wamid: str | None = None) -> list[dict[str, Any]]:
    """Every status object in arrival order (one per successful or failed POST)."""
    out = []
    for record in records:
        for entry in json.loads(record.body)["entry"]:
            for change in entry["changes"]:
                for st in change["value"].get("statuses", []):
                    if wamid is None or st["id"] == wamid:
                        out.append(st)
    return out


def delivered_statuses(records: list[Received], wamid: str) -> list[dict[str, Any]]:
    """Statuses of `wamid` in POSTs the receiver answered 200."""
    return statuses([r for r in records if r.answered == 200], wamid)


def wait_statuses(
    receiver: CallbackReceiver,
    wamid: str,
    count: int,
    timeout: float = 5.0,
) -> list[dict[str, Any]]:
    ok = receiver.wait_for(lambda rs: len(delivered_statuses(rs, wamid)) >= count, timeout)
    found = delivered_statuses(list(receiver.records), wamid)
    assert ok, f"expected {count} statuses for {wamid}, got {found}"
    return found


def quiet(seconds: float) -> None:
    """Wait for callbacks that should NOT come."""
    time.sleep(seconds)
