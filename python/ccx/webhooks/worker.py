"""The webhook delivery worker: consumes `ccx.hooks` and delivers each message's events, in
order, to every enabled endpoint of its tenant that subscribes to them.

Per notice (`changed`, a message id): under a per-message lock (one asyncio lock per process,
one Redis key across processes), read the message and its events past what each endpoint has
had (`webhook_streams`), then per endpoint walk them in `seq` order: an event the endpoint
does not subscribe to is passed over; the others get a delivery record (made once: its `_id`
is derived from message, seq and endpoint) and a signed POST. A failed POST schedules this
message again on a wait queue (backoff with jitter, or the endpoint's `Retry-After`) and stops
that endpoint's walk, so event n+1 never overtakes n; other messages to the same endpoint go
on. After `webhooks.retry_for_s` (24 h) of failures the delivery is `failed` and the walk moves
on; a `410 Gone` disables the endpoint. Replays POST one delivery once more, out of order.

Delivery is at least once: a crash between a POST and its record repeats the POST with the
same `webhook-id`, which Standard Webhooks receivers use to drop duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ccx.cache.local import LoadingCache
from ccx.config import Settings
from ccx.queue.hooks import HookNotifier
from ccx.queue.names import HOOKS_QUEUE, RETRY_EXCHANGE
from ccx.queue.publisher import Publisher
from ccx.security import DataKeys
from ccx.store.messages import Message, MessageRepository, now_ms, utc_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.tenants import TenantRepository
from ccx.store.webhooks import (
    Delivery,
    DeliveryRepository,
    DeliveryStatus,
    Endpoint,
    EndpointRepository,
    EndpointVersions,
    Stream,
    delivery_id,
    event_type,
    fresh_delivery,
    settled_document,
)
from ccx.telemetry import metrics
from ccx.telemetry.tracing import TraceContext, current_trace, new_span_header
from ccx.webhooks.payload import event_body, event_id
from ccx.webhooks.post import PostResult, post
from ccx.webhooks.ssrf import AddressPolicy, guarded_connector

log = logging.getLogger(__name__)

#: Waits after the 1st, 2nd, ... failed attempt of one delivery, in seconds; the last repeats.
BACKOFF_S: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800)
#: How long a notice waits for another process's lock on its message before it is put off.
LOCK_WAIT_S = 2.0
LOCK_TTL_MS = 60_000
#: When the lock stays taken: look at the message again after this long.
BUSY_RETRY_S = 5.0
#: A pending delivery whose retry is due within this much is tried now.
DUE_SLACK = timedelta(seconds=1)
RETRY_PAUSE_S = 1.0
#: Notice kinds and where their ids are.
_ITEMS = {"changed": "messages", "resume": "messages", "replay": "deliveries"}

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def backoff(failed_attempts: int) -> float:
    """The wait after the `failed_attempts`-th failure (1-based)."""
    return BACKOFF_S[min(max(failed_attempts, 1), len(BACKOFF_S)) - 1]


class MessageLocks:
    """One holder per message: an asyncio lock inside the process, a Redis key across them."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}
        self._release = redis.register_script(_RELEASE)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[bool]:
        """Yields True when held; False when another process kept it for LOCK_WAIT_S."""
        lock, users = self._local.get(key, (asyncio.Lock(), 0))
        self._local[key] = (lock, users + 1)
        try:
            async with lock:
                token = secrets.token_hex(8)
                name = f"ccx:wh:lock:{key}"
                deadline = time.monotonic() + LOCK_WAIT_S
                while not await self.redis.set(name, token, nx=True, px=LOCK_TTL_MS):
                    if time.monotonic() > deadline:
                        yield False
                        return
                    await asyncio.sleep(0.05)
                try:
                    yield True
                finally:
                    with contextlib.suppress(RedisError):
                        await self._release(keys=[name], args=[token])
        finally:
            lock, users = self._local[key]
            if users <= 1:
                del self._local[key]
            else:
                self._local[key] = (lock, users - 1)


