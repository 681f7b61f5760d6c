"""Prometheus metrics of the accept path (dependency errors use the shared counter)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ccx.telemetry.metrics import LATENCY_BUCKETS, dependency_errors_total

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

batch_size = Histogram("ccx_ingest_batch_size", "Requests per group commit.", buckets=BATCH_BUCKETS)
commit_seconds = Histogram(
    "ccx_ingest_commit_seconds",
    "Duration of one group commit (idempotency and insert; the publish follows it).",
    buckets=LATENCY_BUCKETS,
)
accepted_total = Counter(
    "ccx_ingest_accepted_total", "Messages accepted (new, durable).", ["tenant", "priority"]
)
replays_total = Counter(
    "ccx_ingest_idempotent_replays_total", "Requests answered with an earlier original.", ["tenant"]
)
conflicts_total = Counter(
    "ccx_ingest_idempotency_conflicts_total", "Idempotency keys reused with another body (409)."
)
publish_failures_total = Counter(
    "ccx_ingest_publish_failures_total",
    "Accepted messages whose publish failed; the relay queues them later.",
)
relayed_total = Counter(
    "ccx_ingest_relayed_total", "Messages republished by the relay.", ["tenant"]
)

__all__ = [
    "accepted_total",
    "batch_size",
    "commit_seconds",
    "conflicts_total",
    "dependency_errors_total",
    "publish_failures_total",
    "relayed_total",
    "replays_total",
]
