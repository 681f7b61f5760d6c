"""List cursors: round trip, and anything tampered with is a ValueError."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from ccx.ids import new_message_id
from ccx.store.messages import Message, decode_cursor, encode_cursor, from_document, to_document


def test_round_trip_is_millisecond_exact() -> None:
    at = datetime(2026, 11, 28, 5, 30, 1, 123456, tzinfo=UTC)
    mid = new_message_id()
    assert decode_cursor(encode_cursor(at, mid)) == (at.replace(microsecond=123000), mid)


@pytest.mark.parametrize("position", [0, 5, 10, 20, -2])
def test_a_changed_character_is_rejected(position: int) -> None:
    cursor = encode_cursor(datetime.now(UTC), new_message_id())
    swapped = "A" if cursor[position] != "A" else "B"
    tampered = cursor[:position] + swapped + cursor[position + 1 :]
    with pytest.raises(ValueError, match="invalid cursor"):
        decode_cursor(tampered)


@pytest.mark.parametrize(
    "cursor",
    ["", "x", "!!!!", base64.urlsafe_b64encode(b'[1,"msg_x"]').decode(), "A" * 40],
)
def test_garbage_is_rejected(cursor: str) -> None:
    with pytest.raises(ValueError, match="invalid cursor"):
        decode_cursor(cursor)


def test_document_round_trip() -> None:
    message = Message(
        id=new_message_id(),
        to="+5511999998888",
        type="template",
        template={"name": "otp", "language": "pt_BR", "variables": {"body": ["1"]}},
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        sender="123",
        extra={"x_custom": 1},
    )
    doc = to_document(message)
    assert doc["from"] == "123"
    assert doc["status"] == "accepted"
    assert "updated_at" not in doc  # implied: equal to created_at
    back = from_document(doc)
    assert back.extra == {"x_custom": 1}
    assert back.sender == "123"
    assert back.template == message.template
