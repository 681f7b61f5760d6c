"""Injected faults: latency, error codes, timeouts, resets, empty 5xx, accept-then-no-answer."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from sandbox_it import HANG_S, PNID, send, text, wait_statuses

from ccx.sandbox.receiver import CallbackReceiver

pytestmark = pytest.mark.e2e


def set_default(admin: httpx.Client, spec: dict[str, object]) -> None:
    admin.put("/faults/default", json=spec).raise_for_status()


def ledger(admin: httpx.Client) -> dict[str, Any]:
    result: dict[str, Any] = admin.get("/ledger").json()
    return result


def test_fixed_latency_delays_only_that_number(client: httpx.Client, admin: httpx.Client) -> None:
    admin.put(
        "/faults/numbers/555000", json={"latency": {"distribution": "fixed", "ms": 400}}
    ).raise_for_status()
    slow: dict[str, float] = {}

    def slow_send() -> None:
        with httpx.Client(base_url=str(client.base_url), trust_env=False, timeout=5) as c:
            start = time.monotonic()
            assert send(c, text(), pnid="555000").status_code == 200
            slow["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=slow_send)
    thread.start()
    time.sleep(0.05)
    start = time.monotonic()
    assert send(client, text(to="+14085550001")).status_code == 200
    fast = time.monotonic() - start
    thread.join()
    assert slow["elapsed"] >= 0.4
    assert fast < 0.3  # the held request does not block others
    admin.delete("/faults/numbers/555000").raise_for_status()
    assert admin.get("/faults").json()["numbers"] == {}


def test_uniform_latency_range(client: httpx.Client, admin: httpx.Client) -> None:
    set_default(admin, {"latency": "uniform:100:200"})
    for _ in range(3):
        start = time.monotonic()
        assert send(client, text()).status_code == 200
        assert 0.1 <= time.monotonic() - start < 0.5


@pytest.mark.parametrize(("code", "status"), [(131000, 500), (130429, 400), (133004, 503)])
def test_error_rate_by_code_at_100_percent(
    client: httpx.Client, admin: httpx.Client, code: int, status: int
) -> None:
    set_default(admin, {"error_rates": {str(code): 1.0}})
    reply = send(client, text())
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code
    assert ledger(admin)["count"] == 0


def test_error_rate_by_code_partial(client: httpx.Client, admin: httpx.Client) -> None:
    admin.put("/limits", json={"pair_enabled": False, "throughput": 1000}).raise_for_status()
    set_default(admin, {"error_rates": {"131016": 0.3}})
    replies = [send(client, text()) for _ in range(100)]
    failed = sum(r.status_code == 500 for r in replies)
    assert 15 <= failed <= 45
    assert ledger(admin)["count"] == 100 - failed


def test_timeout_no_answer_and_not_recorded(client: httpx.Client, admin: httpx.Client) -> None:
    set_default(admin, {"timeout": 1.0})
    with pytest.raises(httpx.ReadTimeout):
        send(client, text(), timeout=0.3)
    start = time.monotonic()
    assert admin.get("/health").status_code == 200  # not blocked by the held request
    assert time.monotonic() - start < 0.2
    summary = ledger(admin)
    assert summary["count"] == 0
    assert summary["requests"]["injected"]["timeout"] == 1


def test_timeout_ends_in_a_reset_not_an_answer(client: httpx.Client, admin: httpx.Client) -> None:
    set_default(admin, {"timeout": 1.0})
    start = time.monotonic()
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        send(client, text(), timeout=HANG_S + 3)
    assert time.monotonic() - start >= HANG_S


def test_connection_reset(client: httpx.Client, admin: httpx.Client) -> None:
    set_default(admin, {"reset": 1.0})
    with pytest.raises(httpx.ReadError) as info:
        send(client, text())
    assert "Connection reset by peer" in str(info.value)
    assert ledger(admin)["count"] == 0
    admin.put("/faults", json={}).raise_for_status()
    assert send(client, text()).status_code == 200


def test_5xx_without_body(client: httpx.Client, admin: httpx.Client) -> None:
    set_default(admin, {"empty_5xx": 1.0, "empty_5xx_status": 502})
    reply = send(client, text())
    assert reply.status_code == 502
    assert reply.content == b""
    assert "content-type" not in reply.headers
    assert ledger(admin)["count"] == 0


def test_accept_then_never_answer(
    client: httpx.Client, admin: httpx.Client, receiver: CallbackReceiver
) -> None:
    set_default(admin, {"accept_no_answer": 1.0})
    with pytest.raises(httpx.ReadTimeout):
        send(client, text(opaque="msg-77.1"), timeout=0.5)
    summary = ledger(admin)
    assert summary["count"] == 1
    assert summary["unanswered"] == 1
    [entry] = summary["entries"]
    assert entry["biz_opaque_callback_data"] == "msg-77.1"
    assert entry["answered"] is False
    found = wait_statuses(receiver, entry["wamid"], 3)
    assert [s["status"] for s in found] == ["sent", "delivered", "read"]
    assert {s["biz_opaque_callback_data"] for s in found} == {"msg-77.1"}


def test_accept_then_connection_dropped(client: httpx.Client, admin: httpx.Client) -> None:
    admin.put(
        "/faults", json={"default": {"accept_no_answer": 1.0}, "hang_s": 0}
    ).raise_for_status()
    with pytest.raises(httpx.ReadError):
        send(client, text())
    assert ledger(admin)["count"] == 1


def test_per_number_faults_replace_the_default(client: httpx.Client, admin: httpx.Client) -> None:
    admin.put(
        "/faults",
        json={"default": {"error_rates": {"131000": 1.0}}, "numbers": {PNID: {}}},
    ).raise_for_status()
    assert send(client, text()).status_code == 200
    assert send(client, text(), pnid="999000").status_code == 500
    config = admin.get("/faults").json()
    assert config["default"]["error_rates"] == {"131000": 1.0}
    assert config["numbers"][PNID]["error_rates"] == {}


@pytest.mark.parametrize(
    "body",
    [{"default": {"reset": 2}}, {"default": {"error_rates": {"424242": 1}}}, {"x": 1}, [1]],
)
def test_bad_fault_config_is_400(admin: httpx.Client, body: object) -> None:
    reply = admin.put("/faults", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"]
