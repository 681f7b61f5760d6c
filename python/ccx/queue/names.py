"""Every exchange, queue and routing key of the RabbitMQ topology (ARCHITECTURE §5)."""

from __future__ import annotations

from enum import StrEnum

WORK_EXCHANGE = "ccx.work"
#: Retries are published here, not to ccx.work: on ccx.work the key `t.<tenant>.<tier>.<delay>`
#: would also match the tier queue's `t.<tenant>.<tier>.*` binding and skip the delay.
RETRY_EXCHANGE = "ccx.retry"
DLX_EXCHANGE = "ccx.dlx"
DLQ = "ccx.dlq"
#: Messages out of retries wait here for the reconcile interval (per-message TTL), then
#: dead-letter back to their tier queue: published to RETRY_EXCHANGE with the key
#: `t.<tenant>.<tier>.reconcile` (`retry_routing_key(..., RECONCILE_STEP)`).
RECONCILE_QUEUE = "ccx.reconcile"
RECONCILE_STEP = "reconcile"
#: Undetermined messages whose request opted in to a resend (`on_ambiguous: "resend"`) wait
#: here for the evidence window (per-message TTL), then come back to their tier queue.
RESEND_QUEUE = "ccx.resend"
RESEND_STEP = "resend"
#: Meta's status callbacks, as received (raw bytes, signature checked), on their way to the
#: status consumer: published to WORK_EXCHANGE with CALLBACKS_ROUTING_KEY.
CALLBACKS_QUEUE = "ccx.callbacks"
CALLBACKS_ROUTING_KEY = "callbacks.meta"
RETRY_PREFIX = "ccx.retry."

#: Retry delay steps: name → seconds. A retry of attempt n waits RETRY_DELAYS[n-1].
RETRY_DELAYS: dict[str, int] = {
    "2s": 2,
    "4s": 4,
    "8s": 8,
    "16s": 16,
    "32s": 32,
    "1m": 60,
    "5m": 300,
    "30m": 1800,
}

#: A message redelivered more often than this (crash loop) is dead-lettered by the broker.
DELIVERY_LIMIT = 20


class Tier(StrEnum):
    """Priority tiers, highest first."""

    CRITICAL = "critical"
    HIGH = "high"
    DEFAULT = "default"
    LOW = "low"


def tier_queue(tenant: str, tier: Tier | str) -> str:
    """`ccx.t.<tenant>.<tier>`."""
    return f"ccx.t.{tenant}.{tier}"


def tier_routing_key(tenant: str, tier: Tier | str) -> str:
    """`t.<tenant>.<tier>`: what the accept path publishes with."""
    return f"t.{tenant}.{tier}"


def retry_routing_key(tenant: str, tier: Tier | str, delay: str) -> str:
    """`t.<tenant>.<tier>.<delay>`, published to RETRY_EXCHANGE: the delay queue holds it for
    its TTL, then dead-letters it to WORK_EXCHANGE with this key, which the tier queue binds."""
    return f"t.{tenant}.{tier}.{delay}"


#: "Message X changed" notices for the client-webhook delivery worker, published to
#: WORK_EXCHANGE with HOOKS_ROUTING_KEY (by whoever records a state change), and replays.
HOOKS_QUEUE = "ccx.hooks"
HOOKS_ROUTING_KEY = "hooks.changed"
#: A delivery that failed waits in one of these (queue TTL = the step, per-message TTL a
#: little less for jitter), then dead-letters back to HOOKS_QUEUE: published to
#: RETRY_EXCHANGE with `hooks.wait.<step>`.
HOOKS_WAIT_PREFIX = "ccx.hooks.wait."
HOOKS_WAIT_STEPS: dict[str, int] = {
    "5s": 5,
    "30s": 30,
    "2m": 120,
    "10m": 600,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "8h": 28800,
}


def hooks_wait_routing_key(step: str) -> str:
    return f"hooks.wait.{step}"
