"""The server's own view of a run: the change in its request-latency histogram.

oha times a request from when it was due to when its answer arrived; the server's histogram
(`ccx_http_request_seconds`) from when the handler started to when it answered. A p99 that
oha sees and the server does not was spent before the handler ran: in the client, the kernel,
or granian's hand-over to Python. The histogram's buckets are coarse, so quantiles are given
as the bucket bound they fall under.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

HISTOGRAM = "ccx_http_request_seconds"
#: The accepted POST /v1/messages requests.
LABELS = {"route": "messages.create", "method": "POST", "status": "202"}

Buckets = dict[float, float]


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


def scrape(base_url: str, timeout_s: float = 5.0) -> Buckets:
    """The histogram now, from the server's `/metrics` (empty when it cannot be read)."""
    try:
        answer = httpx.get(base_url + "/metrics", timeout=timeout_s)
    except httpx.HTTPError:
        return {}
    return parse_buckets(answer.text) if answer.status_code == 200 else {}


def summarize(before: Buckets, after: Buckets, budget_ms: float = 40.0) -> dict[str, float | None]:
    """Requests between two scrapes, the bucket bounds under which their p50 and p99 fall,
    and the share answered within `budget_ms` (`budget_ms` should be a bucket bound)."""
    delta = {le: count - before.get(le, 0.0) for le, count in sorted(after.items())}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return {}

    def at_most(quantile: float) -> float | None:
        le = next(le for le, count in delta.items() if count >= quantile * total)
        return None if le == float("inf") else le * 1000

    within = max((c for le, c in delta.items() if le * 1000 <= budget_ms), default=0.0)
    return {
        "requests": total,
        "p50_ms_at_most": at_most(0.50),
        "p99_ms_at_most": at_most(0.99),
        f"share_within_{budget_ms:g}ms": round(within / total, 5),
    }
