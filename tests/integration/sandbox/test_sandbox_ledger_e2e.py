"""Ledger counts and duplicates, determinism with a seed, admin API, CLI flags."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sandbox_it import send, start_sandbox, template, text, wamid_of

pytestmark = pytest.mark.e2e


def test_exact_counts_and_duplicates(client: httpx.Client, admin: httpx.Client) -> None:
    accepted = [
        wamid_of(send(client, text(to="+14085550001", body="a", opaque="msg-1.1"))),
        wamid_of(send(client, text(to="+14085550001", body="b", opaque="msg-1.1"))),  # resend
        wamid_of(send(client, text(to="+14085550002", body="same", opaque="msg-2.1"))),
        wamid_of(send(client, text(to="+14085550002", body="same", opaque="msg-3.1"))),
        wamid_of(send(client, template())),
    ]
    assert send(client, text(), token="nope").status_code == 401
    bad = template()
    bad["template"]["name"] = "nope"
    assert send(client, bad).status_code == 404

    summary = admin.get("/ledger").json()
    assert summary["count"] == 5
    assert summary["by_type"] == {"text": 4, "template": 1}
    assert [e["wamid"] for e in summary["entries"]] == accepted
    assert summary["requests"]["responses"] == {"200": 5, "190": 1, "132001": 1}
    assert summary["duplicate_count"] == {"biz_opaque_callback_data": 1, "to_body": 1}
    [by_opaque] = summary["duplicates"]["biz_opaque_callback_data"]
    assert by_opaque == {
        "biz_opaque_callback_data": "msg-1.1",
        "count": 2,
        "wamids": accepted[:2],
    }
    [by_body] = summary["duplicates"]["to_body"]
    assert (by_body["to"], by_body["body"], by_body["wamids"]) == (
        "14085550002",
        "same",
        accepted[2:4],
    )


def test_ledger_filters(client: httpx.Client, admin: httpx.Client) -> None:
    for i in range(3):
        send(client, text(to=f"+1408555000{i}", opaque=f"m{i}")).raise_for_status()
    send(client, text(to="+14085550000", opaque="x"), pnid="222000").raise_for_status()

    def entries(**params: str) -> list[str]:
        return [
            e["biz_opaque_callback_data"]
            for e in admin.get("/ledger", params=params).json()["entries"]
        ]

    assert entries(to="+14085550000") == ["m0", "x"]
    assert entries(phone_number_id="222000") == ["x"]
    assert entries(biz_opaque_callback_data="m2") == ["m2"]
    assert entries(after_seq="2") == ["m2", "x"]
    assert entries(limit="1") == ["m0"]
    assert "entries" not in admin.get("/ledger", params={"entries": "0"}).json()


def test_same_seed_same_wamids_after_reset(client: httpx.Client, admin: httpx.Client) -> None:
    def run() -> list[str]:
        return [wamid_of(send(client, text(to=f"+1408555000{i}"))) for i in range(3)]

    admin.post("/reset", json={"seed": 42}).raise_for_status()
    first = run()
    admin.post("/reset", json={"seed": 42}).raise_for_status()
    assert run() == first
    admin.post("/reset", json={"seed": 43}).raise_for_status()
    assert run() != first


def test_seeded_fault_draws_repeat(client: httpx.Client, admin: httpx.Client) -> None:
    spec = {"error_rates": {"131000": 0.5}, "callbacks": {"drop": 1.0}}

    def run() -> list[int]:
        admin.post("/reset", json={"seed": 7}).raise_for_status()
        admin.put("/faults/default", json=spec).raise_for_status()
        return [send(client, text(to=f"+140855500{i:02d}")).status_code for i in range(30)]

    first = run()
    assert set(first) == {200, 500}
    assert run() == first


def test_a_new_process_with_the_same_seed_and_cli_flags(
    client: httpx.Client, tmp_path: Path
) -> None:
    other = start_sandbox(
        tmp_path,
        "--seed", "4242",
        "--throughput", "20",
        "--no-pair-limit",
        "--error-rate", "131000=0.0",
        "--token", "tok",
    )  # fmt: skip
    try:
        with httpx.Client(base_url=other.url, timeout=5, trust_env=False) as c:
            theirs = [wamid_of(send(c, text(to=f"+1408555000{i}"), token="tok")) for i in range(3)]
            limits = c.get("/_admin/limits").json()
            assert limits["throughput"] == 20
            assert limits["pair_enabled"] is False
            assert c.get("/_admin/faults").json()["default"]["error_rates"] == {"131000": 0.0}
    finally:
        other.stop()
    assert other.proc.returncode == 0
    with httpx.Client(base_url=str(client.base_url), timeout=5, trust_env=False) as c:
        c.post("/_admin/reset", json={"seed": 4242}).raise_for_status()
        ours = [wamid_of(send(c, text(to=f"+1408555000{i}"))) for i in range(3)]
    assert ours == theirs


def test_admin_templates(client: httpx.Client, admin: httpx.Client) -> None:
    new = {
        "name": "shipping_eta",
        "language": "es_MX",
        "category": "UTILITY",
        "body_text": "Llega el {{1}}",
        "body_params": 1,
    }
    assert admin.post("/templates", json=new).status_code == 200
    payload = template()
    payload["template"] = {
        "name": "shipping_eta",
        "language": {"code": "es_MX"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "lunes"}]}],
    }
    assert send(client, payload).status_code == 200
    assert admin.get("/ledger").json()["entries"][0]["body"] == "Llega el lunes"
    assert admin.post("/templates", json={**new, "status": "PAUSED"}).status_code == 200
    assert send(client, payload).json()["error"]["code"] == 132015
    listed = {(t["name"], t["language"]) for t in admin.get("/templates").json()["templates"]}
    assert ("shipping_eta", "es_MX") in listed
    assert admin.post("/templates", json={"name": "x"}).status_code == 400


def test_health(admin: httpx.Client, clean: int) -> None:
    health = admin.get("/health").json()
    assert health["status"] == "ok"
    assert health["seed"] == clean
    assert health["port"] > 0
