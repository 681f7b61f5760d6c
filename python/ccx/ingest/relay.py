"""The outbox relay: republishes the messages of outbox records older than `after_s` (the
publish after the durable write failed, the broker was out, the process died) and removes the
record once every one is confirmed (ARCHITECTURE §4). Ids whose message was never written (the
insert failed after the record) and messages that left `queued` (cancelled, already being
dispatched) are skipped.

A message can be published twice (the relay and a slow committer racing, or a lost confirm);
that is safe because the worker's claim is one atomic state change that only one delivery wins.
Each pass also deletes the tenants' expired idempotency records (FerretDB has no TTL indexes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from ccx.ingest import metrics
from ccx.ingest.accept import StoreFactory
from ccx.ingest.idempotency import purge_expired
from ccx.queue.publisher import Dispatch, Publisher
from ccx.store.messages import Message, Status, now_ms
from ccx.store.tenants import TenantRepository
from ccx.telemetry.tracing import TraceContext

log = logging.getLogger(__name__)


def _traceparent(message: Message) -> str | None:
    """A new span in the message's original trace."""
    if not message.trace_id:
        return None
    return TraceContext(message.trace_id, TraceContext.new().span_id).header()


class Relay:
    """Periodically republishes stale `accepted` messages of every active tenant."""

    def __init__(
        self,
        tenants: TenantRepository,
        store_factory: StoreFactory,
        publisher: Publisher,
        after_s: float = 10.0,
        batch: int = 100,
    ) -> None:
        self.tenants = tenants
        self.store_factory = store_factory
        self.publisher = publisher
        self.after = timedelta(seconds=after_s)
        self.batch = batch

    async def run_once(self, now: datetime | None = None, only: Iterable[str] | None = None) -> int:
        """One pass over the tenants (or just `only`); returns how many messages were
        republished and confirmed. A failing tenant is logged and skipped."""
        now = now or now_ms()
        wanted = set(only) if only is not None else None
        total = 0
        for tenant in await self.tenants.list():
            if not tenant.active or (wanted is not None and tenant.id not in wanted):
                continue
            try:
                total += await self._relay_tenant(tenant.id, now)
                await purge_expired(self.store_factory(tenant.id).db, now)
            except Exception as exc:
                metrics.dependency_errors_total.labels("mongodb").inc()
                log.warning("relay pass failed for tenant %s: %r", tenant.id, exc)
        return total

    async def _relay_tenant(self, tenant: str, now: datetime) -> int:
        repo = self.store_factory(tenant)
        total = 0
        for record in await repo.outbox_stale(now - self.after, self.batch):
            found = await asyncio.gather(*(repo.get(i) for i in record["ids"]))
            pending = [m for m in found if m is not None and m.status is Status.QUEUED]
            results = await self.publisher.publish_batch(
                [Dispatch(m.id, tenant, m.priority, _traceparent(m), m.attempt) for m in pending]
            )
            confirmed = sum(1 for ok in results if ok is True)
            if confirmed < len(pending):
                metrics.dependency_errors_total.labels("rabbitmq").inc()
                log.warning(
                    "relay: %d of %d publishes failed", len(pending) - confirmed, len(pending)
                )
                continue  # the record stays: next pass
            await repo.remove_outbox([record["_id"]])
            metrics.relayed_total.labels(tenant).inc(confirmed)
            total += confirmed
        return total

    async def run_forever(self, interval_s: float = 5.0, stop: asyncio.Event | None = None) -> None:
        """Run a pass every `interval_s` until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                relayed = await self.run_once()
                if relayed:
                    log.info("relay republished %d messages", relayed)
            except Exception as exc:  # the registry itself is unreachable: try again later
                log.warning("relay pass failed: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
