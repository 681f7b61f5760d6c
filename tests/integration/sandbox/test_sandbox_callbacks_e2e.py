"""Status callback faults and delivery: duplicates, reordering, skips, drops, failures, retries."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sandbox_it import (
    delivered_statuses,
    quiet,
    send,
    template,
    text,
    verify_signature,
    wait_statuses,
    wamid_of,
)

from ccx.sandbox.receiver import CallbackReceiver

pytestmark = pytest.mark.e2e


def callbacks_fault(admin: httpx.Client, **faults: object) -> None:
    admin.put("/faults/default", json={"callbacks": faults}).raise_for_status()


def test_duplicate(client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver) -> None:
    callbacks_fault(admin, duplicate=1.0)
    wamid = wamid_of(send(client, text()))
    found = wait_statuses(receiver, wamid, 6)
    assert sorted(s["status"] for s in found) == sorted(["sent", "delivered", "read"] * 2)


def test_reorder(client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver) -> None:
    callbacks_fault(admin, reorder=1.0)
    wamid = wamid_of(send(client, text()))
    found = wait_statuses(receiver, wamid, 3)
    assert [s["status"] for s in found] == ["read", "delivered", "sent"]


def test_skip_delivered(
    client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver
) -> None:
    callbacks_fault(admin, skip_delivered=1.0)
    wamid = wamid_of(send(client, text()))
    wait_statuses(receiver, wamid, 2)
    quiet(0.3)
    assert [s["status"] for s in delivered_statuses(receiver.records, wamid)] == ["sent", "read"]


def test_drop(client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver) -> None:
    callbacks_fault(admin, drop=1.0)
    wamid = wamid_of(send(client, text()))
    quiet(0.4)
    assert delivered_statuses(receiver.records, wamid) == []
    summary = admin.get("/ledger").json()
    assert summary["count"] == 1
    assert summary["requests"]["injected"]["callback_drop"] == 1


@pytest.mark.parametrize("code", [131026, 131047, 131049])
def test_async_failed_with_code(
    client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver, code: int
) -> None:
    callbacks_fault(admin, fail=1.0, fail_codes={str(code): 1})
    wamid = wamid_of(send(client, template()))
    sent, failed = wait_statuses(receiver, wamid, 2)
    quiet(0.2)
    assert len(delivered_statuses(receiver.records, wamid)) == 2
    assert sent["status"] == "sent"
    assert failed["status"] == "failed"
    assert failed["biz_opaque_callback_data"] == "tenant42:msg:9f1c"
    assert "conversation" not in failed
    assert "pricing" not in failed
    [error] = failed["errors"]
    assert error["code"] == code
    assert error["title"] == error["message"]
    assert error["error_data"]["details"]
    assert error["href"].startswith("https://developers.facebook.com/")


def test_retry_until_200_with_identical_signed_bytes(
    client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver
) -> None:
    admin.put(
        "/callbacks", json={"delivered_delay_s": 5, "read_delay_s": 5, "retry_base_s": 0.05}
    ).raise_for_status()
    receiver.fail_next(2, 500)
    wamid = wamid_of(send(client, text()))
    wait_statuses(receiver, wamid, 1)
    attempts = [r for r in receiver.records if wamid.encode() in r.body]
    assert [r.answered for r in attempts] == [500, 500, 200]
    assert len({r.body for r in attempts}) == 1
    assert all(verify_signature(r) for r in attempts)
    assert attempts[2].at - attempts[1].at >= 0.09  # second retry waits twice the first
    # the receiver records the 200 before the sandbox has read it and counted the post
    deadline = time.monotonic() + 5
    stats = admin.get("/callbacks").json()["stats"]
    while stats["posted"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = admin.get("/callbacks").json()["stats"]
    assert stats["failures"] == 2
    assert stats["posted"] == 1


def test_gives_up_after_max_attempts(
    client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver
) -> None:
    admin.put(
        "/callbacks",
        json={"max_attempts": 2, "delivered_delay_s": 5, "read_delay_s": 5, "retry_base_s": 0.02},
    ).raise_for_status()
    receiver.fail_next(5, 503)
    wamid = wamid_of(send(client, text()))
    assert receiver.wait_for(lambda rs: sum(wamid.encode() in r.body for r in rs) >= 2)
    quiet(0.2)
    assert sum(wamid.encode() in r.body for r in receiver.records) == 2
    assert admin.get("/callbacks").json()["stats"]["given_up"] == 1


def test_statuses_due_together_share_one_post(
    client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver
) -> None:
    admin.put(
        "/callbacks",
        json={"sent_delay_s": 0.3, "delivered_delay_s": 5, "batch_window_s": 0.2},
    ).raise_for_status()
    wamids = [wamid_of(send(client, text(to=f"+1650555000{i}"))) for i in range(5)]
    for wamid in wamids:
        wait_statuses(receiver, wamid, 1)
    first = next(r for r in receiver.records if wamids[0].encode() in r.body)
    statuses = json.loads(first.body)["entry"][0]["changes"][0]["value"]["statuses"]
    assert len(statuses) == 5
    assert [s["id"] for s in statuses] == wamids


def test_callback_url_can_be_changed_at_runtime(
    client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver
) -> None:
    admin.put("/callbacks", json={"url": ""}).raise_for_status()
    wamid = wamid_of(send(client, text()))
    quiet(0.3)
    assert delivered_statuses(receiver.records, wamid) == []
    assert admin.get("/callbacks").json()["stats"]["skipped_no_url"] == 3
    admin.put("/callbacks", json={"url": receiver.url}).raise_for_status()
