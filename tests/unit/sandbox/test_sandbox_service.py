from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ccx.sandbox.callbacks import CallbackSettings
from ccx.sandbox.faults import CallbackFaults, FaultConfig, FaultSpec, Latency
from ccx.sandbox.limits import LimitSettings
from ccx.sandbox.options import SandboxOptions
from ccx.sandbox.service import Sandbox, SendOutcome, Transport, display_number

PNID = "106540352242922"
AUTH = "Bearer sandbox"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def make(**kw: Any) -> Sandbox:
    return Sandbox(SandboxOptions(**kw), clock=Clock(), wall=lambda: 1750857384.0)


def body(payload: dict[str, Any]) -> str:
    return json.dumps(payload)


def reply_json(out: SendOutcome) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(out.reply.body)
    return result


def test_text_send_success(text_payload: dict[str, Any]) -> None:
    sb = make()
    out = sb.send("v23.0", PNID, AUTH, body(text_payload))
    assert out.reply.status == 200
    assert out.transport is Transport.ANSWER
    data = reply_json(out)
    assert data["messaging_product"] == "whatsapp"
    assert data["contacts"] == [{"input": "+16505555555", "wa_id": "16505555555"}]
    [msg] = data["messages"]
    assert msg["id"].startswith("wamid.")
    assert msg["message_status"] == "accepted"
    [entry] = sb.ledger.entries()
    assert entry.wamid == msg["id"]
    assert entry.biz_opaque_callback_data == "gw-msg-01HZX"
    assert sb.callbacks.pending == 3


def test_template_send_records_rendered_body(template_payload: dict[str, Any]) -> None:
    sb = make()
    assert sb.send("v24.0", PNID, AUTH, body(template_payload)).reply.status == 200
    [entry] = sb.ledger.entries()
    assert entry.template == "order_update/en_US"
    assert entry.body == "Hi Ana, your order #1234 is on its way."


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (None, "Invalid OAuth access token - Cannot parse access token"),
        ("Basic abc", "Invalid OAuth access token - Cannot parse access token"),
        ("Bearer wrong", "Error validating access token"),
    ],
)
def test_auth(text_payload: dict[str, Any], auth: str | None, message: str) -> None:
    out = make().send("v23.0", PNID, auth, body(text_payload))
    assert out.reply.status == 401
    err = reply_json(out)["error"]
    assert err["code"] == 190
    assert err["message"].startswith(message)


def test_configured_tokens(text_payload: dict[str, Any]) -> None:
    sb = make(tokens=frozenset({"t1", "t2"}))
    assert sb.send("v23.0", PNID, "Bearer t2", body(text_payload)).reply.status == 200
    assert sb.send("v23.0", PNID, AUTH, body(text_payload)).reply.status == 401


def test_bad_path(text_payload: dict[str, Any]) -> None:
    sb = make()
    assert reply_json(sb.send("latest", PNID, AUTH, body(text_payload)))["error"]["code"] == 100
    err = reply_json(sb.send("v23.0", "abc", AUTH, body(text_payload)))["error"]
    assert (err["code"], err["type"], err["error_subcode"]) == (100, "GraphMethodException", 33)


def test_recipient_cannot_be_sender(text_payload: dict[str, Any]) -> None:
    text_payload["to"] = display_number(PNID)
    assert (
        reply_json(make().send("v23.0", PNID, AUTH, body(text_payload)))["error"]["code"] == 131021
    )


def test_pair_limit_through_send(text_payload: dict[str, Any]) -> None:
    sb = make(limits=LimitSettings(pair_burst=2))
    codes = [sb.send("v23.0", PNID, AUTH, body(text_payload)).reply.status for _ in range(3)]
    assert codes == [200, 200, 400]
    assert sb.ledger.count == 2
    assert sb.responses == {"200": 2, "131056": 1}


def test_same_seed_same_wamids_and_reset(text_payload: dict[str, Any]) -> None:
    def wamids(sb: Sandbox) -> list[str]:
        return [
            reply_json(sb.send("v23.0", PNID, AUTH, body(text_payload)))["messages"][0]["id"]
            for _ in range(3)
        ]

    a, b, c = make(seed=5), make(seed=5), make(seed=6)
    first = wamids(a)
    assert first == wamids(b)
    assert first != wamids(c)
    assert len(set(first)) == 3
    a.reset()
    assert wamids(a) == first
    a.reset(seed=6)
    assert wamids(a) == wamids(make(seed=6))


