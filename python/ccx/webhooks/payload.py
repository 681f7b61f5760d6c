"""The body of a client webhook (ARCHITECTURE §7), built from one event of a message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from ccx.store.messages import Message
from ccx.store.mongo import Document


def event_id(message_id: str, seq: int) -> str:
    """The `webhook-id` of a message's event `seq`: the same for every attempt and replay."""
    return f"evt_{message_id.removeprefix('msg_')}_{seq}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_body(message: Message, event: Document, event_type: str) -> bytes:
    """`{type, id, timestamp, data: {message_id, status, previous_status, wamid, error,
    pricing, metadata, seq}}`; what the event itself recorded wins over the message's
    current fields (a later event may have changed them)."""
    seq = int(event["seq"])
    at = event["at"]
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    data: dict[str, Any] = {
        "message_id": message.id,
        "status": event["to"],
        "previous_status": event.get("from"),
        "wamid": event.get("wamid") or message.wamid,
        "error": event.get("error"),
        "pricing": event.get("pricing") or message.extra.get("pricing"),
        "metadata": message.metadata,
        "seq": seq,
        "to": message.to,
        "attempt": event.get("attempt", message.attempt),
    }
    return orjson.dumps(
        {
            "type": event_type,
            "id": event_id(message.id, seq),
            "timestamp": _iso(at),
            "data": data,
        }
    )
