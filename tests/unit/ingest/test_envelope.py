"""Dispatch envelopes: versioned, ids and routing only (no recipient, no content)."""

from __future__ import annotations

import aio_pika
import orjson

from ccx.queue.publisher import Dispatch, amqp_message, envelope

ITEM = Dispatch(
    "msg_01JAAAAAAAAAAAAAAAAAAAAAAA", "acme", "critical", "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
)


def test_envelope_has_exactly_the_routing_fields() -> None:
    assert orjson.loads(envelope(ITEM)) == {
        "v": 1,
        "kind": "dispatch",
        "message_id": ITEM.message_id,
        "tenant": "acme",
        "priority": "critical",
        "attempt": 0,
    }


def test_no_pii_can_reach_the_envelope() -> None:
    fields = set(Dispatch.__dataclass_fields__)
    assert fields == {"message_id", "tenant", "priority", "traceparent", "attempt"}
    body = envelope(ITEM)
    for forbidden in (b"to", b"text", b"template", b"variables", b"metadata", b"+55"):
        assert forbidden not in body.replace(b'"tenant"', b"")


def test_amqp_properties() -> None:
    message = amqp_message(ITEM)
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.message_id == ITEM.message_id
    assert message.content_type == "application/json"
    assert message.headers == {"x-attempt": 0, "traceparent": ITEM.traceparent}
    assert "traceparent" not in (amqp_message(Dispatch("m", "t", "low")).headers or {})
