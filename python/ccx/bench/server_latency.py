"""The server's own view of a run: the change in its request-latency histogram.

oha times a request from when it was due to when its answer arrived; the server's histogram
(`ccx_http_request_seconds`) from when the handler started to when it answered. A p99 that
oha sees and the server does not was spent before the handler ran: in the client, the kernel,
or granian's hand-over to Python. The histogram's buckets are coarse, so quantiles are given
as the bucket bound they fall under; the means come from the histograms' sums.

The group commit's own histograms (`ccx_ingest_batch_size`, `ccx_ingest_commit_seconds`) give
the mean batch and the mean time of one commit over the same run: a handler latency much
larger than the commit time is time spent waiting for the event loop or for the flush ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

HISTOGRAM = "ccx_http_request_seconds"
#: The accepted POST /v1/messages requests.
LABELS = {"route": "messages.create", "method": "POST", "status": "202"}

#: Histograms whose mean over the run is reported: family → the summary key of its mean.
MEANS = {
    HISTOGRAM: "mean_ms",
    "ccx_ingest_batch_size": "group_commit_mean_batch",
    "ccx_ingest_commit_seconds": "group_commit_mean_ms",
}
#: Families measured in seconds, reported in milliseconds.
SECONDS = {HISTOGRAM, "ccx_ingest_commit_seconds"}

Buckets = dict[float, float]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One scrape: the accepted POSTs' cumulative buckets, and (sum, count) of each of
    `MEANS` (the latency one restricted to the accepted POSTs as well)."""

    buckets: Buckets = field(default_factory=dict)
    totals: dict[str, tuple[float, float]] = field(default_factory=dict)


def parse_buckets(exposition: str, labels: Mapping[str, str] = LABELS) -> Buckets:
    """Cumulative count per upper bound (seconds) of the histogram's series with `labels`."""
    buckets: Buckets = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != HISTOGRAM:
            continue
        for sample in family.samples:
            if sample.name != HISTOGRAM + "_bucket":
                continue
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


def parse_totals(
    exposition: str, labels: Mapping[str, str] = LABELS
) -> dict[str, tuple[float, float]]:
    """(sum, count) of each histogram of `MEANS`, summed over its series (those of the
    request histogram only when they carry `labels`)."""
    totals: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name not in MEANS:
            continue
        for sample in family.samples:
            if family.name == HISTOGRAM and not all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                continue
            slot = totals.setdefault(family.name, [0.0, 0.0])
            if sample.name == family.name + "_sum":
                slot[0] += sample.value
            elif sample.name == family.name + "_count":
                slot[1] += sample.value
    return {name: (pair[0], pair[1]) for name, pair in totals.items()}


def scrape(base_url: str, timeout_s: float = 5.0) -> Snapshot:
    """The histograms now, from the server's `/metrics` (empty when it cannot be read)."""
    try:
        answer = httpx.get(base_url + "/metrics", timeout=timeout_s)
    except httpx.HTTPError:
        return Snapshot()
    if answer.status_code != 200:
        return Snapshot()
    return Snapshot(parse_buckets(answer.text), parse_totals(answer.text))


def summarize(
    before: Snapshot, after: Snapshot, budget_ms: float = 40.0
) -> dict[str, float | None]:
    """Requests between two scrapes, the bucket bounds under which their p50 and p99 fall,
    the share answered within `budget_ms` (`budget_ms` should be a bucket bound), and the
    means of `MEANS` over the same interval."""
    delta = {le: count - before.buckets.get(le, 0.0) for le, count in sorted(after.buckets.items())}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return {}

    def at_most(quantile: float) -> float | None:
        le = next(le for le, count in delta.items() if count >= quantile * total)
        return None if le == float("inf") else le * 1000

    within = max((c for le, c in delta.items() if le * 1000 <= budget_ms), default=0.0)
    summary: dict[str, float | None] = {
        "requests": total,
        "p50_ms_at_most": at_most(0.50),
        "p99_ms_at_most": at_most(0.99),
        f"share_within_{budget_ms:g}ms": round(within / total, 5),
    }
    for name, key in MEANS.items():
        sum_after, count_after = after.totals.get(name, (0.0, 0.0))
        sum_before, count_before = before.totals.get(name, (0.0, 0.0))
        count = count_after - count_before
        if count > 0:
            mean = (sum_after - sum_before) / count
            summary[key] = round(mean * 1000 if name in SECONDS else mean, 3)
    return summary
