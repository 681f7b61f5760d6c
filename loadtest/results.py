"""From what the locust process saved (its stats entries, failures and tally) to the
report: per request name and in total the requests, failures, throughput and latency
percentiles, the failures by reason, and the messages accepted. Pure functions."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

PERCENTILES = {"p50_ms": 0.50, "p90_ms": 0.90, "p99_ms": 0.99}
#: Pseudo-requests the scenarios record (a message from accepted to final, …): reported
#: beside the HTTP requests, never counted in their totals.
FLOW = "FLOW"


def percentile(histogram: Mapping[int, int], fraction: float) -> int | None:
    """The nearest-rank percentile of locust's response-time histogram ({ms: count}, the ms
    rounded by locust to 2 significant digits above 100); None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def histogram(entry: Mapping[str, Any]) -> Counter[int]:
    """An entry's response times with int keys (JSON made them strings)."""
    return Counter({int(float(k)): int(v) for k, v in entry.get("response_times", {}).items()})


def window_s(entries: Iterable[Mapping[str, Any]], started_at: float | None = None) -> float:
    """Seconds from the start of the test (else the first entry's creation, which is its
    first answer) to the last answer of any entry."""
    starts, ends = [], []
    for entry in entries:
        starts.append(entry["start_time"])
        if entry.get("last_request_timestamp"):
            ends.append(entry["last_request_timestamp"])
    if started_at is not None:
        starts.append(started_at)
    if not starts or not ends:
        return 0.0
    return max(0.0, float(max(ends) - min(starts)))


def figures(entries: list[Mapping[str, Any]], window: float) -> dict[str, Any]:
    """Requests, failures, rate and latency of one or several entries together."""
    requests = sum(e["num_requests"] for e in entries)
    merged: Counter[int] = Counter()
    for entry in entries:
        merged.update(histogram(entry))
    timed = requests - sum(e.get("num_none_requests", 0) for e in entries)
    total_ms = sum(e["total_response_time"] for e in entries)
    row: dict[str, Any] = {
        "requests": requests,
        "failures": sum(e["num_failures"] for e in entries),
        "rps": round(requests / window, 2) if window > 0 else None,
        "avg_ms": round(total_ms / timed, 1) if timed > 0 else None,
    }
    slowest = round(max((e["max_response_time"] for e in entries), default=0), 1)
    for key, fraction in PERCENTILES.items():
        value = percentile(merged, fraction)
        # locust rounds a histogram's times above 100 ms (117 → 120): never past the max
        row[key] = None if value is None else min(value, slowest)
    row["max_ms"] = slowest
    return row


def request_rows(entries: list[Mapping[str, Any]], window: float) -> list[dict[str, Any]]:
    rows = [{"method": e["method"], "name": e["name"], **figures([e], window)} for e in entries]
    return sorted(rows, key=lambda r: (r["method"] == FLOW, r["name"], r["method"]))


def failure_rows(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct failure with its count, most frequent first."""
    rows = [
        {
            "method": e["method"],
            "name": e["name"],
            "error": str(e["error"]),
            "occurrences": e["occurrences"],
        }
        for e in errors
    ]
    return sorted(rows, key=lambda r: -r["occurrences"])


def messages(
    tally: Mapping[str, Any], window: float, stored: Mapping[str, int] | None
) -> dict[str, Any]:
    """Messages the API accepted (202s and batch items), per tenant and per second; with
    `stored`, how many each tenant's database holds after the run."""
    by_tenant = dict(sorted(tally.get("accepted", {}).items()))
    accepted = sum(by_tenant.values())
    block: dict[str, Any] = {
        "accepted": accepted,
        "accepted_per_s": round(accepted / window, 1) if window > 0 else None,
        "accepted_by_tenant": by_tenant,
    }
    if stored is not None:
        block["stored_by_tenant"] = dict(sorted(stored.items()))
        block["stored"] = sum(stored.values())
    if tally.get("final_states"):
        block["final_states"] = dict(sorted(tally["final_states"].items()))
    return block


def shape(saved: Mapping[str, Any], stored: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The result part of the report from what the locust process saved."""
    entries: list[Mapping[str, Any]] = [e for e in saved["stats"] if e["num_requests"] > 0]
    http = [e for e in entries if e["method"] != FLOW]
    window = window_s(http, saved.get("started_at"))
    return {
        "measured_s": round(window, 2),
        "requests": request_rows(entries, window),
        "totals": figures(http, window),
        "failures": failure_rows(saved.get("errors", [])),
        "messages": messages(saved.get("tally", {}), window, stored),
    }


#: Table columns: heading, report key, width.
COLUMNS = (
    ("reqs", "requests", 7),
    ("fail", "failures", 5),
    ("rps", "rps", 8),
    ("p50", "p50_ms", 6),
    ("p90", "p90_ms", 6),
    ("p99", "p99_ms", 6),
    ("max", "max_ms", 7),
)
LABEL_WIDTH = 46


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def render_table(report: Mapping[str, Any]) -> str:
    """The report as a short table (ms; one line per request name, then the HTTP totals),
    the messages accepted and the most frequent failures."""
    head = f"{'request':<{LABEL_WIDTH}}" + "".join(f" {h:>{w}}" for h, _, w in COLUMNS)
    lines = [head, "-" * len(head)]
    rows = [*report["requests"], {"method": "", "name": "total (HTTP)", **report["totals"]}]
    for row in rows:
        label = f"{row['method']} {row['name']}".strip()
        if len(label) > LABEL_WIDTH:
            label = label[: LABEL_WIDTH - 1] + "…"
        cells = "".join(f" {_cell(row[key]):>{w}}" for _, key, w in COLUMNS)
        lines.append(f"{label:<{LABEL_WIDTH}}{cells}")
    msgs = report["messages"]
    line = f"messages accepted: {msgs['accepted']} ({_cell(msgs['accepted_per_s'])}/s)"
    if "stored" in msgs:
        line += f", stored: {msgs['stored']}"
    if "final_states" in msgs:
        line += ", final: " + ", ".join(f"{k} {v}" for k, v in msgs["final_states"].items())
    lines.append(line)
    for failure in report["failures"][:5]:
        lines.append(
            f"failed {failure['occurrences']}x {failure['method']} {failure['name']}: "
            f"{failure['error'][:100]}"
        )
    return "\n".join(lines)
