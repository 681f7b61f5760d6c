"""The outbox relay (ARCHITECTURE §4): makes sure every written message gets published.

The accept path's outbox is the writer watermark (`ccx.store.writers`). Each pass:

1. republishes this process's own written-but-unconfirmed messages older than `after_s` (the
   publish after the durable write failed, the broker was out), from memory;
2. recovers dead writers: a writer document that has not beaten for `dead_after_s` belongs to
   a process that is gone, so its `queued` messages created since its `low` watermark are
   republished, tenant by tenant, and the document removed once all are confirmed;
3. deletes the tenants' expired idempotency records (FerretDB has no TTL indexes), at most
   every `purge_interval_s`: on FerretDB the delete scans the whole collection.

A message can be published twice (a slow confirm, a recovered writer that was only slow); that
is safe because the worker's claim is one atomic state change that only one delivery wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from ccx.ingest import metrics
from ccx.ingest.accept import GroupCommitter, StoreFactory
from ccx.ingest.idempotency import purge_expired
from ccx.queue.publisher import Dispatch, Publisher
from ccx.store.messages import now_ms
from ccx.store.tenants import TenantRepository
from ccx.store.writers import Writer, WriterRegistry
from ccx.telemetry.tracing import new_span_header

log = logging.getLogger(__name__)


class Relay:
    """Periodic republishing for one API process (see the module docstring)."""

    def __init__(
        self,
        tenants: TenantRepository,
        store_factory: StoreFactory,
        publisher: Publisher,
        writers: WriterRegistry,
        committer: GroupCommitter | None = None,
        after_s: float = 10.0,
        dead_after_s: float = 30.0,
        batch: int = 5000,
        purge_interval_s: float = 3600.0,
    ) -> None:
        self.tenants = tenants
        self.store_factory = store_factory
        self.publisher = publisher
        self.writers = writers
        self.committer = committer
        self.after_s = after_s
        self.dead_after = timedelta(seconds=dead_after_s)
        self.batch = batch
        self.purge_interval = timedelta(seconds=purge_interval_s)
        self._purged_at: datetime | None = None

    async def run_once(self, now: datetime | None = None, only: Iterable[str] | None = None) -> int:
        """One pass (or just the tenants in `only`); returns how many messages were
        republished and confirmed. A failing tenant or writer is logged and skipped."""
        now = now or now_ms()
        total = 0
        if self.committer is not None:
            total += await self.committer.retry_unconfirmed(self.after_s, now)
        wanted = set(only) if only is not None else None
        tenants = [
            t.id
            for t in await self.tenants.list()
            if t.active and (wanted is None or t.id in wanted)
        ]
        for writer in await self.writers.dead(self.dead_after, now):
            if self.committer is not None and writer.id == self.committer.writer_id:
                continue
            total += await self._recover(writer, tenants)
        if self._purged_at is not None and now - self._purged_at < self.purge_interval:
            return total
        self._purged_at = now
        for tenant in tenants:
            try:
                await purge_expired(self.store_factory(tenant).db, now)
            except Exception as exc:
                metrics.dependency_errors_total.labels("mongodb").inc()
                log.warning("idempotency purge failed for tenant %s: %r", tenant, exc)
        return total

    async def _recover(self, writer: Writer, tenants: list[str]) -> int:
        """Republish a dead writer's queued messages since its watermark; forget the writer
        once every one is confirmed."""
        total, complete = 0, True
        for tenant in tenants:
            try:
                found = await self.store_factory(tenant).written_since(
                    writer.id, writer.low, self.batch
                )
            except Exception as exc:
                metrics.dependency_errors_total.labels("mongodb").inc()
                log.warning("relay: reading %s of writer %s failed: %r", tenant, writer.id, exc)
                complete = False
                continue
            if not found:
                continue
            results = await self.publisher.publish_batch(
                [
                    Dispatch(m.id, tenant, m.priority, new_span_header(m.trace_id), m.attempt)
                    for m in found
                ]
            )
            confirmed = sum(1 for ok in results if ok is True)
            metrics.relayed_total.labels(tenant).inc(confirmed)
            total += confirmed
            complete = complete and confirmed == len(found) and len(found) < self.batch
        if complete:
            await self.writers.remove(writer.id)
            log.info("relay: recovered writer %s (%d messages)", writer.id, total)
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
