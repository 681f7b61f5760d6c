"""Parsing Meta's status callbacks: every status of a batched POST, defensively."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ccx.ids import new_message_id
from ccx.status.callbacks import NumberError, TemplateUpdate, opaque_reference, parse

PNID = "106540352242922"


def envelope(*values: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "102290129340398", "changes": [{"field": "messages", "value": v}]}
            for v in values
        ],
    }


def value(*statuses: dict[str, Any], errors: list[Any] | None = None) -> dict[str, Any]:
    v: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
        "statuses": list(statuses),
    }
    if errors is not None:
        v["errors"] = errors
    return v


def status(status: str, opaque: str | None = None, **extra: Any) -> dict[str, Any]:
    item = {"id": "wamid.X", "status": status, "timestamp": "1750857384", "recipient_id": "1408"}
    if opaque is not None:
        item["biz_opaque_callback_data"] = opaque
    return {**item, **extra}


def test_the_reference_envelope() -> None:
    message_id = new_message_id()
    pricing = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}
    parsed = parse(envelope(value(status("sent", f"{message_id}.2", pricing=pricing))))
    (update,) = parsed.updates
    assert (update.phone_number_id, update.wamid, update.status) == (PNID, "wamid.X", "sent")
    assert update.at == datetime.fromtimestamp(1750857384, UTC)
    assert (update.message_id, update.attempt) == (message_id, 2)
    assert update.pricing == pricing
    assert update.recipient_id == "1408"
    assert parsed.skipped == 0


def test_every_status_of_every_entry_and_change() -> None:
    parsed = parse(envelope(value(status("sent"), status("delivered")), value(status("read"))))
    assert [u.status for u in parsed.updates] == ["sent", "delivered", "read"]


def test_played_counts_as_read_and_failed_keeps_its_errors() -> None:
    errors = [{"code": 131047, "title": "Re-engagement message"}]
    parsed = parse(envelope(value(status("played"), status("failed", errors=errors))))
    assert [u.status for u in parsed.updates] == ["read", "failed"]
    assert parsed.updates[1].errors == errors


def test_malformed_items_are_skipped_and_counted_not_fatal() -> None:
    parsed = parse(
        envelope(
            value(
                status("sent"),
                status("deleted"),  # unknown status
                {"status": "sent", "timestamp": "1"},  # no wamid
                status("sent", timestamp="yesterday"),
                "not an object",
            )
        )
    )
    assert len(parsed.updates) == 1
    assert parsed.skipped == 4


def test_without_a_phone_number_id_statuses_cannot_be_routed() -> None:
    v = value(status("sent"))
    del v["metadata"]
    assert parse(envelope(v)).skipped == 1


def test_system_errors_of_a_number() -> None:
    error = {
        "code": 130429,
        "title": "Rate limit hit",
        "error_data": {"details": "too many messages"},
    }
    parsed = parse(envelope(value(errors=[error])))
    assert parsed.errors == [NumberError(PNID, 130429, "Rate limit hit", "too many messages")]


def test_garbage_payloads_parse_to_nothing() -> None:
    for payload in [None, [], "x", {"entry": "x"}, {"entry": [{"changes": [1]}]}]:
        parsed = parse(payload)
        assert parsed.updates == []
        assert parsed.errors == []


def test_opaque_reference_needs_a_message_id_and_an_attempt() -> None:
    message_id = new_message_id()
    assert opaque_reference(f"{message_id}.7") == (message_id, 7)
    assert opaque_reference("order-42.1") == (None, None)
    assert opaque_reference(f"{message_id}.x") == (None, None)
    assert opaque_reference(message_id) == (None, None)
    assert opaque_reference(None) == (None, None)


def test_a_template_status_update() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "time": 1750857384,
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": "PAUSED",
                            "message_template_id": 123456789,
                            "message_template_name": "order_update",
                            "message_template_language": "en_US",
                            "reason": "NONE",
                            "message_template_category": "UTILITY",
                        },
                    },
                    {"field": "message_template_status_update", "value": {"event": "PAUSED"}},
                ],
            }
        ],
    }
    parsed = parse(payload)
    assert parsed.templates == [
        TemplateUpdate(
            "102290129340398",
            "order_update",
            "en_US",
            "PAUSED",
            "NONE",
            datetime.fromtimestamp(1750857384, UTC),
        )
    ]
    assert parsed.skipped == 1
    assert parsed.updates == []
