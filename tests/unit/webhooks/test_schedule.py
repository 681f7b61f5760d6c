"""Pure logic of webhook delivery: backoff, wait queues, Retry-After, payload shape."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ccx.queue.hooks import jittered, wait_step
from ccx.queue.names import HOOKS_WAIT_STEPS
from ccx.store.messages import Message
from ccx.store.webhooks import EVENT_TYPES, delivery_id, event_type
from ccx.webhooks.payload import event_body, event_id
from ccx.webhooks.post import MAX_RETRY_AFTER_S, retry_after
from ccx.webhooks.worker import BACKOFF_S, backoff


def test_backoff_grows_then_stays_at_the_longest_wait() -> None:
    assert [backoff(n) for n in range(1, 4)] == [5, 30, 120]
    assert backoff(len(BACKOFF_S)) == backoff(len(BACKOFF_S) + 5) == 28800
    assert list(BACKOFF_S) == sorted(BACKOFF_S)
    # 24 h of retries take about ten attempts
    elapsed, attempts = 0.0, 0
    while elapsed < 86400:
        attempts += 1
        elapsed += backoff(attempts)
    assert 9 <= attempts <= 12


@pytest.mark.parametrize(
    ("delay", "step"), [(0, "5s"), (5, "5s"), (6, "30s"), (20, "30s"), (3600, "1h"), (10**6, "8h")]
)
def test_a_delay_goes_to_the_shortest_wait_queue_that_covers_it(delay: float, step: str) -> None:
    assert wait_step(delay) == step


def test_jitter_stays_within_the_queue_ttl() -> None:
    rng = random.Random(7)
    for step, seconds in HOOKS_WAIT_STEPS.items():
        waits = [jittered(step, rng) for _ in range(200)]
        assert all(0.8 * seconds <= w <= seconds for w in waits)
        assert max(waits) - min(waits) > 0.1 * seconds  # spread, not constant


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120
    assert retry_after(None, now) is None
    assert retry_after("soon", now) is None
    assert retry_after("Sun, 29 Nov 2026 12:01:00 GMT", now) == 60
    assert retry_after("Sun, 29 Nov 2026 11:00:00 GMT", now) == 0
    assert retry_after("99999999", now) == MAX_RETRY_AFTER_S


def test_event_types_are_the_states_clients_hear_about() -> None:
    assert event_type("sent") == "message.sent"
    assert event_type("read") == "message.read"
    for internal in ("accepted", "queued", "dispatching", "retrying"):
        assert event_type(internal) is None
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES)


def test_the_payload_follows_the_contract() -> None:
    message = Message(
        id="msg_01J9Z8Q4X3V7K2M5N6P8R0S1T2",
        to="+5511999998888",
        type="text",
        created_at=datetime(2026, 11, 29, tzinfo=UTC),
        metadata={"order": 42},
        wamid="wamid.NOW",
        extra={"pricing": {"billable": True, "category": "utility"}},
    )
    at = datetime(2026, 11, 29, 10, 0, 0, 123000, tzinfo=UTC)
    event = {"seq": 5, "from": "sent", "to": "delivered", "at": at, "wamid": "wamid.THEN"}
    body = orjson.loads(event_body(message, event, "message.delivered"))
    assert body == {
        "type": "message.delivered",
        "id": "evt_01J9Z8Q4X3V7K2M5N6P8R0S1T2_5",
        "timestamp": "2026-11-29T10:00:00.123Z",
        "data": {
            "message_id": message.id,
            "status": "delivered",
            "previous_status": "sent",
            "wamid": "wamid.THEN",
            "error": None,
            "pricing": {"billable": True, "category": "utility"},
            "metadata": {"order": 42},
            "seq": 5,
            "to": "+5511999998888",
            "attempt": 0,
        },
    }
    assert event_id(message.id, 5) == body["id"]
    naive = {**event, "at": at.replace(tzinfo=None) + timedelta(0)}
    assert orjson.loads(event_body(message, naive, "message.delivered"))["timestamp"] == (
        "2026-11-29T10:00:00.123Z"
    )


def test_delivery_ids_are_unique_per_message_event_and_endpoint() -> None:
    a = delivery_id("msg_01J9Z8Q4X3V7K2M5N6P8R0S1T2", 4, "ep_01J9Z8Q4X3V7K2M5N6P8R0S1T3")
    assert a == "whd_01J9Z8Q4X3V7K2M5N6P8R0S1T2_4_01J9Z8Q4X3V7K2M5N6P8R0S1T3"
    assert a != delivery_id("msg_01J9Z8Q4X3V7K2M5N6P8R0S1T2", 5, "ep_01J9Z8Q4X3V7K2M5N6P8R0S1T3")
