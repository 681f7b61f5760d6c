from __future__ import annotations

import hashlib
import hmac
import json

from ccx.sandbox.envelope import StatusEvent, build_envelope, encode, signature


def event(status: str = "sent", **kw: object) -> StatusEvent:
    base: dict[str, object] = {
        "wamid": "wamid.X",
        "status": status,
        "timestamp": 1750857384,
        "recipient_id": "14085551234",
        "phone_number_id": "106540352242922",
        "display_phone_number": "15550783881",
        "waba_id": "102290129340398",
        "category": "utility",
        "conversation_id": "a75d17ad06104c51166f948319b03c6a",
        "biz_opaque_callback_data": "tenant42:msg:9f1c",
    }
    base.update(kw)
    return StatusEvent(**base)  # type: ignore[arg-type]


def test_sent_status_matches_reference_shape() -> None:
    envelope = build_envelope([event()])
    assert envelope == {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "statuses": [
                                {
                                    "id": "wamid.X",
                                    "status": "sent",
                                    "timestamp": "1750857384",
                                    "recipient_id": "14085551234",
                                    "biz_opaque_callback_data": "tenant42:msg:9f1c",
                                    "conversation": {
                                        "id": "a75d17ad06104c51166f948319b03c6a",
                                        "expiration_timestamp": "1750943784",
                                        "origin": {"type": "utility"},
                                    },
                                    "pricing": {
                                        "billable": True,
                                        "pricing_model": "PMP",
                                        "category": "utility",
                                        "type": "regular",
                                    },
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def test_expiration_only_on_sent_and_service_is_free() -> None:
    st = event("delivered", category="service").to_json()
    assert "expiration_timestamp" not in st["conversation"]
    assert st["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }


def test_no_callback_data_when_none() -> None:
    assert "biz_opaque_callback_data" not in event(biz_opaque_callback_data=None).to_json()


def test_failed_variant() -> None:
    st = event("failed", error_code=131049).to_json()
    assert "conversation" not in st
    assert "pricing" not in st
    assert st["errors"][0]["code"] == 131049
    assert st["errors"][0]["title"] == st["errors"][0]["message"]


def test_batching_groups_by_waba_then_number() -> None:
    events = [
        event("sent", wamid="w1"),
        event("sent", wamid="w2", phone_number_id="2", display_phone_number="2"),
        event("delivered", wamid="w1"),
        event("sent", wamid="w3", waba_id="9"),
    ]
    env = build_envelope(events)
    assert [e["id"] for e in env["entry"]] == ["102290129340398", "9"]
    changes = env["entry"][0]["changes"]
    assert [c["value"]["metadata"]["phone_number_id"] for c in changes] == ["106540352242922", "2"]
    assert [(s["id"], s["status"]) for s in changes[0]["value"]["statuses"]] == [
        ("w1", "sent"),
        ("w1", "delivered"),
    ]


def test_encoding_escapes_non_ascii_and_signature_is_over_those_bytes() -> None:
    body = encode({"name": "äöå", "x": [1, 2]})
    assert body == b'{"name":"\\u00e4\\u00f6\\u00e5","x":[1,2]}'
    assert json.loads(body) == {"name": "äöå", "x": [1, 2]}
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert signature(body, "secret") == "sha256=" + expected