def test_wamid_carries_the_recipient(text_payload: dict[str, Any]) -> None:
    wamid = reply_json(make().send("v23.0", PNID, AUTH, body(text_payload)))["messages"][0]["id"]
    raw = base64.b64decode(wamid.removeprefix("wamid.") + "==")
    assert b"16505555555" in raw


def faulty(spec: FaultSpec) -> Sandbox:
    return make(faults=FaultConfig(default=spec, hang_s=7.0))


def test_injected_error(text_payload: dict[str, Any]) -> None:
    sb = faulty(FaultSpec(error_rates={131000: 1.0}))
    out = sb.send("v23.0", PNID, AUTH, body(text_payload))
    assert out.reply.status == 500
    assert reply_json(out)["error"]["code"] == 131000
    assert sb.ledger.count == 0


@pytest.mark.parametrize(
    ("spec", "transport", "recorded"),
    [
        (FaultSpec(timeout=1.0), Transport.HANG, 0),
        (FaultSpec(reset=1.0), Transport.RESET, 0),
        (FaultSpec(accept_no_answer=1.0), Transport.HANG, 1),
    ],
)
def test_transport_faults(
    text_payload: dict[str, Any], spec: FaultSpec, transport: Transport, recorded: int
) -> None:
    sb = faulty(spec)
    out = sb.send("v23.0", PNID, AUTH, body(text_payload))
    assert out.transport is transport
    assert sb.ledger.count == recorded
    if transport is Transport.HANG:
        assert out.hang_s == 7.0
    if recorded:
        assert sb.ledger.unanswered == 1
        assert sb.callbacks.pending == 3


def test_empty_5xx(text_payload: dict[str, Any]) -> None:
    sb = faulty(FaultSpec(empty_5xx=1.0, empty_5xx_status=502))
    out = sb.send("v23.0", PNID, AUTH, body(text_payload))
    assert (out.reply.status, out.reply.body, out.reply.content_type) == (502, b"", None)


def test_latency_is_returned(text_payload: dict[str, Any]) -> None:
    out = faulty(FaultSpec(latency=Latency("fixed", 250))).send(
        "v23.0", PNID, AUTH, body(text_payload)
    )
    assert out.delay_s == 0.25
    assert out.reply.status == 200


def test_dropped_callbacks_are_not_scheduled(text_payload: dict[str, Any]) -> None:
    sb = faulty(FaultSpec(callbacks=CallbackFaults(drop=1.0)))
    sb.send("v23.0", PNID, AUTH, body(text_payload))
    assert sb.callbacks.pending == 0
    assert sb.injected["callback_drop"] == 1


def test_faults_apply_after_auth(text_payload: dict[str, Any]) -> None:
    sb = faulty(FaultSpec(reset=1.0))
    assert sb.send("v23.0", PNID, None, body(text_payload)).reply.status == 401


def test_list_templates_paging() -> None:
    sb = make()
    page = json.loads(sb.list_templates("v23.0", "1", AUTH, {"limit": "2"}).body)
    assert len(page["data"]) == 2
    after = page["paging"]["cursors"]["after"]
    rest = json.loads(sb.list_templates("v23.0", "1", AUTH, {"after": after, "limit": "100"}).body)
    names = [t["name"] for t in page["data"] + rest["data"]]
    assert len(names) == len(sb.templates.all())
    paused = json.loads(sb.list_templates("v23.0", "1", AUTH, {"status": "PAUSED"}).body)
    assert [t["name"] for t in paused["data"]] == ["spring_sale"]
    assert sb.list_templates("v23.0", "1", "Bearer x", {}).status == 401
    assert sb.list_templates("v23.0", "1", AUTH, {"limit": "x"}).status == 400


def test_callback_event_contents(template_payload: dict[str, Any]) -> None:
    sb = make(callbacks=CallbackSettings(sent_delay_s=0.5))
    sb.send("v23.0", PNID, AUTH, body(template_payload))
    heap = sorted(sb.callbacks._heap)
    first = heap[0][2]
    assert first.status == "sent"
    assert first.category == "utility"
    assert first.biz_opaque_callback_data == "tenant42:msg:9f1c"
    assert first.waba_id == "100000000000001"
    assert first.timestamp == 1750857384
