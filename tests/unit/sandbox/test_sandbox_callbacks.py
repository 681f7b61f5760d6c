from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from ccx.sandbox.callbacks import CallbackDispatcher, CallbackSettings, PlannedStatus, plan
from ccx.sandbox.envelope import StatusEvent
from ccx.sandbox.faults import CallbackDecision
from ccx.sandbox.receiver import CallbackReceiver

S = CallbackSettings(sent_delay_s=1.0, delivered_delay_s=2.0, read_delay_s=4.0)


def steps(decision: CallbackDecision) -> list[tuple[float, str, float]]:
    return [(p.send_after_s, p.status, p.happened_after_s) for p in plan(decision, S)]


def test_plan_happy_path() -> None:
    assert steps(CallbackDecision()) == [
        (1.0, "sent", 1.0),
        (3.0, "delivered", 3.0),
        (7.0, "read", 7.0),
    ]


def test_plan_faults() -> None:
    assert steps(CallbackDecision(drop=True)) == []
    assert steps(CallbackDecision(skip_delivered=True)) == [(1.0, "sent", 1.0), (7.0, "read", 7.0)]
    assert steps(CallbackDecision(reorder=True)) == [
        (1.0, "read", 7.0),
        (3.0, "delivered", 3.0),
        (7.0, "sent", 1.0),
    ]
    failed = plan(CallbackDecision(fail_code=131047, skip_delivered=True), S)
    assert [(p.status, p.error_code) for p in failed] == [("sent", None), ("failed", 131047)]


def test_plan_duplicates_are_separate_posts() -> None:
    dup = plan(CallbackDecision(duplicate=True), S)
    assert [p.status for p in dup] == ["sent", "sent", "delivered", "delivered", "read", "read"]
    assert [p.separate for p in dup] == [False, True] * 3
    assert isinstance(dup[0], PlannedStatus)


def test_settings_update_validates() -> None:
    assert CallbackSettings().updated({"url": "http://x", "max_attempts": "3"}).max_attempts == 3
    for bad, why in (
        ({"nope": 1}, "unknown"),
        ({"max_attempts": 0}, "attempts"),
        ({"sent_delay_s": -1}, ">= 0"),
        ({"concurrency": 0}, "concurrency"),
    ):
        with pytest.raises(ValueError, match=why):
            CallbackSettings().updated(bad)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    r = CallbackReceiver().start()
    yield r
    r.stop()


def event(wamid: str, status: str = "sent") -> StatusEvent:
    return StatusEvent(wamid, status, 1, "14085551234", "111", "1555", "9", "utility", "c", "ö")


async def wait_idle(d: CallbackDispatcher) -> None:
    for _ in range(500):
        if d.pending == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("dispatcher did not drain")


async def test_batches_signs_and_retries(receiver: CallbackReceiver) -> None:
    d = CallbackDispatcher(
        CallbackSettings(url=receiver.url, retry_base_s=0.02, max_attempts=3, batch_window_s=0.05),
        "secret",
    )
    await d.start()
    try:
        receiver.fail_next(2, 500)
        for i in range(3):
            d.schedule(event(f"w{i}"), 0.01)
        d.schedule(event("dup"), 0.01, separate=True)
        await wait_idle(d)
    finally:
        await d.stop()
    batched = [r for r in receiver.records if b"w0" in r.body]
    alone = [r for r in receiver.records if b"dup" in r.body]
    assert len(alone) >= 1
    # the batch of three was answered 500 or 200; every attempt carried identical bytes
    for r in receiver.records:
        mac = hmac.new(b"secret", r.body, hashlib.sha256).hexdigest()
        assert r.headers["x-hub-signature-256"] == "sha256=" + mac
        assert r.body.isascii()
    statuses = json.loads(batched[-1].body)["entry"][0]["changes"][0]["value"]["statuses"]
    assert [s["id"] for s in statuses] == ["w0", "w1", "w2"]
    assert len({r.body for r in batched}) == 1
    assert [r.answered for r in receiver.records].count(500) == 2
    assert d.stats.posted == 2
    assert d.stats.failures == 2
    assert d.stats.statuses_posted == 4


async def test_gives_up_after_max_attempts(receiver: CallbackReceiver) -> None:
    d = CallbackDispatcher(
        CallbackSettings(url=receiver.url, retry_base_s=0.01, max_attempts=3), "secret"
    )
    await d.start()
    try:
        receiver.fail_next(10, 503)
        d.schedule(event("w"), 0.0)
        await wait_idle(d)
    finally:
        await d.stop()
    assert len(receiver.records) == 3
    assert d.stats.given_up == 1


async def test_cancel_all_and_no_url() -> None:
    d = CallbackDispatcher(CallbackSettings(url=""), "s")
    await d.start()
    try:
        d.schedule(event("a"), 10.0)
        assert d.pending == 1
        d.cancel_all()
        assert d.pending == 0
        d.schedule(event("b"), 0.0)
        await wait_idle(d)
    finally:
        await d.stop()
    assert d.stats.skipped_no_url == 1
    assert d.stats.cancelled == 1
