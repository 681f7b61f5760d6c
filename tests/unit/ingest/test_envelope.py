"""Dispatch envelopes: versioned, ids and routing only (no recipient, no content), grouped by
tenant and tier."""

from __future__ import annotations

import aio_pika
import orjson

from ccx.queue.publisher import (
    ENVELOPE_MAX,
    Dispatch,
    amqp_message,
    envelope,
    envelope_message_ids,
    group_envelopes,
)

TRACE = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
ITEM = Dispatch("msg_01JAAAAAAAAAAAAAAAAAAAAAAA", "acme", "critical", TRACE)


def test_envelope_has_exactly_the_routing_fields() -> None:
    other = Dispatch("msg_01JBBBBBBBBBBBBBBBBBBBBBBB", "acme", "critical", None, 2)
    assert orjson.loads(envelope([ITEM, other])) == {
        "v": 2,
        "kind": "dispatch",
        "tenant": "acme",
        "priority": "critical",
        "messages": [
            {"id": ITEM.message_id, "attempt": 0, "traceparent": TRACE},
            {"id": other.message_id, "attempt": 2, "traceparent": None},
        ],
    }
    assert envelope_message_ids(envelope([ITEM, other])) == [ITEM.message_id, other.message_id]
    v1 = orjson.dumps({"v": 1, "kind": "dispatch", "message_id": "msg_x"})
    assert envelope_message_ids(v1) == ["msg_x"]


def test_no_pii_can_reach_the_envelope() -> None:
    fields = set(Dispatch.__dataclass_fields__)
    assert fields == {"message_id", "tenant", "priority", "traceparent", "attempt", "seq"}
    body = envelope([ITEM])
    for forbidden in (b"to", b"text", b"template", b"variables", b"metadata", b"+55"):
        assert forbidden not in body.replace(b'"tenant"', b"")


def test_amqp_properties() -> None:
    message = amqp_message([ITEM, Dispatch("m2", "acme", "critical", None, 3)])
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.message_id == ITEM.message_id
    assert message.content_type == "application/json"
    assert message.headers == {"x-attempt": 3, "x-count": 2, "traceparent": TRACE}
    assert "traceparent" not in (amqp_message([Dispatch("m", "t", "low")]).headers or {})


def test_envelopes_group_by_tenant_and_tier_up_to_the_maximum() -> None:
    items = [Dispatch(f"m{i}", "acme", "low") for i in range(ENVELOPE_MAX + 1)]
    items += [Dispatch("x", "acme", "critical"), Dispatch("y", "globex", "low")]
    groups = group_envelopes(items)
    assert [len(g) for g in groups] == [ENVELOPE_MAX, 1, 1, 1]
    assert all(len({(items[i].tenant, items[i].priority) for i in g}) == 1 for g in groups)
    assert sorted(i for g in groups for i in g) == list(range(len(items)))
