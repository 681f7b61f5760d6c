"""What a send attempt's outcome does to the message (ARCHITECTURE §4): pure logic.

Attempts are numbered from 1. A definite "not sent" (retryable error, throttling, hold) is
retried after RETRY_DELAYS[attempt - 1] until `max_attempts` sends were made; then the
message is `reconciling`: one more attempt every reconcile interval (6 h) until the
reconciliation window (7 days) ends, then `expired`. A terminal error fails it. Anything
that may have reached Meta is `undetermined` and never resent automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ccx.dispatch.envelopes import Work
from ccx.dispatch.outcomes import Kind, Outcome
from ccx.queue.names import RECONCILE_STEP, RESEND_STEP, RETRY_DELAYS
from ccx.queue.publisher import Dispatch
from ccx.store.messages import Status
from ccx.store.transitions import Change

DELAY_STEPS = tuple(RETRY_DELAYS.items())


def step_for(seconds: float) -> str:
    """The shortest delay step of at least `seconds` (the longest when none is)."""
    for name, step in DELAY_STEPS:
        if step >= seconds:
            return name
    return DELAY_STEPS[-1][0]


def retry_step(attempt: int) -> str:
    """The delay after failed attempt `attempt` (1-based)."""
    return DELAY_STEPS[min(attempt, len(DELAY_STEPS)) - 1][0]


@dataclass(frozen=True, slots=True)
class Decision:
    """The state change to record and, for a retry, the dispatch to publish after it."""

    change: Change
    retry: Dispatch | None = None
    delay: str | None = None


def error_of(outcome: Outcome) -> dict[str, Any]:
    """The `error` stored on the message and event (no None fields)."""
    error = {
        "class": str(outcome.kind),
        "reason": outcome.reason,
        "code": outcome.code,
        "subcode": outcome.subcode,
        "title": outcome.title or None,
        "details": outcome.details or None,
        "http_status": outcome.http_status,
        "fbtrace_id": outcome.fbtrace_id,
    }
    return {k: v for k, v in error.items() if v is not None}


def _retrying(
    work: Work, seq: int, attempt: int, delay: str, now: datetime, trace_id: str | None, **f: Any
) -> Decision:
    change = Change(
        work.message_id,
        seq,
        Status.DISPATCHING,
        Status.RETRYING,
        trace_id,
        {
            "attempt": attempt,
            "next_attempt_at": now + timedelta(seconds=RETRY_DELAYS[delay]),
            "lease": None,
            **f,
        },
    )
    return Decision(change, work.again(attempt, seq + 1), delay)


def decide(
    work: Work,
    seq: int,
    attempt: int,
    outcome: Outcome,
    now: datetime,
    trace_id: str | None,
    max_attempts: int = 7,
    min_delay_s: float = 0.0,
    reconcile_interval_s: float = 6 * 3600,
    reconciling_since: datetime | None = None,
    resend: bool = False,
) -> Decision:
    """The decision for attempt `attempt` of a message claimed at `seq` (its dispatching
    event), given what Meta answered. Out of attempts, it waits `reconcile_interval_s` in the
    reconcile queue for one more attempt (`reconciling_since` is when it first did). With
    `resend`, an ambiguous outcome comes back after the evidence window for one resend."""
    error = error_of(outcome)

    def to(status: Status, **fields: Any) -> Decision:
        return Decision(Change(work.message_id, seq, Status.DISPATCHING, status, trace_id, fields))

    if outcome.kind is Kind.SENT:
        return to(Status.SENT, wamid=outcome.wamid, lease=None)
    if outcome.kind is Kind.TERMINAL:
        return to(Status.FAILED, error=error, lease=None)
    if outcome.kind is Kind.AMBIGUOUS:
        if resend:
            # one more attempt after the evidence window, unless a callback settles it first
            # (its transition moves the seq on, and the resend's claim then loses)
            change = Change(
                work.message_id,
                seq,
                Status.DISPATCHING,
                Status.UNDETERMINED,
                trace_id,
                {"error": error, "lease": None, "resend_scheduled_at": now},
            )
            return Decision(change, work.again(attempt, seq + 1), RESEND_STEP)
        return to(Status.UNDETERMINED, error=error, lease=None)
    if attempt >= max_attempts:
        change = Change(
            work.message_id,
            seq,
            Status.DISPATCHING,
            Status.RECONCILING,
            trace_id,
            {
                "attempt": attempt,
                "next_attempt_at": now + timedelta(seconds=reconcile_interval_s),
                "reconciling_since": reconciling_since or now,
                "lease": None,
                "error": error,
            },
        )
        return Decision(change, work.again(attempt, seq + 1), RECONCILE_STEP)
    wait = max(min_delay_s, outcome.retry_after_s or 0.0)
    delay = retry_step(attempt)
    if RETRY_DELAYS[delay] < wait:
        delay = step_for(wait)
    return _retrying(work, seq, attempt, delay, now, trace_id, error=error)


def expire(work: Work, seq: int, trace_id: str | None, since: datetime) -> Change:
    """A reconciling message whose reconciliation window has ended: `expired`, not sent."""
    return Change(
        work.message_id,
        seq,
        Status.RECONCILING,
        Status.EXPIRED,
        trace_id,
        {"lease": None, "next_attempt_at": None},
        {"reconciling_since": since},
    )


def defer(
    work: Work, seq: int, now: datetime, trace_id: str | None, wait_s: float, reason: str
) -> Decision:
    """Put a claimed message back without sending it (its number is paused or its circuit
    open): the attempt is not counted."""
    return _retrying(
        work, seq, work.attempt, step_for(wait_s), now, trace_id, error={"reason": reason}
    )


def fail(work: Work, seq: int, trace_id: str | None, code: str, detail: str) -> Decision:
    """A terminal failure found before sending (no sender, template gone)."""
    error = {"class": "terminal", "reason": code, "details": detail}
    change = Change(
        work.message_id,
        seq,
        Status.DISPATCHING,
        Status.FAILED,
        trace_id,
        {"error": error, "lease": None},
    )
    return Decision(change)


def refused(
    work: Work, from_status: Status, trace_id: str | None, reason: str, details: str
) -> Change:
    """A message the tenant's rules forbid (recipient opted out, country blocked): `failed`
    from where it is, without a claim or a send."""
    error = {"class": "terminal", "reason": reason, "details": details}
    return Change(work.message_id, work.seq, from_status, Status.FAILED, trace_id, {"error": error})
