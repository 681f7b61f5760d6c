"""`projected`: the message a worker sends is the projection its claim writes."""

from __future__ import annotations

from datetime import UTC, datetime

from ccx.store.messages import Message, Status
from ccx.store.transitions import Change, projected


def message() -> Message:
    return Message(
        id="msg_1",
        to="+447700900001",
        type="text",
        created_at=datetime(2026, 11, 29, tzinfo=UTC),
        status=Status.QUEUED,
        seq=2,
        attempt=1,
        extra={"kept": 1},
    )


def test_projection_moves_status_seq_and_copies_known_fields() -> None:
    lease = {"owner": "wk_1", "until": datetime(2026, 11, 29, 0, 1, tzinfo=UTC)}
    change = Change(
        "msg_1", 2, Status.QUEUED, Status.DISPATCHING, None, {"attempt": 2, "lease": lease}
    )

    moved = projected(message(), change)

    assert (moved.status, moved.seq, moved.attempt, moved.lease) == (
        Status.DISPATCHING,
        3,
        2,
        lease,
    )
    assert moved.updated_at is not None
    assert moved.to == "+447700900001"


def test_unknown_fields_land_in_extra_and_the_original_is_untouched() -> None:
    original = message()
    change = Change("msg_1", 2, Status.QUEUED, Status.DISPATCHING, None, {"error": {"code": 1}})

    moved = projected(original, change)

    assert moved.extra == {"kept": 1, "error": {"code": 1}}
    assert (original.status, original.seq, original.extra) == (Status.QUEUED, 2, {"kept": 1})
