"""Status precedence of Meta callbacks: forward only, failed only before delivered."""

from __future__ import annotations

import itertools

import pytest

from ccx.status.precedence import applies, implied
from ccx.store.messages import Status

S = Status


@pytest.mark.parametrize(
    ("incoming", "current", "moves"),
    [
        (S.SENT, S.DISPATCHING, True),  # the callback beat the send's answer
        (S.SENT, S.UNDETERMINED, True),  # resolves the ambiguity
        (S.SENT, S.RETRYING, True),  # Meta has it: its retry must not send it again
        (S.SENT, S.SENT, False),  # duplicate
        (S.SENT, S.DELIVERED, False),  # late
        (S.DELIVERED, S.SENT, True),
        (S.DELIVERED, S.READ, False),
        (S.READ, S.SENT, True),  # delivered skipped: normal
        (S.READ, S.DELIVERED, True),
        (S.READ, S.READ, False),
        (S.FAILED, S.SENT, True),  # accepted, then failed (131026, 131047...)
        (S.FAILED, S.DELIVERED, False),  # kept delivered, the error is only logged
        (S.FAILED, S.READ, False),
        (S.FAILED, S.FAILED, False),
        (S.SENT, S.FAILED, False),  # failed is final
        (S.SENT, S.CANCELLED, False),
        (S.SENT, S.QUEUED, False),  # never sent by ccx: not ours to move
        (S.DELIVERED, S.EXPIRED, False),
    ],
)
def test_precedence(incoming: Status, current: Status, moves: bool) -> None:
    assert applies(incoming, current) is moves


def test_every_order_of_one_messages_callbacks_ends_at_the_highest() -> None:
    for order in itertools.permutations([S.SENT, S.DELIVERED, S.READ]):
        state = S.UNDETERMINED
        for status in order:
            if applies(status, state):
                state = status
        assert state is S.READ, order


def test_a_status_implies_the_lower_ones_in_order() -> None:
    assert implied(Status.READ) == (Status.SENT, Status.DELIVERED)
    assert implied(Status.DELIVERED) == (Status.SENT,)
    assert implied(Status.SENT) == ()
    assert implied(Status.FAILED) == ()
