"""Prometheus metrics shared by every stage, and the exposition for `/metrics`.

With several granian workers, set `PROMETHEUS_MULTIPROC_DIR` (ccx serve does) so every
worker's samples are aggregated at scrape time.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56)

http_request_seconds = Histogram(
    "ccx_http_request_seconds",
    "HTTP request latency by route and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
http_body_too_large_total = Counter(
    "ccx_http_body_too_large_total", "Requests refused because the body exceeded the limit."
)
dependency_errors_total = Counter(
    "ccx_dependency_errors_total", "Failed calls to a dependency.", ["dependency"]
)

dispatch_send_seconds = Histogram(
    "ccx_dispatch_send_seconds",
    "Sends to Meta by outcome kind (sent, retry, throttle, hold, terminal, ambiguous).",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
dispatch_breaker_state = Gauge(
    "ccx_dispatch_breaker_state",
    "Circuit breaker state per key: 0 closed, 1 half-open, 2 open.",
    ["key"],
    multiprocess_mode="livemax",
)

dispatch_outcomes_total = Counter(
    "ccx_dispatch_outcomes_total",
    "Send attempts by outcome class and Meta error code (empty when none).",
    ["kind", "code"],
)
dispatch_claims_total = Counter(
    "ccx_dispatch_claims_total",
    "Claims by result: won, or lost (already claimed, cancelled or past that state).",
    ["result"],
)
dispatch_transitions_total = Counter(
    "ccx_dispatch_transitions_total", "State changes written by the workers.", ["to"]
)
dispatch_retries_total = Counter(
    "ccx_dispatch_retries_total", "Retries scheduled, by delay step.", ["delay"]
)
dispatch_envelopes_total = Counter(
    "ccx_dispatch_envelopes_total",
    "Envelopes taken off the queues by result (acked, poison, requeued).",
    ["result"],
)
dispatch_envelope_seconds = Histogram(
    "ccx_dispatch_envelope_seconds",
    "Time from taking an envelope to acknowledging it.",
    ["tier"],
    buckets=LATENCY_BUCKETS,
)
dispatch_inflight = Gauge("ccx_dispatch_inflight", "Sends in flight.", multiprocess_mode="livesum")
dispatch_inflight_limit = Gauge(
    "ccx_dispatch_inflight_limit",
    "Adaptive in-flight limit (AIMD on Meta's latency and throttling).",
    multiprocess_mode="livesum",
)
dispatch_paused_numbers = Gauge(
    "ccx_dispatch_paused_numbers",
    "Sender numbers paused after a hold error (an alert should fire when above 0).",
    multiprocess_mode="livemax",
)
dispatch_swept_total = Counter(
    "ccx_dispatch_swept_total",
    "Messages the sweeper moved: expired leases to undetermined, lost retries republished.",
    ["action"],
)
dispatch_limit_seconds = Histogram(
    "ccx_dispatch_limit_seconds",
    "One batched call of the shared (Redis) rate limits.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
dispatch_limit_waits_total = Counter(
    "ccx_dispatch_limit_waits_total",
    "Messages the shared rate limits held back (each waits and asks again).",
)
dispatch_limit_errors_total = Counter(
    "ccx_dispatch_limit_errors_total",
    "Shared rate limit calls that failed (Redis down): only the local limits applied.",
)
meta_webhooks_total = Counter(
    "ccx_meta_webhooks_total",
    "POSTs to /webhooks/meta by result (queued, bad_signature, unavailable).",
    ["result"],
)
status_callbacks_total = Counter(
    "ccx_status_callbacks_total",
    "Meta status updates by status and result (applied, stale, unknown_number, ...).",
    ["status", "result"],
)
status_callback_lag_seconds = Histogram(
    "ccx_status_callback_lag_seconds",
    "From a status's Meta timestamp to its being recorded.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600),
)
status_projections_repaired_total = Counter(
    "ccx_status_projections_repaired_total",
    "Message documents found behind their events after a callback overtook a worker's "
    "outcome, and repaired.",
)
status_template_updates_total = Counter(
    "ccx_status_template_updates_total",
    "Template review statuses Meta reported (message_template_status_update), by status.",
    ["status"],
)
status_number_errors_total = Counter(
    "ccx_status_number_errors_total",
    "System-level errors Meta reported about a sender number, by code.",
    ["code"],
)
queue_depth = Gauge(
    "ccx_queue_depth",
    "Envelopes waiting in the tier queues, per tier (all tenants).",
    ["tier"],
    multiprocess_mode="livemax",
)

webhook_notices_total = Counter(
    "ccx_webhook_notices_total",
    "Notices to the webhook delivery worker by kind (changed, replay) or lost (not queued).",
    ["kind"],
)
webhook_deliveries_total = Counter(
    "ccx_webhook_deliveries_total",
    "Client webhook delivery attempts by outcome (delivered, retry, failed, disabled, blocked).",
    ["outcome"],
)
webhook_delivery_seconds = Histogram(
    "ccx_webhook_delivery_seconds",
    "Duration of one client webhook POST.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
webhook_event_lag_seconds = Histogram(
    "ccx_webhook_event_lag_seconds",
    "From a state change being recorded to its webhook being accepted by the client.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600, 86400),
)
webhook_retry_backlog = Gauge(
    "ccx_webhook_retry_backlog",
    "Deliveries waiting for a retry, in this process's view.",
    multiprocess_mode="livesum",
)
webhook_oldest_undelivered_seconds = Gauge(
    "ccx_webhook_oldest_undelivered_seconds",
    "Age of the oldest event not yet delivered, per endpoint (this process's view).",
    ["endpoint"],
    multiprocess_mode="livemax",
)


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type (aggregated across workers when multiprocess)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
