"""Throughput (130429) and pair rate (131056) limits through the real server."""

from __future__ import annotations

import time

import httpx
import pytest
from sandbox_it import send, text

pytestmark = pytest.mark.e2e


def test_throughput_tier_20_rejects_the_excess(client: httpx.Client, admin: httpx.Client) -> None:
    admin.put("/limits", json={"throughput": 20, "pair_enabled": False}).raise_for_status()
    start = time.monotonic()
    replies = [send(client, text(to=f"+1650555{i:04d}")) for i in range(40)]
    elapsed = time.monotonic() - start
    ok = [r for r in replies if r.status_code == 200]
    limited = [r for r in replies if r.status_code != 200]
    assert len(ok) <= 20 + elapsed * 20 + 1
    assert len(ok) >= 20
    assert len(limited) >= 10
    for reply in limited:
        assert reply.status_code == 400
        err = reply.json()["error"]
        assert err["code"] == 130429
        assert err["message"] == "(#130429) Rate limit hit"
    ledger = admin.get("/ledger", params={"entries": "0"}).json()
    assert ledger["count"] == len(ok)
    assert ledger["requests"]["responses"]["130429"] == len(limited)
    # one second later the bucket is full again
    time.sleep(1.0)
    assert send(client, text(to="+16505559999")).status_code == 200


def test_throughput_is_per_number(client: httpx.Client, admin: httpx.Client) -> None:
    admin.put(
        "/limits", json={"throughput_by_number": {"222000": 20}, "pair_enabled": False}
    ).raise_for_status()
    start = time.monotonic()
    slow = [send(client, text(to=f"+1650555{i:04d}"), pnid="222000") for i in range(40)]
    allowed = 20 + (time.monotonic() - start) * 20 + 1
    assert sum(r.status_code == 200 for r in slow) <= allowed
    assert sum(r.status_code == 400 for r in slow) >= 40 - allowed
    fast = [send(client, text(to=f"+1650555{i:04d}")) for i in range(40)]
    assert all(r.status_code == 200 for r in fast)


def test_pair_limit_burst_45_then_131056(client: httpx.Client) -> None:
    replies = [send(client, text(to="+14085551234", body=f"m{i}")) for i in range(46)]
    assert [r.status_code for r in replies[:45]] == [200] * 45
    assert replies[45].status_code == 400
    err = replies[45].json()["error"]
    assert err["code"] == 131056
    assert "same phone number" in err["error_data"]["details"]
    # other recipients are not affected
    assert send(client, text(to="+14085550000")).status_code == 200


def test_pair_limit_refills_one_per_interval(client: httpx.Client, admin: httpx.Client) -> None:
    # The interval is long enough that a slow CI machine still sends the second
    # message before the refill (0.3 s was not).
    admin.put("/limits", json={"pair_burst": 1, "pair_interval_s": 1.5}).raise_for_status()
    assert send(client, text()).status_code == 200
    assert send(client, text()).json()["error"]["code"] == 131056
    time.sleep(1.6)
    assert send(client, text()).status_code == 200


def test_limits_can_be_disabled(client: httpx.Client, admin: httpx.Client) -> None:
    admin.put(
        "/limits", json={"throughput_enabled": False, "pair_enabled": False}
    ).raise_for_status()
    assert all(send(client, text()).status_code == 200 for _ in range(100))


def test_bad_limit_settings(admin: httpx.Client) -> None:
    reply = admin.put("/limits", json={"throughput": 0})
    assert reply.status_code == 400
    assert "throughput" in reply.json()["error"]
