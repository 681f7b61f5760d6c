"""Waiting until the worker stops sending: the sandbox's ledger must stay still, with no
status callback pending, for a while."""

from __future__ import annotations

import pytest
from loadtest import sandbox
from loadtest.sandbox import Ledger, wait_quiet


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(sandbox, "monotonic", fake.monotonic)
    monkeypatch.setattr(sandbox, "sleep", fake.sleep)
    return fake


def ledgers(monkeypatch: pytest.MonkeyPatch, seen: list[Ledger | None]) -> None:
    answers = iter(seen)
    last: list[Ledger | None] = [None]

    def ledger(url: str) -> Ledger | None:
        last[0] = next(answers, last[0])
        return last[0]

    monkeypatch.setattr(sandbox, "ledger", ledger)


def test_quiet_once_the_ledger_stops_growing(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    # sends go on for 2 s (4 polls), then a callback is pending for one poll, then silence
    growing = [Ledger(n, 0, 0) for n in (10, 50, 90, 130, 170)]
    ledgers(monkeypatch, [*growing, Ledger(170, 0, 3), Ledger(170, 0, 0)])
    waited = wait_quiet("http://sandbox", still_s=2.0)
    assert waited == pytest.approx(2.5 + 2.0, abs=0.6)


def test_gives_up_after_the_timeout(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    ledgers(monkeypatch, [Ledger(n, 0, 0) for n in range(1000)])
    assert wait_quiet("http://sandbox", timeout_s=10.0) == pytest.approx(10.0, abs=0.6)


def test_no_sandbox_no_wait(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    ledgers(monkeypatch, [None])
    assert wait_quiet("http://sandbox") is None
    assert clock.now == 0.0


def test_ledger_is_none_when_nothing_answers() -> None:
    assert sandbox.ledger("http://127.0.0.1:9") is None  # the discard port
