"""Periodic repair of what a crash leaves behind (ARCHITECTURE §4).

- **Expired leases:** a message still `dispatching` after its lease ended belongs to a worker
  that died or hung after its claim. The request may have left, so it becomes `undetermined`
  (never resent automatically). A claim is only its event until its outcome is recorded (see
  `ccx.dispatch.worker`); the document reads `dispatching` once the envelope of a dead worker,
  redelivered, lost its claim and repaired it. The change is fenced like any other: if the
  worker records its outcome first, the sweeper's write loses and the projection is repaired
  instead.
- **Lost retries:** a `retrying` or `reconciling` message whose next attempt is long overdue
  lost its delayed queue message (the worker died between recording the retry and publishing
  it): it is published again to its tier queue. A duplicate is harmless, its claim would lose.

Both are scans of the tenant's `dispatching` / `retrying` / `reconciling` messages, cheap with the
`{status, created_at}` index on MongoDB. FerretDB v1 reads every message of the tenant for them,
so the worker stretches the interval of a slow sweep (`ccx.dispatch.periodic`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ccx.config import DispatchSettings
from ccx.queue.hooks import HookNotifier
from ccx.queue.names import Tier
from ccx.queue.publisher import Dispatch, Publisher
from ccx.store.messages import Message, MessageRepository, Status, from_document, now_ms
from ccx.store.transitions import Change, Transitions
from ccx.telemetry import metrics
from ccx.telemetry.tracing import new_span_header

log = logging.getLogger(__name__)

#: How late a retry may be before it counts as lost (the delay queues can run behind).
OVERDUE = timedelta(minutes=2)


def _expired(message: Message, now: datetime) -> bool:
    until = (message.lease or {}).get("until")
    if not isinstance(until, datetime):
        return True
    return until.replace(tzinfo=until.tzinfo or now.tzinfo) < now


async def sweep(
    repo: MessageRepository,
    tenant: str,
    publisher: Publisher | None,
    settings: DispatchSettings,
    now: datetime | None = None,
    notifier: HookNotifier | None = None,
) -> tuple[int, int]:
    """One pass over a tenant: (leases expired to undetermined, retries republished)."""
    now = now or now_ms()
    touched: list[str] = []
    moves = Transitions(repo)
    expired = 0
    async for doc in repo.messages.find({"status": str(Status.DISPATCHING)}):
        message = from_document(doc)
        if not _expired(message, now):
            continue
        change = Change(
            message.id,
            message.seq,
            Status.DISPATCHING,
            Status.UNDETERMINED,
            message.trace_id,
            {"lease": None, "error": {"class": "ambiguous", "reason": "lease_expired"}},
        )
        touched.append(message.id)
        if (await moves.apply([change], actor="sweeper"))[0]:
            expired += 1
            metrics.dispatch_swept_total.labels("lease_expired").inc()
            metrics.dispatch_transitions_total.labels(str(Status.UNDETERMINED)).inc()
            log.warning("lease of %s expired: undetermined", message.id)
        else:
            await moves.repair(message)
    if touched and notifier is not None:
        await notifier.try_changed(tenant, touched)
    republished: list[Dispatch] = []
    waiting = [str(Status.RETRYING), str(Status.RECONCILING)]
    async for doc in repo.messages.find({"status": {"$in": waiting}}):
        message = from_document(doc)
        due = message.extra.get("next_attempt_at")
        if not isinstance(due, datetime) or due + OVERDUE > now:
            continue
        status, seq, _ = await moves.current_state(message)
        if status is not message.status:
            await moves.repair(message)
            continue
        republished.append(
            Dispatch(
                message.id,
                tenant,
                str(Tier(message.priority)),
                new_span_header(message.trace_id),
                message.attempt,
                seq,
            )
        )
    if republished and publisher is not None:
        results = await publisher.publish_batch(republished)
        done = sum(1 for r in results if r is True)
        metrics.dispatch_swept_total.labels("retry_republished").inc(done)
        log.warning("republished %d overdue retries of tenant %s", done, tenant)
    return expired, len(republished)
