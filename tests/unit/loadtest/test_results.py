"""From what the locust process saved to the report: percentiles, rates, totals, failures,
messages, and the table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from loadtest.results import percentile, render_table, shape, window_s

T0 = 1_700_000_000.0


def entry(
    name: str,
    times: dict[int, int],
    failures: int = 0,
    method: str = "POST",
    start: float = T0,
    last: float = T0 + 10,
) -> dict[str, Any]:
    """A stats entry as locust serialises it (StatsEntry.serialize)."""
    requests = sum(times.values())
    return {
        "name": name,
        "method": method,
        "last_request_timestamp": last if requests else None,
        "start_time": start,
        "num_requests": requests,
        "num_none_requests": 0,
        "num_failures": failures,
        "total_response_time": sum(ms * n for ms, n in times.items()),
        "max_response_time": max(times, default=0) + 0.4,
        "min_response_time": min(times, default=None),
        "total_content_length": 0,
        "response_times": times,
        "num_reqs_per_sec": {},
        "num_fail_per_sec": {},
    }


def error(reason: str, occurrences: int) -> dict[str, Any]:
    """A failure as locust serialises it (StatsError.serialize)."""
    return {
        "method": "POST",
        "name": "/v1/messages (otp)",
        "error": f"CatchResponseError({reason!r})",
        "occurrences": occurrences,
    }


def saved() -> dict[str, Any]:
    """Through JSON, as the runner reads it: the histogram keys become strings."""
    data = {
        "exit_code": 1,
        "stats": [
            entry("/v1/messages (otp)", {10: 50, 20: 40, 100: 9, 500: 1}, failures=2),
            entry("/v1/messages/{id}", {5: 100}, method="GET", start=T0 + 2),
            entry("accepted → read", {1500: 10, 1600: 10}, method="FLOW", last=T0 + 30),
            entry("never used", {}),
        ],
        "errors": [
            error("expected 202, got 503: Service Unavailable", 1),
            error("expected 202, got no answer: ConnectionRefusedError", 2),
        ],
        "tally": {"accepted": {"t2": 40, "t1": 58}, "final_states": {"read": 20}},
    }
    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


def test_percentiles_by_nearest_rank() -> None:
    times = {10: 50, 20: 40, 100: 9, 500: 1}
    assert percentile(times, 0.5) == 10
    assert percentile(times, 0.51) == 20
    assert percentile(times, 0.9) == 20
    assert percentile(times, 0.99) == 100
    assert percentile(times, 1.0) == 500
    assert percentile({}, 0.5) is None
    assert percentile({7: 1}, 0.01) == 7


def test_window_runs_from_first_start_to_last_request() -> None:
    assert window_s([entry("a", {1: 1}), entry("b", {1: 1}, start=T0 - 2, last=T0 + 4)]) == 12
    # the test's start counts: an entry is created at its first answer
    assert window_s([entry("a", {1: 1}, start=T0 + 3)], started_at=T0) == 10
    assert window_s([]) == 0.0
    assert window_s([entry("a", {})]) == 0.0


def test_rows_per_request_name_and_totals_without_flows() -> None:
    report = shape(saved(), stored={"t1": 58, "t2": 41})
    rows = {(r["method"], r["name"]): r for r in report["requests"]}
    assert set(rows) == {
        ("POST", "/v1/messages (otp)"),
        ("GET", "/v1/messages/{id}"),
        ("FLOW", "accepted → read"),
    }
    assert report["requests"][-1]["method"] == "FLOW"  # flows after the HTTP rows
    otp = rows["POST", "/v1/messages (otp)"]
    assert otp["requests"] == 100
    assert otp["failures"] == 2
    assert (otp["p50_ms"], otp["p90_ms"], otp["p99_ms"], otp["max_ms"]) == (10, 20, 100, 500.4)
    assert otp["rps"] == 10.0  # over the whole 10 s window
    assert otp["avg_ms"] == pytest.approx((500 + 800 + 900 + 500) / 100, abs=0.1)
    assert report["measured_s"] == 10.0  # the FLOW entry's late end does not count
    totals = report["totals"]
    assert totals["requests"] == 200
    assert totals["failures"] == 2
    assert totals["rps"] == 20.0
    assert totals["p50_ms"] == 5
    assert totals["p99_ms"] == 100
    assert rows["FLOW", "accepted → read"]["p50_ms"] == 1500


def test_failures_by_reason_most_frequent_first() -> None:
    failures = shape(saved())["failures"]
    assert [f["occurrences"] for f in failures] == [2, 1]
    assert "no answer" in failures[0]["error"]
    assert failures[0]["name"] == "/v1/messages (otp)"


def test_messages_accepted_stored_and_final() -> None:
    messages = shape(saved(), stored={"t2": 41, "t1": 58})["messages"]
    assert messages["accepted"] == 98
    assert messages["accepted_per_s"] == 9.8
    assert list(messages["accepted_by_tenant"]) == ["t1", "t2"]
    assert messages["stored"] == 99
    assert messages["final_states"] == {"read": 20}
    assert "stored" not in shape(saved())["messages"]


def test_rates_count_from_the_start_of_the_test() -> None:
    report = shape({**saved(), "started_at": T0 - 10})
    assert report["measured_s"] == 20.0
    assert report["totals"]["rps"] == 10.0


def test_a_run_without_requests_has_no_rates() -> None:
    report = shape({"stats": [entry("never used", {})], "errors": [], "tally": {}})
    assert report["requests"] == []
    assert report["totals"]["requests"] == 0
    assert report["totals"]["rps"] is None
    assert report["totals"]["p99_ms"] is None
    assert report["messages"]["accepted"] == 0
    assert "total (HTTP)" in render_table(report)


def test_the_table_has_a_line_per_name_the_totals_and_the_failures() -> None:
    table = render_table(shape(saved(), stored={"t1": 98}))
    lines = table.splitlines()
    assert lines[0].split() == ["request", "reqs", "fail", "rps", "p50", "p90", "p99", "max"]
    otp = next(line for line in lines if "(otp)" in line)
    assert otp.split()[-7:] == ["100", "2", "10", "10", "20", "100", "500.4"]
    assert any(line.startswith("total (HTTP)") and " 200 " in line for line in lines)
    assert "messages accepted: 98 (9.8/s), stored: 98, final: read 20" in table
    assert "failed 2x POST /v1/messages (otp): CatchResponseError" in table


def test_percentiles_never_pass_the_max() -> None:
    # locust files 117.3 ms under 120 in its histogram
    row = shape({"stats": [{**entry("a", {120: 1}), "max_response_time": 117.3}]})["totals"]
    assert row["p99_ms"] == row["max_ms"] == 117.3