class Backlog:
    """Pending deliveries this process knows of, for the retry-backlog and oldest-event
    gauges."""

    def __init__(self) -> None:
        self._pending: dict[str, dict[str, float]] = {}

    def waiting(self, delivery: Delivery) -> None:
        created = delivery.created_at.timestamp()
        self._pending.setdefault(delivery.endpoint_id, {})[delivery.id] = created
        self._publish(delivery.endpoint_id)

    def settled(self, delivery: Delivery) -> None:
        self._pending.get(delivery.endpoint_id, {}).pop(delivery.id, None)
        self._publish(delivery.endpoint_id)

    def _publish(self, endpoint_id: str) -> None:
        pending = self._pending.get(endpoint_id) or {}
        oldest = min(pending.values(), default=None)
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        metrics.webhook_oldest_undelivered_seconds.labels(endpoint_id).set(age)
        metrics.webhook_retry_backlog.set(sum(len(p) for p in self._pending.values()))


def _unsent(event: Document, endpoint: Endpoint, horizon: datetime) -> bool:
    """An event recorded before the endpoint existed is not sent to it (a new endpoint
    hears about what happens from then on, not about every message's past), nor one past
    retention (`horizon`: its stream may have been purged, and starting over would send a
    message's whole past again)."""
    return utc_ms(event["at"]) < max(endpoint.created_at, horizon)


class _Walk:
    """What one walk of a stream has done so far."""

    def __init__(self, stream: Stream) -> None:
        self.handled, self.pending, self.next_at = stream.seq, stream.pending, stream.next_at
        #: fresh deliveries that succeeded, stored together when the walk ends
        self.documents: list[Document] = []

    def settle(self, seq: int) -> None:
        self.handled = seq
        if self.pending == seq:
            self.pending = self.next_at = None

    def wait(self, seq: int, next_at: datetime | None) -> None:
        self.pending, self.next_at = seq, next_at

    def stream(self) -> Stream:
        return Stream(self.handled, self.pending, self.next_at)

    def changed(self, before: Stream) -> bool:
        return self.stream() != before


