"""What an attempt's outcome does to a message: retry steps, caps, terminal and ambiguous ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ccx.dispatch.decisions import (
    DELAY_STEPS,
    Decision,
    decide,
    defer,
    error_of,
    expire,
    fail,
    refused,
    retry_step,
    step_for,
)
from ccx.dispatch.envelopes import Work
from ccx.dispatch.outcomes import Kind, Outcome
from ccx.ids import new_message_id
from ccx.queue.names import RECONCILE_STEP, RESEND_STEP, RETRY_DELAYS, Tier
from ccx.queue.publisher import Dispatch
from ccx.store.messages import Status

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
TRACE = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
TRACE_ID = "a" * 32
#: The dispatching event a claim at seq 2 (queued) produced: seq 3.
CLAIM_SEQ = 3


def work(attempt: int = 0, seq: int = 2) -> Work:
    return Work(new_message_id(), "acme", Tier.HIGH, attempt, seq, TRACE)


def retry() -> Outcome:
    return Outcome(Kind.RETRY, "transient")


def retried(decision: Decision) -> Dispatch:
    assert decision.retry is not None
    return decision.retry


# -- step_for / retry_step -------------------------------------------------------------------


def test_retry_delays_double_from_two_seconds() -> None:
    assert list(RETRY_DELAYS.values())[:5] == [2, 4, 8, 16, 32]
    assert DELAY_STEPS[0] == ("2s", 2)


@pytest.mark.parametrize(
    ("attempt", "step"),
    [(1, "2s"), (2, "4s"), (3, "8s"), (4, "16s"), (5, "32s"), (6, "1m"), (7, "5m"), (8, "30m")],
)
def test_retry_step_of_attempt_n_is_the_nth_delay(attempt: int, step: str) -> None:
    assert retry_step(attempt) == step


def test_retry_step_past_the_schedule_stays_on_the_longest() -> None:
    assert retry_step(9) == "30m"
    assert retry_step(100) == "30m"


@pytest.mark.parametrize(
    ("seconds", "step"),
    [(0, "2s"), (1.5, "2s"), (2, "2s"), (2.01, "4s"), (5, "8s"), (59, "1m"), (61, "5m")],
)
def test_step_for_picks_the_shortest_step_at_least_that_long(seconds: float, step: str) -> None:
    assert step_for(seconds) == step


def test_step_for_longer_than_every_step_is_the_longest() -> None:
    assert step_for(1801) == "30m"
    assert step_for(10**9) == "30m"


# -- decide: retries ---------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
def test_a_retryable_failure_waits_the_step_of_its_attempt(attempt: int) -> None:
    decision = decide(work(), CLAIM_SEQ, attempt, retry(), NOW, TRACE_ID)
    step = list(RETRY_DELAYS)[attempt - 1]
    assert decision.delay == step
    assert decision.change.to_status is Status.RETRYING
    assert decision.change.fields["next_attempt_at"] == NOW + timedelta(seconds=RETRY_DELAYS[step])


def test_a_retry_moves_dispatching_to_retrying_at_the_claim_seq() -> None:
    w = work()
    decision = decide(w, CLAIM_SEQ, 1, retry(), NOW, TRACE_ID)
    change = decision.change
    assert (change.message_id, change.seq) == (w.message_id, CLAIM_SEQ)
    assert (change.from_status, change.to_status) == (Status.DISPATCHING, Status.RETRYING)
    assert change.trace_id == TRACE_ID
    assert change.fields["attempt"] == 1
    assert change.fields["lease"] is None
    assert change.fields["error"] == {"class": "retry", "reason": "transient"}


def test_the_retry_dispatch_comes_back_at_the_next_seq_with_the_failed_attempt() -> None:
    w = work(attempt=2, seq=5)
    decision = decide(w, 6, 3, retry(), NOW, TRACE_ID)
    again = retried(decision)
    assert again.seq == decision.change.next_seq == 7
    assert again.attempt == 3
    assert again == Dispatch(w.message_id, w.tenant, w.priority, w.traceparent, 3, 7)


@pytest.mark.parametrize("max_attempts", [1, 3, 7])
def test_the_last_attempt_goes_to_the_reconcile_queue(max_attempts: int) -> None:
    w = work(attempt=max_attempts - 1)
    decision = decide(w, CLAIM_SEQ, max_attempts, retry(), NOW, TRACE_ID, max_attempts, 0.0, 600)
    assert decision.change.to_status is Status.RECONCILING
    assert decision.delay == RECONCILE_STEP
    assert retried(decision) == w.again(max_attempts, CLAIM_SEQ + 1)
    assert decision.change.fields == {
        "attempt": max_attempts,
        "next_attempt_at": NOW + timedelta(seconds=600),
        "reconciling_since": NOW,
        "error": {"class": "retry", "reason": "transient"},
        "lease": None,
    }


def test_a_further_reconcile_attempt_keeps_when_reconciliation_began() -> None:
    began = NOW - timedelta(days=2)
    decision = decide(work(8), CLAIM_SEQ, 9, retry(), NOW, TRACE_ID, 7, reconciling_since=began)
    assert decision.change.to_status is Status.RECONCILING
    assert decision.change.fields["reconciling_since"] == began
    assert decision.change.fields["next_attempt_at"] == NOW + timedelta(hours=6)


def test_the_attempt_before_the_last_is_still_retried() -> None:
    decision = decide(work(), CLAIM_SEQ, 6, retry(), NOW, TRACE_ID, max_attempts=7)
    assert decision.change.to_status is Status.RETRYING
    assert decision.delay == "1m"


def test_attempts_past_the_cap_also_reconcile() -> None:
    decision = decide(work(), CLAIM_SEQ, 9, retry(), NOW, TRACE_ID, max_attempts=7)
    assert decision.change.to_status is Status.RECONCILING
    assert decision.delay == RECONCILE_STEP


def test_throttle_at_the_cap_reconciles_too() -> None:
    outcome = Outcome(Kind.THROTTLE, "meta_error", code=130429, retry_after_s=1.0)
    decision = decide(work(), CLAIM_SEQ, 7, outcome, NOW, TRACE_ID, max_attempts=7)
    assert decision.change.to_status is Status.RECONCILING
    assert decision.delay == RECONCILE_STEP


def test_expire_ends_reconciliation_without_a_send() -> None:
    w = work(9, seq=20)
    change = expire(w, 20, TRACE_ID, NOW)
    assert (change.seq, change.from_status, change.to_status) == (
        20,
        Status.RECONCILING,
        Status.EXPIRED,
    )
    assert change.fields == {"lease": None, "next_attempt_at": None}
    assert change.event_fields == {"reconciling_since": NOW}


def test_throttle_retry_after_longer_than_the_step_picks_the_shortest_step_covering_it() -> None:
    outcome = Outcome(Kind.THROTTLE, "http_429", http_status=429, retry_after_s=5.0)
    decision = decide(work(), CLAIM_SEQ, 1, outcome, NOW, TRACE_ID)
    assert decision.delay == "8s"
    assert decision.change.fields["next_attempt_at"] == NOW + timedelta(seconds=8)
    assert retried(decision).attempt == 1


def test_throttle_retry_after_shorter_than_the_step_keeps_the_step() -> None:
    outcome = Outcome(Kind.THROTTLE, "http_429", http_status=429, retry_after_s=5.0)
    decision = decide(work(), CLAIM_SEQ, 4, outcome, NOW, TRACE_ID)
    assert decision.delay == "16s"


def test_throttle_retry_after_equal_to_a_step_uses_that_step() -> None:
    outcome = Outcome(Kind.THROTTLE, "http_429", http_status=429, retry_after_s=32.0)
    assert decide(work(), CLAIM_SEQ, 1, outcome, NOW, TRACE_ID).delay == "32s"


def test_throttle_without_retry_after_uses_the_schedule() -> None:
    outcome = Outcome(Kind.THROTTLE, "meta_error", code=130429)
    decision = decide(work(), CLAIM_SEQ, 2, outcome, NOW, TRACE_ID)
    assert decision.delay == "4s"
    assert decision.change.fields["error"] == {
        "class": "throttle",
        "reason": "meta_error",
        "code": 130429,
    }


def test_hold_waits_at_least_the_minimum_delay() -> None:
    outcome = Outcome(Kind.HOLD, "meta_error", code=190)
    decision = decide(work(), CLAIM_SEQ, 1, outcome, NOW, TRACE_ID, min_delay_s=300.0)
    assert decision.delay == "5m"
    assert decision.change.to_status is Status.RETRYING
    assert decision.change.fields["next_attempt_at"] == NOW + timedelta(minutes=5)


def test_min_delay_between_steps_rounds_up() -> None:
    decision = decide(work(), CLAIM_SEQ, 1, retry(), NOW, TRACE_ID, min_delay_s=61.0)
    assert decision.delay == "5m"


def test_the_larger_of_min_delay_and_retry_after_wins() -> None:
    outcome = Outcome(Kind.THROTTLE, "http_429", retry_after_s=100.0)
    assert decide(work(), CLAIM_SEQ, 1, outcome, NOW, TRACE_ID, min_delay_s=10.0).delay == "5m"
    outcome = Outcome(Kind.THROTTLE, "http_429", retry_after_s=3.0)
    assert decide(work(), CLAIM_SEQ, 1, outcome, NOW, TRACE_ID, min_delay_s=10.0).delay == "16s"


def test_min_delay_shorter_than_the_step_keeps_the_step() -> None:
    decision = decide(work(), CLAIM_SEQ, 5, retry(), NOW, TRACE_ID, min_delay_s=3.0)
    assert decision.delay == "32s"


# -- decide: final states ----------------------------------------------------------------------


def test_sent_keeps_the_wamid_and_is_not_retried() -> None:
    outcome = Outcome(Kind.SENT, "accepted", http_status=200, wamid="wamid.HBgL123")
    decision = decide(work(), CLAIM_SEQ, 1, outcome, NOW, TRACE_ID)
    assert decision.change.to_status is Status.SENT
    assert decision.change.from_status is Status.DISPATCHING
    assert decision.change.fields == {"wamid": "wamid.HBgL123", "lease": None}
    assert decision.retry is None
    assert decision.delay is None


def test_sent_on_the_last_attempt_is_still_sent() -> None:
    outcome = Outcome(Kind.SENT, "accepted", wamid="wamid.X")
    decision = decide(work(), CLAIM_SEQ, 7, outcome, NOW, TRACE_ID, max_attempts=7)
    assert decision.change.to_status is Status.SENT


def test_terminal_fails_the_message() -> None:
    outcome = Outcome(
        Kind.TERMINAL,
        "meta_error",
        http_status=400,
        code=131026,
        title="Message undeliverable",
        details="not a WhatsApp user",
        fbtrace_id="Atrace",
    )
    decision = decide(work(), CLAIM_SEQ, 1, outcome, NOW, TRACE_ID)
    assert decision.change.to_status is Status.FAILED
    assert decision.retry is None
    assert decision.change.fields == {
        "error": {
            "class": "terminal",
            "reason": "meta_error",
            "code": 131026,
            "title": "Message undeliverable",
            "details": "not a WhatsApp user",
            "http_status": 400,
            "fbtrace_id": "Atrace",
        },
        "lease": None,
    }


@pytest.mark.parametrize("attempt", [1, 6, 7, 8])
def test_ambiguous_is_undetermined_and_never_retried(attempt: int) -> None:
    outcome = Outcome(Kind.AMBIGUOUS, "read_timeout", retry_after_s=1.0)
    decision = decide(work(), CLAIM_SEQ, attempt, outcome, NOW, TRACE_ID, min_delay_s=5.0)
    assert decision.change.to_status is Status.UNDETERMINED
    assert decision.retry is None
    assert decision.delay is None
    assert decision.change.fields["error"] == {"class": "ambiguous", "reason": "read_timeout"}
    assert decision.change.fields["lease"] is None


def test_ambiguous_with_resend_opted_in_comes_back_after_the_window() -> None:
    w = work(attempt=0)
    outcome = Outcome(Kind.AMBIGUOUS, "read_timeout")
    decision = decide(w, CLAIM_SEQ, 1, outcome, NOW, TRACE_ID, resend=True)
    assert decision.change.to_status is Status.UNDETERMINED
    assert decision.delay == RESEND_STEP
    assert retried(decision) == w.again(1, CLAIM_SEQ + 1)  # claimed from undetermined
    assert decision.change.fields["resend_scheduled_at"] == NOW


def test_resend_does_not_change_sure_outcomes() -> None:
    sent = Outcome(Kind.SENT, "accepted", wamid="wamid.X")
    assert decide(work(), CLAIM_SEQ, 1, sent, NOW, TRACE_ID, resend=True).retry is None
    terminal = Outcome(Kind.TERMINAL, "meta_error", code=131026)
    assert decide(work(), CLAIM_SEQ, 1, terminal, NOW, TRACE_ID, resend=True).retry is None


# -- defer -------------------------------------------------------------------------------------


def test_defer_does_not_count_the_attempt() -> None:
    w = work(attempt=2, seq=4)
    decision = defer(w, 5, NOW, TRACE_ID, 10.0, "circuit_open")
    assert decision.change.fields["attempt"] == 2
    again = retried(decision)
    assert again.attempt == 2
    assert again.seq == decision.change.next_seq == 6


def test_defer_waits_the_shortest_step_covering_the_wait() -> None:
    decision = defer(work(attempt=1), CLAIM_SEQ, NOW, TRACE_ID, 10.0, "paused")
    assert decision.delay == "16s"
    assert decision.change.fields["next_attempt_at"] == NOW + timedelta(seconds=16)


def test_defer_ignores_the_retry_schedule_of_the_attempt() -> None:
    # attempt 5 would wait 32s after a failure; a defer of 1 s waits the shortest step
    assert defer(work(attempt=5), CLAIM_SEQ, NOW, TRACE_ID, 1.0, "paused").delay == "2s"


def test_defer_records_a_retrying_change_with_only_the_reason() -> None:
    w = work()
    decision = defer(w, CLAIM_SEQ, NOW, None, 0.0, "paused")
    change = decision.change
    assert (change.message_id, change.seq) == (w.message_id, CLAIM_SEQ)
    assert (change.from_status, change.to_status) == (Status.DISPATCHING, Status.RETRYING)
    assert change.trace_id is None
    assert change.fields["error"] == {"reason": "paused"}
    assert change.fields["lease"] is None


# -- fail --------------------------------------------------------------------------------------


def test_fail_is_a_terminal_failure_without_a_retry() -> None:
    w = work()
    decision = fail(w, CLAIM_SEQ, TRACE_ID, "no_sender", "no sender x")
    change = decision.change
    assert (change.message_id, change.seq) == (w.message_id, CLAIM_SEQ)
    assert (change.from_status, change.to_status) == (Status.DISPATCHING, Status.FAILED)
    assert change.fields["error"] == {
        "class": "terminal",
        "reason": "no_sender",
        "details": "no sender x",
    }
    assert decision.retry is None
    assert decision.delay is None


# -- error_of ----------------------------------------------------------------------------------


def test_error_of_a_bare_outcome_has_only_class_and_reason() -> None:
    assert error_of(Outcome(Kind.RETRY, "connect_refused")) == {
        "class": "retry",
        "reason": "connect_refused",
    }


def test_error_of_drops_empty_title_and_details_but_keeps_zero_codes() -> None:
    error = error_of(Outcome(Kind.HOLD, "meta_error", code=0, subcode=0, title="", details=""))
    assert error == {"class": "hold", "reason": "meta_error", "code": 0, "subcode": 0}


def test_error_of_never_holds_none() -> None:
    full = Outcome(
        Kind.THROTTLE,
        "meta_error",
        http_status=429,
        code=130429,
        subcode=2494055,
        title="Rate limit hit",
        details="slow down",
        retry_after_s=3.0,
        wamid=None,
        fbtrace_id="Atrace",
    )
    for outcome in (full, Outcome(Kind.AMBIGUOUS, "reset")):
        assert None not in error_of(outcome).values()
    assert set(error_of(full)) == {
        "class",
        "reason",
        "code",
        "subcode",
        "title",
        "details",
        "http_status",
        "fbtrace_id",
    }


def test_a_suppressed_message_fails_from_where_it_is_without_a_claim() -> None:
    w = work(seq=5)
    change = refused(w, Status.RETRYING, TRACE_ID, "suppressed", "opted out")
    assert (change.seq, change.from_status, change.to_status) == (
        5,
        Status.RETRYING,
        Status.FAILED,
    )
    assert change.fields["error"]["reason"] == "suppressed"
