"""The README quickstart, command by command: tenant, signing key, token, `ccx serve`, sender,
template, a message posted and read back (real services, real processes)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.e2e.serving import drop_tenant, run_module, serve, services_or_skip

pytestmark = pytest.mark.e2e
TENANT = f"quick-{os.getpid()}"


def ccx(*args: str) -> str:
    return run_module("ccx.cli", *args, timeout_s=60).strip()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    services_or_skip()
    ccx("tenant", "create", TENANT)
    ccx("keys", "rotate")
    token = ccx(
        "token",
        "issue",
        "--tenant",
        TENANT,
        "--scope",
        "messages:write messages:read templates:write admin",
    )
    try:
        with serve(tmp_path_factory.mktemp("quickstart")) as base:
            yield base, token
    finally:
        drop_tenant(TENANT)


def test_quickstart(api: tuple[str, str]) -> None:
    base, token = api
    auth = {"authorization": f"Bearer {token}"}
    sender = {"waba_id": "100000000000001", "access_token": "sandbox", "is_default": True}
    assert httpx.put(f"{base}/v1/senders/15550001111", json=sender, headers=auth).status_code == 201
    template = {
        "name": "otp_code",
        "language": "en_US",
        "category": "AUTHENTICATION",
        "components": [
            {"type": "BODY", "text": "{{1}} is your verification code."},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}],
            },
        ],
    }
    assert httpx.post(f"{base}/v1/templates", json=template, headers=auth).status_code == 201
    message = {
        "to": "+5511999998888",
        "type": "template",
        "template": {
            "name": "otp_code",
            "language": "en_US",
            "variables": {"body": ["123456"], "buttons": ["123456"]},
        },
    }
    headers = {**auth, "idempotency-key": "order-42-otp"}
    posted = httpx.post(f"{base}/v1/messages", json=message, headers=headers)
    assert posted.status_code == 202, posted.text
    message_id = posted.json()["id"]
    assert posted.headers["location"] == f"/v1/messages/{message_id}"
    again = httpx.post(f"{base}/v1/messages", json=message, headers=headers)
    assert again.json()["id"] == message_id
    assert again.headers["idempotent-replayed"] == "true"
    deadline = time.monotonic() + 10
    while True:
        read = httpx.get(f"{base}/v1/messages/{message_id}", headers=auth).json()
        if read["status"] == "queued" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert read["status"] == "queued"
    assert read["priority"] == "critical"
    assert [e["to"] for e in read["events"]] == ["accepted", "queued"]
    listed = httpx.get(f"{base}/v1/messages", params={"status": "queued"}, headers=auth).json()
    assert [m["id"] for m in listed["data"]] == [message_id]
    metrics = httpx.get(f"{base}/metrics").text
    assert "ccx_ingest_accepted_total" in metrics
