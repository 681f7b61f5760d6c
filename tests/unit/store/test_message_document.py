"""The stored message document leaves out what it implies, and reads it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ccx.ingest.accept import AcceptItem, build_message
from ccx.store.messages import Status, from_document, implied_events, to_document

BODY = {"to": "+5511999998888", "type": "text", "text": {"body": "hi"}}


def test_a_new_message_stores_no_implied_field_and_reads_back_equal() -> None:
    message = build_message(AcceptItem("t1", BODY, sender="123"), None, "w1")
    doc = to_document(message)
    assert not {"updated_at", "queued_at", "attempt", "fence", "on_ambiguous"} & set(doc)
    assert (doc["status"], doc["seq"]) == ("queued", 2)
    assert from_document(doc) == message
    assert [e["to"] for e in implied_events(from_document(doc))] == ["accepted", "queued"]


def test_values_that_differ_from_the_implied_ones_are_stored() -> None:
    message = build_message(AcceptItem("t1", {**BODY, "on_ambiguous": "send"}), None, "w1")
    later = message.created_at + timedelta(seconds=3)
    message.updated_at = message.queued_at = later
    message.attempt, message.fence = 2, 5
    doc = to_document(message)
    assert (doc["updated_at"], doc["queued_at"]) == (later, later)
    assert (doc["attempt"], doc["fence"], doc["on_ambiguous"]) == (2, 5, "send")
    assert from_document(doc) == message


def test_a_message_not_queued_yet_has_no_queued_time() -> None:
    doc = {
        "_id": "msg_01J9Z8Q4X3V7K2M5N6P8R0S1T2",
        "status": str(Status.ACCEPTED),
        "seq": 1,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "to": "+5511999998888",
        "type": "text",
    }
    message = from_document(doc)
    assert message.queued_at is None
    assert message.updated_at == doc["created_at"]
    assert [e["to"] for e in implied_events(message)] == ["accepted"]