class DeliveryWorker:
    """Consumes `ccx.hooks`; `start` returns at once, `close` stops consuming."""

    def __init__(
        self,
        settings: Settings,
        mongo: AsyncMongoClient[Document],
        redis: Redis,
        keys: DataKeys | None = None,
        prefetch: int | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = settings.webhooks
        self.mongo = mongo
        self.redis = redis
        self.keys = keys or DataKeys.from_settings(settings.security)
        # A notice at a moderate rate names one message: with fewer notices in hand than
        # slots, the slots would sit idle (8 capped a worker at about 60 walks/s).
        self.prefetch = prefetch or self.hooks.concurrency
        self.policy = AddressPolicy.from_setting(self.hooks.allow_networks)
        self.locks = MessageLocks(redis)
        self.backlog = Backlog()
        self._slots = asyncio.Semaphore(self.hooks.concurrency)
        self._endpoints: LoadingCache[str, list[Endpoint]] = LoadingCache(
            self._load_endpoints, self.hooks.endpoint_refresh_s
        )
        self.versions = EndpointVersions(redis)
        self._seen_versions: dict[str, int] = {}
        self._channel: AbstractChannel | None = None
        self._session: aiohttp.ClientSession | None = None
        self.notifier: HookNotifier | None = None
        self._purger: asyncio.Task[None] | None = None

    async def endpoints_of(self, tenant: str) -> list[Endpoint]:
        """The tenant's endpoints: cached, and read again as soon as the API announces a
        change (one Redis GET per notice)."""
        version = await self.versions.current(tenant)
        if self._seen_versions.get(tenant) != version:
            self._endpoints.invalidate(tenant)
            self._seen_versions[tenant] = version
        return await self._endpoints.get(tenant)

    async def _load_endpoints(self, tenant: str) -> list[Endpoint]:
        return await self.endpoint_repo(tenant).list()

    def db(self, tenant: str) -> Any:
        return self.mongo[tenant_db(tenant)]

    def endpoint_repo(self, tenant: str) -> EndpointRepository:
        return EndpointRepository(self.db(tenant), tenant, self.keys)

    async def purge(self, now: datetime | None = None) -> int:
        """Delete every tenant's delivery records past `webhooks.retention_days`."""
        before = (now or now_ms()) - timedelta(days=self.hooks.retention_days)
        purged = 0
        for tenant in await TenantRepository(self.mongo, self.settings.mongo.platform_db).list():
            purged += await DeliveryRepository(self.db(tenant.id)).purge(before)
        if purged:
            log.info("deleted %d webhook delivery records older than %s", purged, before)
        return purged

    async def _purge_loop(self) -> None:
        while True:
            await asyncio.sleep(self.hooks.retention_sweep_s)
            try:
                await self.purge()
            except Exception as exc:  # the next round tries again
                log.warning("webhook retention sweep failed: %r", exc)

    async def start(self, connection: AbstractRobustConnection) -> None:
        self._session = aiohttp.ClientSession(
            connector=guarded_connector(self.policy, limit=self.hooks.max_connections)
        )
        self.notifier = HookNotifier(
            Publisher(connection), Publisher(connection, exchange=RETRY_EXCHANGE)
        )
        self._channel = await connection.channel()
        await self._channel.set_qos(prefetch_count=self.prefetch)
        queue = await self._channel.get_queue(HOOKS_QUEUE, ensure=False)
        await queue.consume(self._on_message)
        self._purger = asyncio.create_task(self._purge_loop(), name="ccx-webhooks-purge")

    async def close(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            self._purger = None
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()  # unacked notices go back to the queue
            self._channel = None
        if self.notifier is not None:
            for publisher in (self.notifier.publisher, self.notifier.retry):
                if publisher is not None:
                    with contextlib.suppress(Exception):
                        await publisher.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _on_message(self, delivery: AbstractIncomingMessage) -> None:
        try:
            notice = orjson.loads(delivery.body)
            tenant = str(notice["tenant"])
            kind = notice["kind"]
            ids = [str(i) for i in notice[_ITEMS[kind]]]
            tenant_db(tenant)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.error("a webhook notice is not readable: dead-lettered")
            await delivery.reject(requeue=False)
            return
        if kind == "resume":
            self._endpoints.invalidate(tenant)  # it was re-enabled: do not wait for the TTL
        work = self.replay if kind == "replay" else self.deliver_message
        try:
            await asyncio.gather(*(self._bounded(work, tenant, i) for i in ids))
        except (TimeoutError, PyMongoError, RedisError, ConnectionError) as exc:
            log.warning("webhook notice not handled, retried: %r", exc)
            await asyncio.sleep(RETRY_PAUSE_S)
            await delivery.nack(requeue=True)
            return
        except Exception:
            # A bug or bad data (an endpoint secret no data key opens, ...): retried, and
            # dead-lettered by the queue's delivery limit if it keeps failing.
            log.exception("webhook notice failed; it goes back to its queue")
            await asyncio.sleep(RETRY_PAUSE_S)
            await delivery.nack(requeue=True)
            return
        await delivery.ack()

    async def _bounded(self, work: Any, tenant: str, item: str) -> None:
        async with self._slots:
            await work(tenant, item)

    async def deliver_message(self, tenant: str, message_id: str) -> None:
        """Deliver what each enabled endpoint has not had yet of this message's events."""
        endpoints = [e for e in await self.endpoints_of(tenant) if e.enabled]
        if not endpoints:
            return
        async with self.locks.hold(f"{tenant}:{message_id}") as held:
            if not held:
                assert self.notifier is not None
                await self.notifier.later(tenant, message_id, BUSY_RETRY_S)
                return
            repo = MessageRepository(self.db(tenant))
            message = await repo.get(message_id)
            if message is None:
                return
            # this task's logs join the message's trace (each gather task has its own context)
            if message.trace_id:
                current_trace.set(TraceContext(message.trace_id, TraceContext.new().span_id))
            deliveries = DeliveryRepository(self.db(tenant))
            streams = await asyncio.gather(
                *(deliveries.stream(message_id, e.id) for e in endpoints)
            )
            events = await self._events(repo, message, min(s.seq for s in streams))
            await asyncio.gather(
                *(
                    self._stream(tenant, message, e, stream, events, deliveries)
                    for e, stream in zip(endpoints, streams, strict=True)
                )
            )

    async def _events(
        self, repo: MessageRepository, message: Message, after: int
    ) -> list[Document]:
        """The message's stored events past `after`, in order (past its projection too).
        `accepted` and `queued` are implied by the message, not stored (`implied_events`):
        clients are not told about them, so they are simply missing here."""
        wanted = range(after + 1, message.seq + 1)
        found = await asyncio.gather(
            *(repo.events.find_one({"_id": f"{message.id}.{n}"}) for n in wanted)
        )
        events: list[Document] = [doc for doc in found if doc is not None]
        seq = message.seq
        while True:
            doc = await repo.events.find_one({"_id": f"{message.id}.{seq + 1}"})
            if doc is None:
                return events
            events.append(doc)
            seq += 1

    async def _stream(
        self,
        tenant: str,
        message: Message,
        endpoint: Endpoint,
        stream: Stream,
        events: Sequence[Document],
        deliveries: DeliveryRepository,
    ) -> None:
        """Walk one endpoint's share of a message's events in order; stop at the first that
        must wait. Fresh deliveries that succeed are stored together at the end (one insert),
        with the stream: two writes per message and endpoint when all goes well."""
        walk = _Walk(stream)
        horizon = now_ms() - timedelta(days=self.hooks.retention_days)
        try:
            for event in events:
                seq = int(event["seq"])
                if seq <= stream.seq:
                    continue
                kind = event_type(str(event["to"]))
                if kind is None or not endpoint.wants(kind) or _unsent(event, endpoint, horizon):
                    walk.handled = seq
                    continue
                delivery: Delivery | None = None
                if walk.pending == seq:
                    if walk.next_at is not None and walk.next_at > now_ms() + DUE_SLACK:
                        return  # its retry is scheduled; n+1 waits for it
                    delivery = await deliveries.get(delivery_id(message.id, seq, endpoint.id))
                    if delivery is not None and delivery.status is not DeliveryStatus.PENDING:
                        walk.settle(seq)  # a replay delivered it meanwhile
                        continue
                trace_id = event.get("trace_id") or message.trace_id
                if delivery is None:
                    body = event_body(message, event, kind)
                    delivery = fresh_delivery(
                        endpoint.id, message.id, seq, event_id(message.id, seq), kind, body
                    )
                    stored = False
                else:
                    stored = True
                if not await self._attempt(
                    tenant, endpoint, delivery, stored, event, deliveries, trace_id, walk
                ):
                    return
        finally:
            await deliveries.insert_settled(walk.documents)
            if walk.changed(stream):
                await deliveries.save_stream(message.id, endpoint.id, walk.stream())

    async def _post(self, endpoint: Endpoint, delivery: Delivery, trace_id: Any) -> PostResult:
        assert self._session is not None
        traceparent = new_span_header(trace_id if isinstance(trace_id, str) else None)
        result = await post(
            self._session, self.policy, endpoint, delivery, self.hooks.timeout_s, traceparent
        )
        metrics.webhook_delivery_seconds.observe(result.attempt.latency_ms / 1000)
        return result

    async def _store(
        self,
        deliveries: DeliveryRepository,
        delivery: Delivery,
        stored: bool,
        result: PostResult,
        status: DeliveryStatus,
        next_at: datetime | None,
    ) -> Delivery:
        if stored:
            return await deliveries.record(delivery, result.attempt, status, next_at)
        document = settled_document(delivery, result.attempt, status, next_at)
        await deliveries.insert_settled([document])
        return dataclasses.replace(delivery, status=status, attempt_count=1, next_at=next_at)

    async def _attempt(
        self,
        tenant: str,
        endpoint: Endpoint,
        delivery: Delivery,
        stored: bool,
        event: Document,
        deliveries: DeliveryRepository,
        trace_id: str | None,
        walk: _Walk,
    ) -> bool:
        """One POST of a delivery in its stream; True when it is settled (delivered, or
        failed for good) and the stream may go on."""
        result = await self._post(endpoint, delivery, trace_id)
        if result.ok:
            if stored:
                await deliveries.record(delivery, result.attempt, DeliveryStatus.DELIVERED, None)
            else:
                walk.documents.append(
                    settled_document(delivery, result.attempt, DeliveryStatus.DELIVERED, None)
                )
            metrics.webhook_deliveries_total.labels("delivered").inc()
            lag = (result.attempt.at - utc_ms(event["at"])).total_seconds()
            metrics.webhook_event_lag_seconds.observe(max(0.0, lag))
            self.backlog.settled(delivery)
            walk.settle(delivery.seq)
            return True
        if result.blocked:
            await self._store(deliveries, delivery, stored, result, DeliveryStatus.FAILED, None)
            metrics.webhook_deliveries_total.labels("blocked").inc()
            log.error(
                "webhook to %s refused by the SSRF guard: %s", endpoint.id, result.attempt.error
            )
            self.backlog.settled(delivery)
            walk.settle(delivery.seq)
            return True
        if result.gone:
            await self._store(deliveries, delivery, stored, result, DeliveryStatus.PENDING, None)
            await self.endpoint_repo(tenant).disable(endpoint.id, "410 Gone from the endpoint")
            self._endpoints.invalidate(tenant)
            await self.versions.bump(tenant)
            metrics.webhook_deliveries_total.labels("disabled").inc()
            log.warning("endpoint %s of %s answered 410 Gone: disabled", endpoint.id, tenant)
            walk.wait(delivery.seq, None)
            return False
        failures = delivery.attempt_count + 1
        at_least = result.retry_after_s or 0.0
        delay = max(backoff(failures), at_least)
        age = (result.attempt.at - delivery.created_at).total_seconds()
        if age + delay > self.hooks.retry_for_s:
            await self._store(deliveries, delivery, stored, result, DeliveryStatus.FAILED, None)
            metrics.webhook_deliveries_total.labels("failed").inc()
            log.warning("webhook %s failed for good after %d attempts", delivery.id, failures)
            self.backlog.settled(delivery)
            walk.settle(delivery.seq)
            return True
        assert self.notifier is not None
        wait = await self.notifier.later(tenant, delivery.message_id, delay, at_least)
        next_at = result.attempt.at + timedelta(seconds=wait)
        updated = await self._store(
            deliveries, delivery, stored, result, DeliveryStatus.PENDING, next_at
        )
        metrics.webhook_deliveries_total.labels("retry").inc()
        self.backlog.waiting(updated)
        walk.wait(delivery.seq, next_at)
        return False

    async def replay(self, tenant: str, delivery_id: str) -> None:
        """POST one delivery once more (a manual replay), whatever its status; a success
        makes it `delivered`, a failure is recorded and changes nothing else."""
        deliveries = DeliveryRepository(self.db(tenant))
        delivery = await deliveries.get(delivery_id)
        if delivery is None:
            return
        endpoint = await self.endpoint_repo(tenant).get(delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            log.warning("replay of %s skipped: its endpoint is gone or disabled", delivery_id)
            return
        result = await self._post(endpoint, delivery, None)
        status = DeliveryStatus.DELIVERED if result.ok else delivery.status
        next_at = None if result.ok else delivery.next_at
        await deliveries.record(delivery, result.attempt, status, next_at)
        metrics.webhook_deliveries_total.labels("replayed" if result.ok else "replay_failed").inc()
        if result.ok:
            self.backlog.settled(delivery)
