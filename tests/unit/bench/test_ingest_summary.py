"""The pure parts of `ccx bench ingest`: stop rule, budget check, summary and ratio, options."""

from __future__ import annotations

import argparse

import pytest

from ccx.bench.ingest import (
    IngestOptions,
    add_arguments,
    max_rate_under,
    options,
    passes,
    render_table,
    should_stop,
    summarize,
    sweep,
)
from ccx.bench.oha import RateRow


def row(rate: int, p99: float | None, failed: int = 0, requests: int = 1000) -> RateRow:
    return RateRow(
        offered_rps=rate,
        duration_s=10.0,
        requests=requests,
        accepted=requests - failed,
        achieved_rps=requests / 10,
        accepted_rps=(requests - failed) / 10,
        status_codes={"202": requests - failed, **({"503": failed} if failed else {})},
        errors={"status 503": failed} if failed else {},
        latency_ms={"p50": 1.0, "p90": 2.0, "p99": p99, "p99.9": None, "max": None},
    )


def test_stop_rule_on_p99_errors_and_nothing_done() -> None:
    assert should_stop(row(500, 12.0), 200.0, 0.01) is None
    assert should_stop(row(500, 250.0), 200.0, 0.01) == "p99 250.0 ms > 200 ms"
    assert should_stop(row(500, None, failed=1000), 200.0, 0.01) is not None
    assert should_stop(row(500, 12.0, failed=11), 200.0, 0.01) == "errors 1.1% > 1.0%"
    assert should_stop(row(500, 12.0, failed=10), 200.0, 0.01) is None  # exactly 1% goes on
    assert should_stop(row(500, None, requests=0), 200.0, 0.01) == "no request completed"


def test_sweep_stops_at_the_first_bad_rate() -> None:
    p99s = {500: 5.0, 1000: 9.0, 2000: 300.0, 3000: 1.0}
    seen: list[int] = []

    def run(rate: int, duration_s: float) -> RateRow:
        assert duration_s == 2.0
        return row(rate, p99s[rate])

    rates = [500, 1000, 2000, 3000]
    rows, stopped = sweep(run, rates, 2.0, 200.0, 0.01, lambda r: seen.append(r.offered_rps))
    assert [r.offered_rps for r in rows] == [500, 1000, 2000] == seen
    assert stopped == "stopped after 2000/s: p99 300.0 ms > 200 ms"
    rows, stopped = sweep(lambda rate, d: row(rate, 1.0), [500, 1000], 2.0, 200.0, 0.01)
    assert len(rows) == 2
    assert stopped is None


def test_budget_needs_p99_under_40_and_no_failure() -> None:
    assert passes(row(500, 39.9))
    assert not passes(row(500, 40.0))
    assert not passes(row(500, 10.0, failed=1))
    assert not passes(row(500, None))
    rows = [row(500, 5.0), row(1000, 30.0), row(2000, 45.0), row(3000, 20.0, failed=3)]
    assert max_rate_under(rows) == 1000
    assert max_rate_under([]) == 0


def test_summary_gives_each_best_rate_and_the_ratio() -> None:
    results = {
        "ccx": {
            "rates": [row(r, p99).as_dict() for r, p99 in [(1000, 5.0), (3000, 20.0), (4000, 80.0)]]
        },
        "reference": {"rates": [row(500, 15.0).as_dict(), row(1000, 90.0).as_dict()]},
    }
    summary = summarize(results)
    assert summary["ccx"]["max_rate_p99_under_40ms"] == 3000
    assert summary["reference"]["max_rate_p99_under_40ms"] == 500
    assert summary["ratio_ccx_over_reference"] == 6.0
    assert summary["ccx"]["max_rate_p99_under_200ms"] == 4000
    assert summary["reference"]["max_rate_p99_under_200ms"] == 1000
    assert summary["ratio_ccx_over_reference_200ms"] == 4.0
    assert summary["meets_targets"] is True


def test_summary_without_a_passing_reference_or_with_a_setup_failure() -> None:
    results = {
        "ccx": {"rates": [], "setup_error": "sanity POST answered 404"},
        "reference": {"rates": [row(500, 90.0).as_dict()]},
    }
    summary = summarize(results)
    assert summary["ccx"]["max_rate_p99_under_40ms"] == 0
    assert summary["ccx"]["setup_error"] == "sanity POST answered 404"
    assert summary["ratio_ccx_over_reference"] is None
    assert summary["meets_targets"] is False
    only = summarize({"reference": {"rates": [row(500, 9.0).as_dict()]}})
    assert "ratio_ccx_over_reference" not in only


def test_options_from_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["--rates", "2000,500,500", "--duration", "3s", "--target", "reference"]
    opts = options(parser.parse_args(argv))
    assert isinstance(opts, IngestOptions)
    assert opts.rates == [500, 2000]
    assert opts.duration_s == 3.0
    assert opts.warmup_s == 3.0
    assert opts.targets == ["reference"]
    assert options(parser.parse_args([])).targets == ["ccx", "reference"]
    with pytest.raises(ValueError, match="at least 1"):
        options(parser.parse_args(["--workers", "0"]))


def test_table_shows_rows_setup_failures_and_summary() -> None:
    measured = row(500, 12.5, failed=2)
    measured.cpu_ms_per_message = {"server": 0.41, "ferretdb": 0.523}
    results = {
        "ccx": {"rates": [], "setup_error": "no /v1/messages"},
        "reference": {"rates": [measured.as_dict()], "stopped": None},
    }
    text = render_table({"results": results, "summary": summarize(results)})
    assert "setup failed: no /v1/messages" in text
    assert "12.5" in text
    assert "status 503: 2" in text
    assert "max_rate_p99_under_40ms" in text
    assert "CPU ms per message at 500/s: server 0.41, ferretdb 0.52" in text
