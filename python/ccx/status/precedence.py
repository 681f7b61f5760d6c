"""Which state a Meta status callback may move a message from (reference §8, ARCHITECTURE §4).

Statuses only move forward: sent < delivered < read. A lower or equal status after a higher
one changes nothing (a duplicate or a late arrival); `failed` applies only before
`delivered`. A callback may also resolve what ccx could not know itself:

- `dispatching`: the callback beat the send's own answer (the worker's outcome write then
  loses its fenced insert, and the callback's state stands);
- `undetermined`: the request may or may not have reached Meta; now we know it did;
- `retrying` / `reconciling` of the same attempt: the send was classified "not sent" but Meta
  says otherwise; moving the message on stops its retry from sending it twice.
"""

from __future__ import annotations

from ccx.store.messages import Status

RANK = {Status.SENT: 1, Status.DELIVERED: 2, Status.READ: 3}

#: States a message leaves for a callback's status, whatever the callback's attempt.
_UNRESOLVED = (Status.DISPATCHING, Status.UNDETERMINED, Status.RETRYING, Status.RECONCILING)

SOURCES: dict[Status, tuple[Status, ...]] = {
    Status.SENT: _UNRESOLVED,
    Status.DELIVERED: (*_UNRESOLVED, Status.SENT),
    Status.READ: (*_UNRESOLVED, Status.SENT, Status.DELIVERED),
    Status.FAILED: (*_UNRESOLVED, Status.SENT),
}


def sources(status: Status) -> tuple[Status, ...]:
    """The states a message may be in for a `status` callback to move it."""
    return SOURCES[status]


def implied(status: Status) -> tuple[Status, ...]:
    """The lower statuses `status` implies, lowest first: read implies sent and delivered."""
    if status not in RANK:
        return ()
    return tuple(s for s, rank in RANK.items() if rank < RANK[status])


def applies(status: Status, current: Status) -> bool:
    """True when a `status` callback moves a message that is `current`."""
    return current in SOURCES[status]
