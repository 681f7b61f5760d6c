"""`ccx worker`: consume every tenant's tier queues, claim, send through Meta, record outcomes.

One envelope (up to 256 messages of one tenant and tier, as the API's group commit published
them) is the unit of work. Each of its messages is read by id, then on its own:

1. **paced**: it waits for its sender number's token bucket (critical first);
2. **claimed** right before its send, by the insert of its `dispatching` event
   (`ccx.store.transitions`), group-committed with the tenant's other claims
   (`ccx.dispatch.batching`): a message that another worker, a cancel or an earlier delivery
   already moved is dropped. The event is the claim; the message document is not updated
   (`dispatch.project_claims` turns that update back on), so it reads `queued` until the
   outcome. Every decision walks the events, so nobody acts on the stale `queued`;
3. **sent** behind its number's circuit breaker and the adaptive in-flight limit;
4. **recorded**: its outcome event and projection, which also sets what the claim's would
   have (attempt), group-committed too (fenced: a worker whose lease was swept loses).

A worker that dies after a claim leaves its envelope unacked: the broker gives it to another
worker, whose claim loses to the dead one's event and repairs the document to `dispatching`
with the dead worker's lease, which the sweeper then expires to `undetermined`.

Then the envelope's retries are published with confirms and the envelope is **acked**.

A failure of MongoDB or RabbitMQ on the way holds the envelope and retries the step (nothing
is acked, nothing is sent twice: a repeated claim or outcome write recognises its own events).

Scheduling: deliveries wait in per-tier buffers; urgent (critical, high) and bulk (default,
low) envelopes have their own slots, tiers are served by weight (8:4:2:1, so low is never
starved) and tenants round-robin within a tier. Consumption is bounded by the prefetch: the
broker stops delivering to a worker that does not ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from redis.asyncio import Redis

from ccx.cache import redis as cache
from ccx.cache.local import LoadingCache
from ccx.config import Settings
from ccx.dispatch.batching import WriteBatcher
from ccx.dispatch.breaker import CircuitBreaker, export_states, settings_from
from ccx.dispatch.decisions import Decision, decide, defer, expire, fail, refused
from ccx.dispatch.envelopes import PoisonEnvelope, Work, parse
from ccx.dispatch.inflight import AdaptiveLimit, LimitSettings, RankedSemaphore
from ccx.dispatch.limits import Bucket, SharedLimits
from ccx.dispatch.meta_client import MetaClient
from ccx.dispatch.outcomes import Kind, Outcome
from ccx.dispatch.pacing import NumberPacer
from ccx.dispatch.payload import TemplateCache, Unsendable, request_body
from ccx.dispatch.periodic import next_wait
from ccx.dispatch.senders import SenderBook, SenderRoute
from ccx.ids import new_message_id
from ccx.queue import connection as amqp
from ccx.queue.hooks import HookNotifier, NoticeBatcher
from ccx.queue.names import (
    RECONCILE_STEP,
    RESEND_STEP,
    RETRY_EXCHANGE,
    Tier,
    retry_routing_key,
    tier_queue,
)
from ccx.queue.publisher import Dispatch, Publisher
from ccx.queue.topology import declare_shared, declare_tenant
from ccx.security import DataKeys
from ccx.store import mongo as store
from ccx.store.messages import Message, MessageRepository, Status, from_document, now_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.suppressions import SuppressionRepository, recipient_key
from ccx.store.tenants import TenantRepository, blocked
from ccx.store.transitions import Change, Transitions, projected
from ccx.telemetry import metrics
from ccx.telemetry.tracing import TraceContext, current_trace

log = logging.getLogger(__name__)

T = TypeVar("T")

RANK = {Tier.CRITICAL: 0, Tier.HIGH: 1, Tier.DEFAULT: 2, Tier.LOW: 3}
WEIGHT = {Tier.CRITICAL: 8, Tier.HIGH: 4, Tier.DEFAULT: 2, Tier.LOW: 1}
CLASSES: dict[str, tuple[Tier, ...]] = {
    "urgent": (Tier.CRITICAL, Tier.HIGH),
    "bulk": (Tier.DEFAULT, Tier.LOW),
}
#: Messages per claim or outcome write. Writes of all envelopes share `db_writers` slots
#: (critical first); a smaller step bounds how long an OTP's write waits for a bulk one.
WRITE_CHUNK = 32
#: Back-off of a step that failed on MongoDB or RabbitMQ, doubling up to the maximum.
STEP_RETRY_S, STEP_RETRY_MAX_S = 0.2, 5.0


class Stopping(Exception):
    """The worker is shutting down in the middle of an envelope."""


class TierBuffers:
    """Deliveries waiting for an envelope slot: per tier, per tenant, served by weight."""

    def __init__(self, tiers: tuple[Tier, ...]) -> None:
        self.tiers = tiers
        self._queues: dict[Tier, dict[str, deque[AbstractIncomingMessage]]] = {t: {} for t in tiers}
        self._pass = dict.fromkeys(tiers, 0.0)
        self.ready = asyncio.Event()

    def put(self, tier: Tier, tenant: str, delivery: AbstractIncomingMessage) -> None:
        self._queues[tier].setdefault(tenant, deque()).append(delivery)
        self.ready.set()

    def __len__(self) -> int:
        return sum(len(q) for per in self._queues.values() for q in per.values())

    def take(self) -> tuple[Tier, AbstractIncomingMessage] | None:
        """Stride scheduling across the non-empty tiers, round-robin across tenants."""
        busy = [t for t in self.tiers if any(self._queues[t].values())]
        if not busy:
            self.ready.clear()
            return None
        tier = min(busy, key=lambda t: (self._pass[t], RANK[t]))
        floor = min(self._pass[t] for t in busy)
        for t in self.tiers:  # an idle tier does not bank credit
            self._pass[t] = max(self._pass[t], floor)
        self._pass[tier] += 1.0 / WEIGHT[tier]
        per_tenant = self._queues[tier]
        tenant = next(name for name, q in per_tenant.items() if q)
        waiting = per_tenant.pop(tenant)
        delivery = waiting.popleft()
        if waiting:  # back in last place: the next take serves another tenant first
            per_tenant[tenant] = waiting
        return tier, delivery

    def requeue_all(self) -> list[AbstractIncomingMessage]:
        out = [d for per in self._queues.values() for q in per.values() for d in q]
        for per in self._queues.values():
            per.clear()
        return out


class Worker:
    """A dispatch worker process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        meta: MetaClient | None = None,
        worker_id: str | None = None,
        tenants: Collection[str] | None = None,
    ) -> None:
        self.settings = settings
        d = settings.dispatch
        self.id = worker_id or "wk_" + new_message_id()[4:]
        #: Serve only these tenants (None: every tenant, found as they are created).
        self.only = frozenset(tenants) if tenants is not None else None
        self.mongo: AsyncMongoClient[Document] = store.make_client(settings.mongo)
        self.tenants = TenantRepository(self.mongo, settings.mongo.platform_db)
        self.meta = meta or MetaClient.from_settings(d)
        self.breaker = CircuitBreaker(settings_from(d))
        self.limit = AdaptiveLimit(
            LimitSettings(
                d.inflight_initial, d.inflight_min, d.inflight_max, 0.7, d.latency_target_s
            )
        )
        self.pacer = NumberPacer()
        self.redis: Redis | None = cache.make_client(settings.redis) if d.shared_limits else None
        self.shared = SharedLimits(self.redis) if self.redis is not None else None
        self.templates = TemplateCache(self.database)
        self.senders = SenderBook(self.database, DataKeys.from_settings(settings.security))
        self.buffers = {name: TierBuffers(tiers) for name, tiers in CLASSES.items()}
        self.paused: dict[str, float] = {}
        self.suppressions: LoadingCache[str, frozenset[str]] = LoadingCache(
            self._opted_out, d.suppression_refresh_s
        )
        self.country_rules: LoadingCache[str, tuple[str, ...]] = LoadingCache(
            self._blocked_codes, d.tenant_refresh_s
        )
        self.rabbit: AbstractRobustConnection | None = None
        self.retries: Publisher | None = None
        self.requeue: Publisher | None = None
        self.notifier = HookNotifier(None)
        self.notices = NoticeBatcher(self.notifier)
        self._channels: dict[str, AbstractChannel] = {}
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._envelope_tasks: set[asyncio.Task[None]] = set()
        self._repos: dict[str, MessageRepository] = {}
        self._writes = RankedSemaphore(d.db_writers)
        self._reads = RankedSemaphore(d.db_readers)
        self._tenant_batchers: dict[str, tuple[WriteBatcher[bool], WriteBatcher[bool]]] = {}
        self._project_claims = d.project_claims

    # -- plumbing --------------------------------------------------------------------------

    def database(self, tenant: str) -> AsyncDatabase[Document]:
        return self.mongo[tenant_db(tenant)]

    def repo(self, tenant: str) -> MessageRepository:
        repo = self._repos.get(tenant)
        if repo is None:
            repo = self._repos[tenant] = MessageRepository(self.database(tenant))
        return repo

    def _spawn(self, coro: Awaitable[None], name: str, group: set[asyncio.Task[None]]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(f"ccx-worker-{name}")
        group.add(task)
        task.add_done_callback(group.discard)

    async def _persist(self, step: Callable[[bool], Awaitable[T]], what: str) -> T:
        """Run `step(recheck)` until it succeeds; `recheck` is True after a failure (the
        step may have been applied before the error surfaced)."""
        delay, failed = STEP_RETRY_S, False
        while True:
            try:
                return await step(failed)
            except (PyMongoError, aio_pika.exceptions.AMQPError, RuntimeError, OSError) as exc:
                if self._stop.is_set():
                    raise Stopping from exc
                metrics.dependency_errors_total.labels(what).inc()
                log.warning("%s failed, retrying in %.1f s: %r", what, delay, exc)
                failed = True
                await asyncio.sleep(delay)
                delay = min(STEP_RETRY_MAX_S, delay * 2)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, declare the shared topology and start consuming; returns at once."""
        self.rabbit = await amqp.connect(self.settings.rabbitmq, name=f"ccx-worker-{self.id}")
        await declare_shared(self.rabbit)
        self.retries = Publisher(self.rabbit, exchange=RETRY_EXCHANGE)
        self.requeue = Publisher(self.rabbit)
        await self.retries.start()
        await self.requeue.start()
        self.notifier = HookNotifier(self.requeue)
        self.notices = NoticeBatcher(self.notifier)
        await self.meta.__aenter__()
        self._spawn(self._watch_tenants(), "tenants", self._tasks)
        for name in CLASSES:
            self._spawn(self._schedule(name), f"schedule-{name}", self._tasks)
        d = self.settings.dispatch
        self._spawn(
            self._every(d.sweep_interval_s, self._sweep_tenants, "sweep"), "sweep", self._tasks
        )
        retention = self._every(d.retention_sweep_s, self.purge_events, "event retention sweep")
        self._spawn(retention, "retention", self._tasks)
        self._spawn(self._gauges(), "gauges", self._tasks)
        log.info("worker %s started", self.id)

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        await stop.wait()
        await self.close()

    async def close(self, grace_s: float = 10.0) -> None:
        """Stop consuming, let envelopes in progress finish (up to `grace_s`), close."""
        self._stop.set()
        for channel in list(self._channels.values()):
            with contextlib.suppress(Exception):
                await channel.close()  # unacked deliveries go back to their queues
        self._channels.clear()
        if self._envelope_tasks:
            await asyncio.wait(set(self._envelope_tasks), timeout=grace_s)
        for task in [*self._tasks, *self._envelope_tasks]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._envelope_tasks, return_exceptions=True)
        for publisher in (self.retries, self.requeue):
            if publisher is not None:
                with contextlib.suppress(Exception):
                    await publisher.close()
        with contextlib.suppress(Exception):
            await self.meta.aclose()
        if self.shared is not None and self.redis is not None:
            await self.shared.close()
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        if self.rabbit is not None:
            with contextlib.suppress(Exception):
                await self.rabbit.close()
        with contextlib.suppress(Exception):
            await self.mongo.close()
        log.info("worker %s stopped", self.id)

    # -- consuming -------------------------------------------------------------------------

    async def _watch_tenants(self) -> None:
        while not self._stop.is_set():
            try:
                for tenant in await self.tenants.list():
                    wanted = self.only is None or tenant.id in self.only
                    if wanted and tenant.id not in self._channels:
                        await self._consume(tenant.id)
            except Exception as exc:  # the next round tries again
                log.warning("tenant refresh failed: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.dispatch.tenant_refresh_s)

    async def consume_tenant(self, tenant: str) -> None:
        """Start consuming `tenant` now (the tenant watcher would within `tenant_refresh_s`)."""
        if tenant not in self._channels:
            await self._consume(tenant)

    async def _consume(self, tenant: str) -> None:
        assert self.rabbit is not None
        channel = await self.rabbit.channel()
        await channel.set_qos(prefetch_count=self.settings.dispatch.prefetch)
        await declare_tenant(channel, tenant)
        for tier in Tier:
            queue = await channel.get_queue(tier_queue(tenant, tier), ensure=False)
            await queue.consume(self._on_delivery(tenant, tier))
        self._channels[tenant] = channel
        log.info("consuming tenant %s", tenant)

    def _on_delivery(
        self, tenant: str, tier: Tier
    ) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        buffers = next(b for b in self.buffers.values() if tier in b.tiers)

        async def on_delivery(delivery: AbstractIncomingMessage) -> None:
            buffers.put(tier, tenant, delivery)

        return on_delivery

    async def _schedule(self, name: str) -> None:
        buffers = self.buffers[name]
        slots = asyncio.Semaphore(self.settings.dispatch.envelopes)
        while not self._stop.is_set():
            await buffers.ready.wait()
            await slots.acquire()  # first the slot, then the choice: the best tier by then
            taken = buffers.take()
            if taken is None:
                slots.release()
                continue
            tier, delivery = taken

            async def run(tier: Tier = tier, delivery: AbstractIncomingMessage = delivery) -> None:
                try:
                    await self._envelope(tier, delivery)
                finally:
                    slots.release()

            self._spawn(run(), f"envelope-{tier}", self._envelope_tasks)

    # -- one envelope ----------------------------------------------------------------------

    async def _envelope(self, tier: Tier, delivery: AbstractIncomingMessage) -> None:
        started = time.perf_counter()
        try:
            works = parse(delivery.body)
        except PoisonEnvelope as exc:
            log.error("poison envelope to the DLQ: %s", exc, extra={"tier": str(tier)})
            metrics.dispatch_envelopes_total.labels("poison").inc()
            with contextlib.suppress(Exception):
                await delivery.reject(requeue=False)
            return
        try:
            await self.process(works)
        except Stopping:
            metrics.dispatch_envelopes_total.labels("requeued").inc()
            with contextlib.suppress(Exception):
                await delivery.nack(requeue=True)
            return
        except Exception:
            log.exception("envelope failed; it goes back to its queue")
            metrics.dispatch_envelopes_total.labels("requeued").inc()
            with contextlib.suppress(Exception):
                await delivery.nack(requeue=True)
            return
        with contextlib.suppress(Exception):
            await delivery.ack()
        metrics.dispatch_envelopes_total.labels("acked").inc()
        metrics.dispatch_envelope_seconds.labels(str(tier)).observe(time.perf_counter() - started)

    async def process(self, works: list[Work]) -> list[Decision]:
        """Send one envelope's messages, each claimed right before its send (after its
        number's pacing, so a lease never runs while a message waits for its turn); returns
        the recorded decisions, after their retries are published."""
        repo = self.repo(works[0].tenant)

        rank = RANK[works[0].priority]

        async def read_one(message_id: str) -> Document | None:
            async with self._reads.slot(rank):
                return await repo.messages.find_one({"_id": message_id})

        def read(_: bool) -> Awaitable[list[Document | None]]:
            return asyncio.gather(*(read_one(w.message_id) for w in works))

        docs = await self._persist(read, "mongodb")
        results = await asyncio.gather(
            *(
                self._handle(w, from_document(d) if d else None)
                for w, d in zip(works, docs, strict=True)
            )
        )
        kept = [d for d in results if d is not None]
        await self._publish_retries([d for d in kept if d.retry is not None])
        # Every message of the envelope, moved by us or (a lost claim) by someone else: a
        # notice is cheap and idempotent, and this one may be the only one after a crash.
        await self.notices.changed(works[0].tenant, [w.message_id for w in works])
        return kept

    def _batchers(self, tenant: str) -> tuple[WriteBatcher[bool], WriteBatcher[bool]]:
        pair = self._tenant_batchers.get(tenant)
        if pair is None:
            moves = Transitions(self.repo(tenant))

            async def claim(changes: Sequence[Change], recheck: bool, actor: str) -> list[bool]:
                return await moves.apply(changes, actor, recheck, project=self._project_claims)

            async def record(changes: Sequence[Change], recheck: bool, actor: str) -> list[bool]:
                return await moves.apply(changes, actor, recheck)

            # Claims and outcomes batch apart so a claim never waits behind a batch of outcomes.
            pair = (
                WriteBatcher(claim, self._persist, self._writes, self.id, WRITE_CHUNK),
                WriteBatcher(record, self._persist, self._writes, self.id, WRITE_CHUNK),
            )
            self._tenant_batchers[tenant] = pair
        return pair

    async def _publish_retries(self, decisions: list[Decision]) -> None:
        """Retries to their delay queue, messages out of retries to the reconcile queue (held
        there for the reconcile interval), opted-in undetermined ones to the resend queue
        (for the evidence window); all with confirms."""
        if not decisions:
            return
        delays = {d.retry.message_id: d.delay for d in decisions if d.retry and d.delay}
        for d in decisions:
            metrics.dispatch_retries_total.labels(d.delay or "").inc()

        def route(item: Dispatch) -> str:
            return retry_routing_key(item.tenant, item.priority, delays[item.message_id])

        # the delay queues hold a retry for their own TTL; these two for a per-message one
        dispatch = self.settings.dispatch
        ttls = {
            RECONCILE_STEP: dispatch.reconcile_interval_s,
            RESEND_STEP: dispatch.ambiguous_window_s,
        }
        groups: dict[float | None, list[Dispatch]] = {}
        for d in decisions:
            if d.retry is not None:
                groups.setdefault(ttls.get(d.delay or ""), []).append(d.retry)
        for expiration, items in groups.items():

            async def publish(
                _: bool, items: list[Dispatch] = items, ttl: float | None = expiration
            ) -> None:
                assert self.retries is not None
                results = await self.retries.publish_batch(items, route, ttl)
                failed = [r for r in results if r is not True]
                if failed:
                    raise RuntimeError(f"retry publish failed: {failed[0]!r}")

            await self._persist(publish, "rabbitmq")

    # -- one message -----------------------------------------------------------------------

    async def _handle(self, work: Work, message: Message | None) -> Decision | None:
        if message is None:
            log.error("message %s of an envelope is not in the database", work.message_id)
            return None
        if message.seq > work.seq:  # moved on since this delivery was made: a duplicate
            metrics.dispatch_claims_total.labels("lost").inc()
            return None
        ctx = TraceContext.parse(work.traceparent)
        token = current_trace.set(ctx.child() if ctx else TraceContext.new())
        try:
            return await self._attempt(work, message)
        finally:
            current_trace.reset(token)

    async def _attempt(self, work: Work, message: Message) -> Decision | None:
        rank = RANK[work.priority]
        claims, outcomes = self._batchers(work.tenant)
        from_status = message.status if message.seq == work.seq else work.from_status
        if from_status is Status.RECONCILING and self._reconciled_enough(message):
            return await self._expire(work, message, outcomes, rank)
        refusal = await self._refusal(work.tenant, message)
        if refusal is not None:
            return await self._refuse(work, message, from_status, outcomes, rank, *refusal)
        route = await self._persist(
            lambda _: self.senders.route(work.tenant, message.sender), "mongodb"
        )
        if route is not None and not self._is_paused(route.phone_number_id):
            await self.pacer.wait(route.phone_number_id, float(route.throughput), rank)
            if self.shared is not None:
                await self.shared.acquire(self._buckets(work.tenant, route, message), rank)
        until = now_ms() + timedelta(seconds=self.settings.dispatch.lease_s)
        claim = Change(
            work.message_id,
            work.seq,
            from_status,
            Status.DISPATCHING,
            _trace_id(work.traceparent) or message.trace_id,
            {"attempt": work.attempt + 1, "lease": {"owner": self.id, "until": until}},
        )
        # The in-flight slot comes before the claim: with Meta slow, messages wait for a slot
        # unclaimed (nothing for the sweeper to find) instead of holding leases that run out.
        await self.limit.acquire(rank)
        try:
            won = await claims.submit(claim, rank)
        except BaseException:
            self.limit.release()
            raise
        if not won:
            self.limit.release()
            metrics.dispatch_claims_total.labels("lost").inc()
            # Someone else moved it. If that was a worker killed between its claim event and
            # the projection, the document still says `queued`, where the sweeper would never
            # look: bring it up to its events (then an expired lease is swept as usual).
            moves = Transitions(self.repo(work.tenant))
            await self._persist(lambda _: moves.repair(message), "mongodb")
            return None
        metrics.dispatch_claims_total.labels("won").inc()
        decision = await self._send(work, projected(message, claim), route)
        outcome = decision.change
        if not self._project_claims:  # the outcome's projection sets what the claim's would
            outcome = dataclasses.replace(outcome, carry=claim.fields)
        if not await outcomes.submit(outcome, rank):
            log.warning("outcome of %s not recorded: its lease was taken over", work.message_id)
            return None
        metrics.dispatch_transitions_total.labels(str(decision.change.to_status)).inc()
        return decision

    def _buckets(self, tenant: str, route: SenderRoute, message: Message) -> list[Bucket]:
        """The shared limits a message must pass: its number (at the rate the local pacer
        holds it to, throttling included), its sender-recipient pair, its template and its
        tenant when those are limited."""
        d = self.settings.dispatch
        number = route.phone_number_id
        rate = self.pacer.rate(number) or float(route.throughput)
        # the recipient is hashed: no phone number in Redis keys
        pair = hashlib.blake2b(f"{number}:{message.to}".encode(), digest_size=10).hexdigest()
        buckets = [
            Bucket(f"n:{number}", rate, max(1.0, rate)),
            Bucket(f"p:{pair}", 1.0 / d.recipient_interval_s, float(d.recipient_burst)),
        ]
        template = (message.template or {}).get("name")
        if d.template_rate > 0 and template:
            buckets.append(Bucket(f"t:{tenant}:{template}", d.template_rate, d.template_rate))
        if d.tenant_rate > 0:
            buckets.append(Bucket(f"c:{tenant}", d.tenant_rate, d.tenant_rate))
        return buckets

    async def _refusal(self, tenant: str, message: Message) -> tuple[str, str] | None:
        """(reason, details) when the tenant's rules forbid sending `message`."""
        opted_out = await self._persist(lambda _: self.suppressions.get(tenant), "mongodb")
        if recipient_key(message.to) in opted_out:
            return "suppressed", "the recipient is on the tenant's suppression list"
        codes = await self._persist(lambda _: self.country_rules.get(tenant), "mongodb")
        code = blocked(message.to, codes)
        if code is not None:
            return "country_blocked", f"the tenant does not send to calling code +{code}"
        return None

    async def _refuse(
        self,
        work: Work,
        message: Message,
        from_status: Status,
        outcomes: WriteBatcher[bool],
        rank: int,
        reason: str,
        details: str,
    ) -> Decision | None:
        trace_id = _trace_id(work.traceparent) or message.trace_id
        change = refused(work, from_status, trace_id, reason, details)
        if not await outcomes.submit(change, rank):
            metrics.dispatch_claims_total.labels("lost").inc()
            return None
        metrics.dispatch_transitions_total.labels(str(Status.FAILED)).inc()
        log.info("%s not sent: %s", message.id, details)
        return Decision(change)

    async def _blocked_codes(self, tenant: str) -> tuple[str, ...]:
        found = await self.tenants.get(tenant)
        own = found.blocked_countries if found else ()
        common = [c.strip() for c in self.settings.dispatch.blocked_countries.split(",")]
        return tuple(sorted({*own, *(c for c in common if c)}))

    async def _opted_out(self, tenant: str) -> frozenset[str]:
        return await SuppressionRepository(self.database(tenant)).recipients()

    def _reconciled_enough(self, message: Message) -> bool:
        since = message.extra.get("reconciling_since")
        window = timedelta(seconds=self.settings.dispatch.reconcile_for_s)
        return isinstance(since, datetime) and now_ms() - since >= window

    async def _expire(
        self, work: Work, message: Message, outcomes: WriteBatcher[bool], rank: int
    ) -> Decision | None:
        """End a reconciliation whose window is over: `expired`, without a send."""
        since = message.extra["reconciling_since"]
        change = expire(work, work.seq, _trace_id(work.traceparent) or message.trace_id, since)
        if not await outcomes.submit(change, rank):
            metrics.dispatch_claims_total.labels("lost").inc()
            return None
        metrics.dispatch_transitions_total.labels(str(Status.EXPIRED)).inc()
        log.warning("%s expired: still not sent after reconciliation since %s", message.id, since)
        return Decision(change)

    def _is_paused(self, number: str) -> bool:
        return self.paused.get(number, 0.0) > time.monotonic()

    async def _send(self, work: Work, message: Message, route: SenderRoute | None) -> Decision:
        """Send a claimed message and decide what its outcome does to it. Called holding an
        in-flight slot, which it releases."""
        seq, attempt = message.seq, message.attempt
        trace_id = _trace_id(work.traceparent) or message.trace_id
        now = now_ms()
        sending = False
        try:
            if route is None:
                detail = f"no sender {message.sender or '(default)'} with an access token"
                return fail(work, seq, trace_id, "no_sender", detail)
            number = route.phone_number_id
            if self._is_paused(number):
                wait_s = self.paused[number] - time.monotonic()
                return defer(work, seq, now, trace_id, wait_s, "paused")
            try:
                body = await self._persist(
                    lambda _: request_body(message, work.tenant, attempt, self.templates),
                    "mongodb",
                )
            except Unsendable as exc:
                return fail(work, seq, trace_id, exc.code, exc.detail)
            # asked last, right before the send: the answers of the sends ahead count
            if not self.breaker.allow(number):
                retry_in = self.breaker.retry_in(number)
                return defer(work, seq, now, trace_id, retry_in, "circuit_open")
            sending = True
            started = time.perf_counter()
            outcome: Outcome | None = None
            try:
                outcome = await self.meta.send(number, route.access_token, body)
            finally:
                latency = time.perf_counter() - started
                self.limit.release(outcome.kind if outcome else None, latency)
                if outcome is None:
                    self.breaker.release(number)
        finally:
            if not sending:
                self.limit.release()
        self.breaker.record(number, outcome.kind)
        metrics.dispatch_outcomes_total.labels(str(outcome.kind), str(outcome.code or "")).inc()
        log.info(
            "attempt %d of %s: %s",
            attempt,
            message.id,
            outcome.kind,
            extra={"reason": outcome.reason, "code": outcome.code, "number": number},
        )
        if outcome.kind is Kind.THROTTLE:
            self.pacer.throttled(number)
        min_delay = 0.0
        if outcome.kind is Kind.HOLD:
            self._pause(number, outcome)
            min_delay = self.settings.dispatch.hold_pause_s
        since = message.extra.get("reconciling_since")
        return decide(
            work,
            seq,
            attempt,
            outcome,
            now_ms(),
            trace_id,
            self.settings.dispatch.max_attempts,
            min_delay,
            self.settings.dispatch.reconcile_interval_s,
            since if isinstance(since, datetime) else None,
            resend=message.on_ambiguous == "resend" and "resend_scheduled_at" not in message.extra,
        )

    def _pause(self, number: str, outcome: Outcome) -> None:
        pause_s = self.settings.dispatch.hold_pause_s
        self.paused[number] = time.monotonic() + pause_s
        log.error(
            "sender number %s paused for %.0f s: Meta answered %s (%s)",
            number,
            pause_s,
            outcome.code,
            outcome.title or outcome.reason,
            extra={"alert": "sender_hold", "number": number, "code": outcome.code},
        )

    # -- background ------------------------------------------------------------------------

    async def _gauges(self) -> None:
        while not self._stop.is_set():
            metrics.dispatch_inflight.set(self.limit.in_flight)
            metrics.dispatch_inflight_limit.set(self.limit.limit)
            now = time.monotonic()
            metrics.dispatch_paused_numbers.set(sum(1 for t in self.paused.values() if t > now))
            export_states(self.breaker)
            await self._queue_depths()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 5.0)

    async def _queue_depths(self) -> None:
        if self.rabbit is None or not self._channels:
            return
        depth = dict.fromkeys(Tier, 0)
        try:
            channel = await self.rabbit.channel()
            try:
                for tenant in list(self._channels):
                    for tier in Tier:
                        declared = await channel.declare_queue(
                            tier_queue(tenant, tier), passive=True
                        )
                        result = declared.declaration_result
                        depth[tier] += int(result.message_count or 0)
            finally:
                await channel.close()
        except Exception as exc:
            log.debug("queue depth probe failed: %r", exc)
            return
        for tier, count in depth.items():
            metrics.queue_depth.labels(str(tier)).set(count)

    async def purge_events(self, now: datetime | None = None) -> int:
        """Delete the served tenants' events past `events_retention_days`; returns how many."""
        days = self.settings.dispatch.events_retention_days
        before = (now or now_ms()) - timedelta(days=days)
        purged = 0
        for tenant in list(self._channels):
            purged += await self.repo(tenant).purge_events(before)
        if purged:
            log.info("deleted %d message events older than %s", purged, before)
        return purged

    async def _sweep_tenants(self) -> None:
        from ccx.dispatch.sweeper import sweep

        for tenant in list(self._channels):
            await sweep(
                self.repo(tenant),
                tenant,
                self.requeue,
                self.settings.dispatch,
                notifier=self.notifier,
            )

    async def _every(
        self, interval_s: float, action: Callable[[], Awaitable[object]], what: str
    ) -> None:
        """Run `action` every `interval_s` until the worker stops, but never more than
        `periodic.SWEEP_DUTY` of the time (see `next_wait`); a failure waits for the next round."""
        wait_s = interval_s
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait_s)
            if self._stop.is_set():
                return
            began = time.monotonic()
            try:
                await action()
            except Exception as exc:
                log.warning("%s failed: %r", what, exc)
            took_s = time.monotonic() - began
            wait_s = next_wait(interval_s, took_s)
            if wait_s > interval_s:
                log.info("%s took %.1f s: the next in %.0f s", what, took_s, wait_s)


def _trace_id(traceparent: str | None) -> str | None:
    ctx = TraceContext.parse(traceparent)
    return ctx.trace_id if ctx else None
