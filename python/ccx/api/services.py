"""The clients one API worker process holds: MongoDB, Redis, RabbitMQ, and what is built on them.

The API starts even while a dependency is down. MongoDB and Redis clients connect lazily and
reconnect by themselves; RabbitMQ is connected by a background task that keeps trying, after
which the robust connection reopens on its own. Until then `committer` is None and the message
routes answer 503. Background tasks: the RabbitMQ connector, the key-ring refresh (picks up
`ccx keys rotate`) and the outbox relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.auth import Authenticator, KeyRing, keystore
from ccx.cache import redis as cache
from ccx.config import Settings
from ccx.health import describe_error
from ccx.ids import new_message_id
from ccx.ingest.accept import GroupCommitter
from ccx.ingest.relay import Relay
from ccx.ingest.senders import SenderDirectory
from ccx.ingest.templates import TemplateCatalog
from ccx.queue import connection as queue
from ccx.queue.publisher import Publisher
from ccx.queue.topology import declare_shared
from ccx.security import DataKeys
from ccx.store import mongo as store
from ccx.store.messages import MessageRepository, now_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.tenants import TenantRepository
from ccx.store.writers import WriterRegistry

log = logging.getLogger(__name__)

#: How long a tenant lookup is trusted: found tenants for a while, missing ones only briefly so
#: that `ccx tenant create` takes effect quickly.
TENANT_TTL_S = 30.0
MISSING_TENANT_TTL_S = 2.0
#: How often this process refreshes its writer watermark (`ccx.store.writers`).
WRITER_BEAT_S = 1.0


class Services:
    """Per-process clients and background tasks of the API (see the module docstring)."""

    def __init__(self, settings: Settings, *, relay: bool = True) -> None:
        self.settings = settings
        self.mongo: AsyncMongoClient[Document] = store.make_client(settings.mongo)
        self.redis: Redis = cache.make_client(settings.redis)
        self.rabbit: AbstractRobustConnection | None = None
        self.publisher: Publisher | None = None
        self.committer: GroupCommitter | None = None
        self.tenants = TenantRepository(self.mongo, settings.mongo.platform_db)
        self.configured_keys = KeyRing.from_settings(settings.auth)
        self.authenticator = Authenticator.from_settings(settings.auth, self.configured_keys)
        self.templates = TemplateCatalog(self.database)
        self.data_keys = DataKeys.from_settings(settings.security)
        self.senders = SenderDirectory(self.database, self.data_keys)
        self.rabbit_error = "not connected yet"
        self.writers = WriterRegistry(self.mongo, settings.mongo.platform_db)
        self.writer_id = "w_" + new_message_id()[4:]
        self._relay_enabled = relay
        self._repositories: dict[str, MessageRepository] = {}
        self._tenant_cache: dict[str, tuple[bool, float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background tasks; returns at once (nothing here waits for a service)."""
        self._spawn(self._connect_rabbit(), "rabbitmq-connect")
        if self.settings.auth.use_key_store:
            self._spawn(self._refresh_keys(), "keyring-refresh")

    async def close(self) -> None:
        """Finish in-flight commits, stop the tasks, close the clients."""
        self._stop.set()
        if self.committer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.committer.close(), 10)
            if self.committer.unconfirmed == 0:  # nothing left for another relay to recover
                with contextlib.suppress(Exception):
                    await self.writers.remove(self.writer_id)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.publisher is not None:
            with contextlib.suppress(Exception):
                await self.publisher.close()
        if self.rabbit is not None:
            with contextlib.suppress(Exception):
                await self.rabbit.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        with contextlib.suppress(Exception):
            await self.mongo.close()

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(f"ccx-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect_rabbit(self) -> None:
        delay = max(0.2, self.settings.rabbitmq.reconnect_interval_s)
        while not self._stop.is_set():
            try:
                self.rabbit = await queue.connect(self.settings.rabbitmq, name="ccx-api")
                await declare_shared(self.rabbit)  # the queues this process publishes to
                publisher = Publisher(self.rabbit)
                await publisher.start()
            except Exception as exc:
                self.rabbit_error = describe_error(exc, self.settings.rabbitmq.timeout_s)
                if self.rabbit is not None:
                    with contextlib.suppress(Exception):
                        await self.rabbit.close()
                    self.rabbit = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                continue
            self.publisher = publisher
            await self._open_accept_path(publisher)
            return

    async def _open_accept_path(self, publisher: Publisher) -> None:
        """Register this process as a writer (its watermark document must exist before its
        first message), then open the accept path, beat every second and run the relay."""
        ingest = self.settings.ingest
        while not self._stop.is_set():
            try:
                await self.writers.beat(self.writer_id, now_ms())
                break
            except Exception as exc:
                log.warning("writer registration failed (MongoDB): %r", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 1.0)
        committer = GroupCommitter.for_clients(
            self.mongo,
            self.redis,
            publisher,
            window_ms=ingest.window_ms,
            max_batch=ingest.max_batch,
            concurrency=ingest.commit_concurrency,
            idempotency_ttl_s=ingest.idempotency_ttl_s,
            replay_wait_s=ingest.replay_wait_s,
            writer_id=self.writer_id,
        )
        self.committer = committer
        log.info("rabbitmq connected; the accept path is open", extra={"writer": self.writer_id})
        self._spawn(self._beat(committer), "writer-beat")
        if self._relay_enabled:
            relay = Relay(
                self.tenants,
                self.messages,
                publisher,
                self.writers,
                committer,
                after_s=ingest.relay_after_s,
                dead_after_s=ingest.writer_dead_after_s,
                batch=ingest.relay_batch,
            )
            await relay.run_forever(ingest.relay_interval_s, self._stop)

    async def _beat(self, committer: GroupCommitter) -> None:
        while not self._stop.is_set():
            try:
                await self.writers.beat(self.writer_id, committer.low_watermark())
            except Exception as exc:
                log.warning("writer beat failed: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), WRITER_BEAT_S)

    async def _refresh_keys(self) -> None:
        db = self.mongo[self.settings.mongo.platform_db]
        period = max(1.0, self.settings.auth.keyring_refresh_s)
        while not self._stop.is_set():
            try:
                await keystore.refresh(db, self.authenticator, self.configured_keys)
                wait = period
            except Exception as exc:  # MongoDB down: configured keys keep working
                log.warning("key ring refresh failed: %s", describe_error(exc, period))
                wait = min(period, 2.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    # -- lookups --------------------------------------------------------------------------------

    def messages(self, tenant: str) -> MessageRepository:
        """The message repository of a tenant (one per tenant and process)."""
        repo = self._repositories.get(tenant)
        if repo is None:
            repo = self._repositories[tenant] = MessageRepository(self.mongo[tenant_db(tenant)])
        return repo

    def database(self, tenant: str) -> Any:
        """The tenant's database (`ccx_t_<tenant>`)."""
        return self.mongo[tenant_db(tenant)]

    async def tenant_exists(self, tenant: str) -> bool:
        """Whether the tenant was created and is active (cached; raises when MongoDB is down
        and the answer is not cached)."""
        now = time.monotonic()
        cached = self._tenant_cache.get(tenant)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = await self.tenants.get(tenant)
        exists = found is not None and found.active
        ttl = TENANT_TTL_S if exists else MISSING_TENANT_TTL_S
        self._tenant_cache[tenant] = (exists, now + ttl)
        return exists

    # -- readiness ------------------------------------------------------------------------------

    async def readiness(self, timeout_s: float = 1.0) -> dict[str, dict[str, Any]]:
        """Each dependency: `{ok, latency_ms, detail?}`, checked on this process's own clients."""

        async def rabbit() -> str:
            if self.publisher is None or not self.publisher.ready:
                raise ConnectionError(
                    self.rabbit_error if self.publisher is None else "reconnecting"
                )
            return "connected"

        checks: dict[str, Callable[[], Awaitable[Any]]] = {
            "mongodb": lambda: self.mongo.admin.command("ping"),
            "redis": lambda: self.redis.ping(),
            "rabbitmq": rabbit,
        }
        results = await asyncio.gather(*(_probe(check, timeout_s) for check in checks.values()))
        return dict(zip(checks, results, strict=True))


async def _probe(check: Callable[[], Awaitable[Any]], timeout_s: float) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except Exception as exc:
        elapsed = round((time.perf_counter() - start) * 1000, 1)
        return {"ok": False, "latency_ms": elapsed, "detail": describe_error(exc, timeout_s)}
    return {"ok": True, "latency_ms": round((time.perf_counter() - start) * 1000, 1)}
