"""`ccx bench pipeline`: the figures made from what the load and the receiver recorded."""

from __future__ import annotations

import argparse

import orjson
import pytest

from ccx.bench import pipeline
from ccx.bench.pipeline import Ledger, Offer


def _sent_hook(message_id: str, at: str) -> dict[str, object]:
    return {"type": "message.sent", "timestamp": at, "data": {"message_id": message_id}}


def _ledger() -> Ledger:
    ledger = Ledger()
    # due at 1000.0; sent recorded 200 ms later, its webhook 300 ms later
    ledger.record(_sent_hook("m1", "1970-01-01T00:16:40.200Z"), 1000.3)
    # a redelivery of the same webhook keeps the first arrival
    ledger.record(_sent_hook("m1", "1970-01-01T00:16:40.200Z"), 1005.0)
    ledger.record({"type": "message.read", "data": {"message_id": "m1"}}, 1001.5)
    return ledger


def test_the_ledger_keeps_the_first_sent_webhook_and_counts_every_arrival() -> None:
    ledger = _ledger()
    assert ledger.sent_at == {"m1": pytest.approx(1000.2)}
    assert ledger.hooked_at == {"m1": 1000.3}
    assert ledger.arrivals == [1000.3, 1005.0, 1001.5]


def test_a_step_measures_accept_from_the_due_time_and_the_rest_from_the_202() -> None:
    offers = [
        Offer(due=1000.0, accept_ms=12.0, message_id="m1", status=202),
        Offer(due=1000.1, accept_ms=30.0, message_id="m2", status=202),  # no webhook yet
        Offer(due=1000.2, accept_ms=5.0, message_id=None, status=503),
    ]
    step = pipeline.step_report(10, 1.0, 4.0, offers, _ledger())
    assert (step["offered"], step["accepted"], step["sent"], step["webhooks"]) == (3, 2, 1, 1)
    assert step["errors"] == 1
    assert step["start_s"] == 4.0
    assert step["latency_ms"]["accept"]["max"] == 30.0
    assert step["latency_ms"]["sent"]["p50"] == pytest.approx(188.0, abs=0.2)
    assert step["latency_ms"]["webhook"]["p50"] == pytest.approx(288.0, abs=0.2)
    assert step["latency_ms"]["end_to_end"]["p50"] == pytest.approx(300.0, abs=0.2)
    assert step["throughput"]["accepted_per_s"] == 2.0


def test_the_timeline_counts_per_second() -> None:
    offers = [Offer(due=1000.0, accept_ms=1500.0, message_id="m1", status=202)]
    rows = pipeline.timeline(1000.0, offers, _ledger(), until=1005.5)
    assert [r["t"] for r in rows] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [r["accepted"] for r in rows] == [0, 1, 0, 0, 0, 0]
    assert [r["sent"] for r in rows] == [1, 0, 0, 0, 0, 0]
    assert [r["webhooks"] for r in rows] == [1, 1, 0, 0, 0, 1]


def _step(rate: int, *, errors: int = 0, missing: int = 0, p99: float = 100.0) -> dict[str, object]:
    lat = {"p50": p99 / 2, "p90": p99, "p99": p99, "max": p99}
    return {
        "rate": rate,
        "offered": 100,
        "accepted": 100 - errors,
        "webhooks": 100 - errors - missing,
        "errors": errors,
        "latency_ms": {"accept": lat, "sent": lat, "webhook": lat, "end_to_end": lat},
    }


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (_step(10), None),
        (_step(10, errors=1), None),  # 1 % is tolerated
        (_step(10, errors=2), "2 of 100 requests refused or failed"),
        (_step(10, missing=3), "3 messages without their webhook"),
        (_step(10, p99=6000.0), "webhook p99 6000 ms > 5000 ms"),
    ],
)
def test_the_ramp_stops_on_errors_missing_webhooks_or_a_slow_p99(
    step: dict[str, object], reason: str | None
) -> None:
    assert pipeline.stop_reason(step, 5000.0) == reason


def test_the_summary_is_the_highest_rate_kept_up_with_against_the_baseline() -> None:
    steps = [_step(10, p99=300.0), _step(20, p99=800.0), _step(40, p99=9000.0)]
    baseline = {"latency_ms": {"p50": 200.0}}
    summary = pipeline.summarize(steps, baseline, 5000.0)
    assert summary["sustained_rate"] == 20
    assert summary["webhook_p50_ms"] == 400.0
    assert summary["gateway_adds_p50_ms"] == 200.0
    assert summary["webhook_to_direct_p50"] == 2.0
    assert pipeline.summarize([_step(10, missing=5)], baseline, 5000.0) == {"sustained_rate": None}


def _args(**overrides: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    pipeline.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_options_parse_the_rates() -> None:
    opts = pipeline.options(_args(rates="5, 10,20", duration=2.0, warmup=0.0))
    assert opts.rates == [5, 10, 20]
    assert (opts.duration_s, opts.warmup_s) == (2.0, 0.0)
    for bad in ("", "ten", "10,-5"):
        with pytest.raises(SystemExit):
            pipeline.options(_args(rates=bad))


def test_text_messages_go_to_distinct_recipients() -> None:
    bodies = [orjson.loads(pipeline.text_message(i)) for i in range(3)]
    assert len({b["to"] for b in bodies}) == 3
    assert all(b["type"] == "text" for b in bodies)


def test_the_table_shows_each_step_and_the_verdict() -> None:
    report = {
        "steps": [_step(10, p99=300.0)],
        "baseline": {"rate": 10, "latency_ms": {"p50": 180.0, "p99": 250.0}},
        "summary": {"sustained_rate": 10, "gateway_adds_p50_ms": -30.0},
        "stopped": None,
    }
    table = pipeline.render_table(report)
    assert "150/300 ms" in table
    assert "sustained: 10/s" in table
    assert "p50 180.0 ms" in table
