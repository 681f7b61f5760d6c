"""Group commit of accepted messages: for every request that arrives inside the window, one
Redis pipeline and one message insert per tenant, then one confirmed publish batch
(ARCHITECTURE §4 "never send twice", §8).

The rules, in order:

- RabbitMQ not connected before the batch starts → every item fails with
  `DependencyUnavailable("rabbitmq")` and nothing is written.
- MongoDB failing (idempotency records or the message insert) →
  `DependencyUnavailable("mongodb")`; the keys taken in Redis are given back. No 202 without
  the durable write.
- The messages are written in state `queued` (seq 2; `accepted` and `queued` are implied by
  the document, see `store.messages.implied_events`) with this process's writer id. The 202
  answers `accepted` once they are durable. One document per message, no other write and no
  update: FerretDB v1 pays a full collection scan for each updated document and a millisecond
  or more for each round trip.
- The outbox is the writer watermark (`ccx.store.writers`): the committer keeps its written but
  unconfirmed messages in memory, republishes them itself (`retry_unconfirmed`), and reports
  `low_watermark()`, which the API beats into its writer document every second; when the
  process dies, another process's relay republishes from that watermark.
- The publish failing *after* the insert → the message is durable and its marker stays, so the
  request still gets its 202; the relay (`ccx.ingest.relay`) publishes it later. A 503 there
  would make the client retry and could create a second message when it retries without an
  idempotency key, which is worse than a delay.
- A confirmed publish forgets the message; a failed one leaves it unconfirmed for the retry.

At most `concurrency` flushes run at once: requests arriving while every flush slot is busy
form the next batch, so the batch size follows the load and an idle server answers after a
single `window_ms`. Two slots let one batch's insert overlap the next one's round trip, which
can matter when the store is a network hop away; with every service on two local cores, one and
two gave the same latency and one cost less CPU (bigger batches), so one is the default (see the
README). The watermark covers every message from the moment
it is built (queued, being written, written and unconfirmed), so a process that dies between
two beats leaves nothing the relay's recovery would miss. Publishing and
recording run after the answers, in a second stage that overlaps the next flush (its backlog is
bounded by `post_backlog` batches; a lagging stage slows the flushes down) and takes every
batch waiting for it at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.ids import new_message_id
from ccx.ingest import metrics
from ccx.ingest.errors import ConflictError, DependencyUnavailable, InProgress
from ccx.ingest.idempotency import (
    IdempotencyStore,
    IdemRequest,
    Outcome,
    Reservation,
    fingerprint,
)
from ccx.queue.names import Tier
from ccx.queue.publisher import Dispatch, Publisher
from ccx.store.messages import Message, MessageRepository, Status, now_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.telemetry.tracing import TraceContext, current_trace, new_span_header

log = logging.getLogger(__name__)

StoreFactory = Callable[[str], MessageRepository]


@dataclass(frozen=True, slots=True)
class AcceptItem:
    """One validated message request of a tenant. `idempotency_key` defaults to the body's;
    `priority` and `sender` are what ingest resolved (template category, default sender) and
    override the body's. The idempotency fingerprint covers `request` only."""

    tenant: str
    request: Mapping[str, Any]
    idempotency_key: str | None = None
    traceparent: str | None = None
    priority: str | None = None
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the 202 says; `replayed` → header `idempotent-replayed: true`."""

    id: str
    status: str
    created_at: datetime
    replayed: bool = False


@dataclass(slots=True)
class _Pending:
    item: AcceptItem
    message: Message
    key: str | None
    fingerprint: str
    traceparent: str | None
    future: asyncio.Future[Accepted]
    reservation: Reservation | None = None
    followers: list[_Pending] = field(default_factory=list)


def build_message(item: AcceptItem, traceparent: str | None, writer: str | None = None) -> Message:
    """The new message document for a request (ValueError on a bad tenant or priority)."""
    tenant_db(item.tenant)
    request = item.request
    priority = str(Tier(request.get("priority") or item.priority or Tier.DEFAULT))
    context = TraceContext.parse(traceparent)
    created_at = now_ms()
    return Message(
        id=new_message_id(),
        to=request["to"],
        type=request["type"],
        created_at=created_at,
        updated_at=created_at,
        status=Status.QUEUED,
        seq=2,
        queued_at=created_at,
        writer=writer,
        sender=item.sender or request.get("from"),
        template=request.get("template"),
        text=request.get("text"),
        priority=priority,
        metadata=request.get("metadata"),
        on_ambiguous=request.get("on_ambiguous") or "hold",
        idempotency_key=item.idempotency_key or request.get("idempotency_key"),
        trace_id=context.trace_id if context else None,
    )


def _resolve(pending: _Pending, result: Accepted | BaseException) -> None:
    if pending.future.done():  # the caller went away; the work stands
        return
    if isinstance(result, BaseException):
        pending.future.set_exception(result)
    else:
        pending.future.set_result(result)


def _mongo_down(exc: BaseException) -> DependencyUnavailable:
    metrics.dependency_errors_total.labels("mongodb").inc()
    return DependencyUnavailable("mongodb", 1, type(exc).__name__)


class GroupCommitter:
    """Batches concurrent `submit` calls into shared round trips (see the module docstring)."""

    def __init__(
        self,
        store_factory: StoreFactory,
        idempotency: IdempotencyStore,
        publisher: Publisher,
        window_ms: float = 2.0,
        max_batch: int = 256,
        post_backlog: int = 4,
        writer_id: str | None = None,
        concurrency: int = 1,
    ) -> None:
        self.store_factory = store_factory
        self.writer_id = writer_id
        #: Written, not yet confirmed as published: id → (tenant, message).
        self._unconfirmed: dict[str, tuple[str, Message]] = {}
        self.idempotency = idempotency
        self.publisher = publisher
        self.window_s = window_ms / 1000
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._flushes: set[asyncio.Task[None]] = set()
        #: The oldest message of each batch taken for a flush, until the flush ends (watermark).
        self._in_flight: dict[int, datetime] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._post: asyncio.Queue[list[_Pending]] = asyncio.Queue(maxsize=post_backlog)
        self._poster: asyncio.Task[None] | None = None

    @classmethod
    def for_clients(
        cls,
        mongo: AsyncMongoClient[Document],
        idempotency_redis: Redis,
        publisher: Publisher,
        window_ms: float = 2.0,
        max_batch: int = 256,
        idempotency_ttl_s: int = 7 * 24 * 3600,
        replay_wait_s: float = 2.0,
        writer_id: str | None = None,
        concurrency: int = 1,
    ) -> GroupCommitter:
        """A committer over tenant databases of `mongo`, idempotency keys in Redis."""
        repositories: dict[str, MessageRepository] = {}

        def database(tenant: str) -> Any:
            return mongo[tenant_db(tenant)]

        def store(tenant: str) -> MessageRepository:
            repo = repositories.get(tenant)
            if repo is None:
                repo = repositories[tenant] = MessageRepository(database(tenant))
            return repo

        idem = IdempotencyStore(idempotency_redis, database, idempotency_ttl_s, replay_wait_s)
        return cls(
            store,
            idem,
            publisher,
            window_ms,
            max_batch,
            writer_id=writer_id,
            concurrency=concurrency,
        )

    async def submit(self, item: AcceptItem) -> Accepted:
        """Accept one message: returns once it is durable (or a replay), raises
        `ConflictError` (409), `DependencyUnavailable` (503) or ValueError (bad tenant/priority)."""
        ctx = current_trace.get()
        traceparent = item.traceparent or (ctx.header() if ctx else None)
        message = build_message(item, traceparent, self.writer_id)
        pending = _Pending(
            item,
            message,
            message.idempotency_key,
            fingerprint(item.request) if message.idempotency_key else "",
            traceparent,
            asyncio.get_running_loop().create_future(),
        )
        self._queue.append(pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._run())
        return await pending.future

    async def _run(self) -> None:
        await asyncio.sleep(self.window_s)
        while self._queue:
            await self._slots.acquire()
            if not self._queue:  # a flush that ended meanwhile took them
                self._slots.release()
                break
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            # in the watermark now, not when the task starts: a beat may run in between
            self._in_flight[id(batch)] = min(p.message.created_at for p in batch)
            task = asyncio.create_task(self._flush_in_slot(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _flush_in_slot(self, batch: Sequence[_Pending]) -> None:
        try:
            await self.flush(batch)
        except Exception as exc:  # a bug; never leave a caller hanging
            log.exception("group commit failed")
            for pending in batch:
                _resolve(pending, exc)
                for follower in pending.followers:
                    _resolve(follower, exc)
        finally:
            self._in_flight.pop(id(batch), None)
            self._slots.release()

    async def settle(self) -> None:
        """Wait until every submitted request is fully processed (published, marked queued)
        and the background replay checks are done. The committer stays usable."""
        while True:
            if self._flusher is not None and not self._flusher.done():
                await self._flusher
            elif self._flushes:
                await asyncio.gather(*self._flushes, return_exceptions=True)
            elif self._background:
                await asyncio.gather(*self._background, return_exceptions=True)
            else:
                await self._post.join()
                idle = self._flusher is None or self._flusher.done()
                if idle and not self._flushes and not self._background:
                    return

    async def close(self) -> None:
        """Finish the queued requests and the background replay checks."""
        await self.settle()
        if self._poster is not None:
            self._poster.cancel()
            await asyncio.gather(self._poster, return_exceptions=True)
            self._poster = None

    async def _run_post(self) -> None:
        while True:
            batches = [await self._post.get()]
            while not self._post.empty() and sum(map(len, batches)) < self.max_batch:
                batches.append(self._post.get_nowait())
            try:
                await self._publish_and_queue([p for batch in batches for p in batch])
            except Exception:
                log.exception("publishing accepted messages failed (the relay retries them)")
            finally:
                for _ in batches:
                    self._post.task_done()

    async def flush(self, batch: Sequence[_Pending]) -> None:
        """Commit one batch (normally called by the flusher task)."""
        started = time.perf_counter()
        metrics.batch_size.observe(len(batch))
        try:
            await self._flush(batch)
        finally:
            metrics.commit_seconds.observe(time.perf_counter() - started)

    async def _flush(self, batch: Sequence[_Pending]) -> None:
        if not self.publisher.ready:
            metrics.dependency_errors_total.labels("rabbitmq").inc()
            for pending in batch:
                _resolve(pending, DependencyUnavailable("rabbitmq", 2, "not connected"))
            return
        owners = await self._reserve(batch)
        if owners is None:
            return
        inserted = await self._insert(owners)
        if not inserted:
            return
        await self.idempotency.commit(
            [p.reservation for p in inserted if p.reservation is not None]
        )
        for pending in inserted:
            m = pending.message
            metrics.accepted_total.labels(pending.item.tenant, m.priority).inc()
            _resolve(pending, Accepted(m.id, str(Status.ACCEPTED), m.created_at))
            for follower in pending.followers:
                metrics.replays_total.labels(pending.item.tenant).inc()
                _resolve(follower, Accepted(m.id, str(Status.ACCEPTED), m.created_at, True))
        if self._poster is None or self._poster.done():
            self._poster = asyncio.create_task(self._run_post())
        await self._post.put(inserted)

    async def _reserve(self, batch: Sequence[_Pending]) -> list[_Pending] | None:
        """Idempotency for the keyed items; returns the items that create a message."""
        keyed = [p for p in batch if p.key]
        owners = [p for p in batch if not p.key]
        if not keyed:
            return owners
        requests = [
            IdemRequest(
                p.item.tenant, p.key or "", p.fingerprint, p.message.id, p.message.created_at
            )
            for p in keyed
        ]
        try:
            reservations = await self.idempotency.reserve_many(requests)
        except Exception as exc:
            log.warning("idempotency reservation failed: %r", exc)
            error = _mongo_down(exc)
            for pending in batch:
                _resolve(pending, error)
            return None
        by_id = {p.message.id: p for p in keyed}
        for pending, reservation in zip(keyed, reservations, strict=True):
            pending.reservation = reservation
            if reservation.outcome is Outcome.NEW:
                owners.append(pending)
            elif reservation.outcome is Outcome.CONFLICT:
                metrics.conflicts_total.inc()
                _resolve(pending, ConflictError(pending.key or "", reservation.message_id))
            elif reservation.durable:
                metrics.replays_total.labels(pending.item.tenant).inc()
                _resolve(pending, _replayed(reservation))
            elif reservation.message_id in by_id:  # the original is in this very batch
                by_id[reservation.message_id].followers.append(pending)
            else:
                self._spawn(self._confirm(pending, reservation))
        return owners

    async def _insert(self, owners: list[_Pending]) -> list[_Pending]:
        by_tenant: dict[str, list[_Pending]] = {}
        for pending in owners:
            by_tenant.setdefault(pending.item.tenant, []).append(pending)
        inserted: list[_Pending] = []
        for tenant, items in by_tenant.items():
            repo = self.store_factory(tenant)
            error: DependencyUnavailable | None = None
            written: set[str] = set()
            try:
                outcome = await repo.insert_many([p.message for p in items])
                written = set(outcome.inserted)
                if len(written) < len(items):
                    error = DependencyUnavailable("mongodb", 1, "insert failed")
            except Exception as exc:
                log.warning("message insert failed for %s: %r", tenant, exc)
                error = _mongo_down(exc)
                written = await self._landed(repo, [p.message.id for p in items])
            failed = [p for p in items if p.message.id not in written]
            if failed:
                await self._release(tenant, failed)
                for pending in failed:
                    _resolve(pending, error or DependencyUnavailable("mongodb"))
                    for follower in pending.followers:
                        _resolve(follower, error or DependencyUnavailable("mongodb"))
            inserted += [p for p in items if p.message.id in written]
        for pending in inserted:
            self._unconfirmed[pending.message.id] = (pending.item.tenant, pending.message)
        return inserted

    async def _landed(self, repo: MessageRepository, ids: list[str]) -> set[str]:
        """After an insert that failed without saying what it wrote (a timeout: the write
        may land after it): the messages that are stored, accepted like any other; the rest
        are refused. Refusing a stored message would let the relay or the sweeper send it
        while the client, told 503, sends it again. When the store cannot tell, the messages
        are deleted so the refusal holds."""
        try:
            return await repo.existing(ids)
        except Exception as exc:
            log.warning("could not check which messages the failed insert wrote: %r", exc)
        try:
            await repo.discard(ids)
        except Exception as exc:
            log.error(
                "messages %s may be stored although refused (check nor delete answered): %r",
                ids,
                exc,
            )
        return set()

    async def _release(self, tenant: str, failed: list[_Pending]) -> None:
        """Give back the keys of messages that were not written (best effort: with MongoDB
        down, idempotency finds the orphans later)."""
        del tenant
        try:
            await self.idempotency.release([p.reservation for p in failed if p.reservation])
        except Exception as exc:
            log.warning("could not release idempotency keys: %r", exc)

    async def _publish_and_queue(self, inserted: list[_Pending]) -> None:
        dispatches = [
            Dispatch(p.message.id, p.item.tenant, p.message.priority, p.traceparent)
            for p in inserted
        ]
        results = await self.publisher.publish_batch(dispatches)
        confirmed = [p for p, ok in zip(inserted, results, strict=True) if ok is True]
        if len(confirmed) < len(inserted):
            failures = [r for r in results if r is not True]
            metrics.publish_failures_total.inc(len(failures))
            metrics.dependency_errors_total.labels("rabbitmq").inc()
            log.warning(
                "%d of %d publishes failed (the relay retries them): %r",
                len(failures),
                len(inserted),
                failures[0],
            )
        for pending in confirmed:
            self._unconfirmed.pop(pending.message.id, None)

    def low_watermark(self, now: datetime | None = None) -> datetime:
        """No later than the creation of any message submitted and not yet confirmed as
        published: waiting for a flush, being written, or written and unconfirmed (else
        `now`). A message being written must count: its insert can land after the beat."""
        candidates = [m.created_at for _, m in self._unconfirmed.values()]
        candidates += self._in_flight.values()
        if self._queue:
            candidates.append(min(p.message.created_at for p in self._queue))
        return min(candidates, default=None) or now or now_ms()

    @property
    def unconfirmed(self) -> int:
        """Messages written whose publish is not confirmed yet."""
        return len(self._unconfirmed)

    async def retry_unconfirmed(self, older_than_s: float, now: datetime | None = None) -> int:
        """Republish the unconfirmed messages created more than `older_than_s` ago (the
        publish after their insert failed); returns how many are now confirmed. A message
        cancelled meanwhile is published anyway: the worker's claim refuses it."""
        cutoff = (now or now_ms()) - timedelta(seconds=older_than_s)
        stale = [(t, m) for t, m in self._unconfirmed.values() if m.created_at < cutoff]
        if not stale:
            return 0
        items = [
            Dispatch(m.id, tenant, m.priority, new_span_header(m.trace_id), m.attempt)
            for tenant, m in stale
        ]
        results = await self.publisher.publish_batch(items)
        confirmed = 0
        for (tenant, message), ok in zip(stale, results, strict=True):
            if ok is True:
                self._unconfirmed.pop(message.id, None)
                metrics.relayed_total.labels(tenant).inc()
                confirmed += 1
        return confirmed

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _confirm(self, pending: _Pending, reservation: Reservation) -> None:
        """A repeat of a request another process may still be writing: wait for it."""
        try:
            durable = await self.idempotency.confirm(reservation)
        except InProgress as exc:
            _resolve(pending, exc)
            return
        except Exception as exc:
            _resolve(pending, _mongo_down(exc))
            return
        if durable is not None:
            metrics.replays_total.labels(pending.item.tenant).inc()
            _resolve(pending, _replayed(durable))
            return
        try:  # the original's owner died before writing it: this request takes the key
            _resolve(pending, await self.submit(pending.item))
        except Exception as exc:
            _resolve(pending, exc)


def _replayed(reservation: Reservation) -> Accepted:
    return Accepted(reservation.message_id, reservation.status, reservation.created_at, True)
