"""Reading dispatch envelopes off the queues (the writer is `ccx.queue.publisher`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ccx.ids import is_message_id
from ccx.queue.names import Tier
from ccx.queue.publisher import Dispatch
from ccx.store.messages import Status

#: The seq of a freshly queued message (1 `accepted`, 2 `queued`; `store.messages`).
QUEUED_SEQ = 2


class PoisonEnvelope(ValueError):
    """A queue message that is not a dispatch envelope this worker understands."""


@dataclass(frozen=True, slots=True)
class Work:
    """One message to claim and send: what the envelope says about it."""

    message_id: str
    tenant: str
    priority: Tier
    attempt: int
    seq: int
    traceparent: str | None

    @property
    def from_status(self) -> Status:
        """The state a claim moves it from (retries come back at a later seq)."""
        return Status.QUEUED if self.seq == QUEUED_SEQ else Status.RETRYING

    def again(self, attempt: int, seq: int) -> Dispatch:
        """The dispatch that brings this message back at `seq` for attempt `attempt`."""
        return Dispatch(self.message_id, self.tenant, self.priority, self.traceparent, attempt, seq)


def _int(value: Any, name: str, low: int) -> int:
    if type(value) is not int or value < low:
        raise PoisonEnvelope(f"{name} must be an integer >= {low}")
    return value


def _message_id(value: Any) -> bool:
    return isinstance(value, str) and is_message_id(value)


def parse(body: bytes) -> list[Work]:
    """The work items of a v1 or v2 envelope; PoisonEnvelope for anything else."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PoisonEnvelope(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != "dispatch":
        raise PoisonEnvelope("not a dispatch envelope")
    tenant, priority = data.get("tenant"), data.get("priority")
    if not isinstance(tenant, str) or not tenant:
        raise PoisonEnvelope("tenant is missing")
    try:
        tier = Tier(str(priority))
    except ValueError:
        raise PoisonEnvelope(f"unknown priority {priority!r}") from None
    version = data.get("v")
    if type(version) is not int:
        raise PoisonEnvelope(f"unsupported envelope version {version!r}")
    if version == 1:
        items = [{"id": data.get("message_id"), "attempt": data.get("attempt", 0)}]
    elif version == 2 and isinstance(data.get("messages"), list):
        items = data["messages"]
    else:
        raise PoisonEnvelope(f"unsupported envelope version {data.get('v')!r}")
    work = []
    for item in items:
        if not isinstance(item, dict) or not _message_id(item.get("id")):
            raise PoisonEnvelope("a message id is missing or malformed")
        traceparent = item.get("traceparent")
        work.append(
            Work(
                item["id"],
                tenant,
                tier,
                _int(item.get("attempt", 0), "attempt", 0),
                _int(item.get("seq", QUEUED_SEQ), "seq", QUEUED_SEQ),
                traceparent if isinstance(traceparent, str) else None,
            )
        )
    if not work:
        raise PoisonEnvelope("the envelope has no messages")
    return work
