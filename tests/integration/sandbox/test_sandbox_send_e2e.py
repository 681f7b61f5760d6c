"""Send endpoint end to end: success bodies, signed callbacks, Meta errors, templates list."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sandbox_it import (
    PNID,
    WABA_ID,
    send,
    template,
    text,
    verify_signature,
    wait_statuses,
    wamid_of,
)

from ccx.sandbox.receiver import CallbackReceiver

pytestmark = pytest.mark.e2e


def test_template_send_gets_wamid_and_signed_callbacks(
    client: httpx.Client, receiver: CallbackReceiver
) -> None:
    reply = send(client, template())
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "14085551234", "wa_id": "14085551234"}]
    wamid = wamid_of(reply)
    assert wamid.startswith("wamid.")
    assert len(wamid) > 40
    assert body["messages"][0]["message_status"] == "accepted"

    found = wait_statuses(receiver, wamid, 3)
    assert [s["status"] for s in found] == ["sent", "delivered", "read"]
    records = [r for r in receiver.records if wamid.encode() in r.body]
    for record in records:
        assert verify_signature(record), record.headers
        assert record.headers["content-type"] == "application/json"
        envelope = json.loads(record.body)
        assert envelope["object"] == "whatsapp_business_account"
        [entry] = envelope["entry"]
        assert entry["id"] == WABA_ID
        [change] = entry["changes"]
        assert change["field"] == "messages"
        value = change["value"]
        assert value["messaging_product"] == "whatsapp"
        assert value["metadata"]["phone_number_id"] == PNID
        assert value["metadata"]["display_phone_number"].isdigit()
    sent, delivered, read = found
    for st in found:
        assert st["id"] == wamid
        assert st["recipient_id"] == "14085551234"
        assert isinstance(st["timestamp"], str)
        assert st["timestamp"].isdigit()
        assert st["biz_opaque_callback_data"] == "tenant42:msg:9f1c"
        assert st["pricing"] == {
            "billable": True,
            "pricing_model": "PMP",
            "category": "utility",
            "type": "regular",
        }
        assert st["conversation"]["origin"] == {"type": "utility"}
    assert int(sent["conversation"]["expiration_timestamp"]) > int(sent["timestamp"])
    assert "expiration_timestamp" not in delivered["conversation"]
    assert "expiration_timestamp" not in read["conversation"]


def test_text_send_callbacks_escape_non_ascii(
    client: httpx.Client, receiver: CallbackReceiver
) -> None:
    wamid = wamid_of(send(client, text(body="Olá 😀", opaque="pedido-ñ-1")))
    found = wait_statuses(receiver, wamid, 3)
    assert found[0]["biz_opaque_callback_data"] == "pedido-ñ-1"
    assert found[0]["pricing"]["type"] == "free_customer_service"
    record = next(r for r in receiver.records if wamid.encode() in r.body)
    assert record.body.isascii()
    assert b"pedido-\\u00f1-1" in record.body
    assert verify_signature(record)


def test_a_tampered_body_fails_the_signature(
    client: httpx.Client, receiver: CallbackReceiver
) -> None:
    wamid = wamid_of(send(client, text()))
    wait_statuses(receiver, wamid, 1)
    record = next(r for r in receiver.records if wamid.encode() in r.body)
    tampered = type(record)(record.path, record.headers, record.body + b" ", record.at, 200)
    assert not verify_signature(tampered)


def test_second_configured_token(client: httpx.Client) -> None:
    assert send(client, text(), token="second-token").status_code == 200


def mutate(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node: Any = payload
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (mutate(template(), "template.name", "no_such_template"), 404, 132001),
        (mutate(template(), "template.language.code", "fr_FR"), 404, 132001),
        (mutate(template(), "template.components.1.parameters.1", ...), 400, 132000),
        (
            mutate(template(), "template.components.0.parameters.0", {"type": "text", "text": "x"}),
            400,
            132012,
        ),
        (mutate(template(), "template.name", "spring_sale"), 400, 132015),
        (mutate(template(), "template.name", "old_notice"), 400, 132016),
        (mutate(text(), "messaging_product", ...), 400, 100),
        (mutate(text(), "unexpected", 1), 400, 100),
        (mutate(text(), "text", ...), 400, 131008),
        (mutate(text(), "text.body", ...), 400, 131008),
        (mutate(text(), "to", "call-me-maybe"), 400, 131009),
        (mutate(text(), "type", "image"), 400, 131051),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
def test_meta_errors(client: httpx.Client, payload: Any, status: int, code: int) -> None:
    if payload.get("template", {}).get("name") in {"spring_sale", "old_notice"}:
        payload["template"]["components"] = []
    reply = send(client, payload)
    assert reply.status_code == status, reply.text
    err = reply.json()["error"]
    assert err["code"] == code
    assert err["type"] == "OAuthException"
    assert err["message"].startswith(f"(#{code})")
    assert err["fbtrace_id"]
    if code != 100:
        assert err["error_data"]["messaging_product"] == "whatsapp"
        assert err["error_data"]["details"]


@pytest.mark.parametrize("token", [None, "wrong"])
def test_bad_token_is_190_401(client: httpx.Client, token: str | None) -> None:
    reply = send(client, text(), token=token)
    assert reply.status_code == 401
    err = reply.json()["error"]
    assert (err["code"], err["type"]) == (190, "OAuthException")
    assert "access token" in err["message"]


def test_unknown_phone_number_id_object(client: httpx.Client) -> None:
    err = send(client, text(), pnid="not-a-number").json()["error"]
    assert (err["code"], err["type"], err["error_subcode"]) == (100, "GraphMethodException", 33)


def test_invalid_json_body(client: httpx.Client) -> None:
    reply = client.post(
        f"/v23.0/{PNID}/messages",
        content=b"{not json",
        headers={"authorization": "Bearer sandbox", "content-type": "application/json"},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == 100


def test_message_templates_endpoint(client: httpx.Client) -> None:
    headers = {"authorization": "Bearer sandbox"}
    reply = client.get(f"/v23.0/{WABA_ID}/message_templates", headers=headers)
    assert reply.status_code == 200
    data = reply.json()["data"]
    names = {(t["name"], t["language"]): t for t in data}
    assert names[("otp_code", "en_US")]["category"] == "AUTHENTICATION"
    assert names[("spring_sale", "en_US")]["status"] == "PAUSED"
    one = client.get(
        f"/v23.0/{WABA_ID}/message_templates",
        params={"name": "order_update"},
        headers=headers,
    ).json()
    assert [t["name"] for t in one["data"]] == ["order_update"]
    assert client.get(f"/v23.0/{WABA_ID}/message_templates").status_code == 401
