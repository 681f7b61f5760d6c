"""The status consumer: applies the Meta callbacks the API queued on `ccx.callbacks`.

One queue message is one callback POST as Meta sent it (its signature was checked before it
was queued). Its updates are applied in order and the message is acked once all are
recorded; a MongoDB failure puts it back (applying an update twice is harmless: the second
is stale). A body that is not JSON is rejected into the dead-letter queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from ccx.queue.hooks import HookNotifier
from ccx.queue.names import CALLBACKS_QUEUE
from ccx.queue.publisher import Publisher, PublisherUnavailable
from ccx.status.apply import Result, StatusApplier
from ccx.status.callbacks import parse
from ccx.store.mongo import Document
from ccx.telemetry import metrics
from ccx.telemetry.tracing import TraceContext, current_trace

log = logging.getLogger(__name__)

#: Pause before a callback whose updates could not be recorded goes back to the queue.
RETRY_PAUSE_S = 1.0


class StatusConsumer:
    """Consumes `ccx.callbacks` with a bounded prefetch; `start` returns at once."""

    def __init__(
        self,
        mongo: AsyncMongoClient[Document],
        platform_db: str,
        prefetch: int = 16,
    ) -> None:
        self.applier = StatusApplier(mongo, platform_db)
        self.prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self.notifier: HookNotifier | None = None

    async def start(self, connection: AbstractRobustConnection) -> None:
        self.notifier = HookNotifier(Publisher(connection))
        self._channel = await connection.channel()
        await self._channel.set_qos(prefetch_count=self.prefetch)
        queue = await self._channel.get_queue(CALLBACKS_QUEUE, ensure=False)
        await queue.consume(self._on_message)

    async def close(self) -> None:
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()  # unacked callbacks go back to the queue
            self._channel = None
        await self.applier.close()
        if self.notifier is not None and self.notifier.publisher is not None:
            with contextlib.suppress(Exception):
                await self.notifier.publisher.close()

    async def _notify(self, touched: list[tuple[str, str]]) -> None:
        """Tell the webhook delivery worker, before the ack: a callback redelivered after a
        crash here is stale, but notices again (a first delivery that is stale does not)."""
        if self.notifier is None:
            return
        by_tenant: dict[str, list[str]] = {}
        for tenant, message_id in touched:
            by_tenant.setdefault(tenant, []).append(message_id)
        for tenant, ids in by_tenant.items():
            await self.notifier.changed(tenant, ids)

    async def _on_message(self, delivery: AbstractIncomingMessage) -> None:
        headers = delivery.headers or {}
        traceparent = headers.get("traceparent")
        context = TraceContext.parse(traceparent if isinstance(traceparent, str) else None)
        token = current_trace.set(context.child() if context else TraceContext.new())
        try:
            await self.handle(delivery)
        finally:
            current_trace.reset(token)

    async def handle(self, delivery: AbstractIncomingMessage) -> None:
        try:
            payload = orjson.loads(delivery.body)
        except orjson.JSONDecodeError:
            log.error("a queued Meta callback is not JSON: dead-lettered")
            await delivery.reject(requeue=False)
            return
        parsed = parse(payload)
        received = datetime.now(UTC)
        touched: list[tuple[str, str]] = []
        try:
            for update in parsed.updates:
                about: list[tuple[str, str]] = []
                result = await self.applier.apply(update, about)
                # A stale status (Meta's `sent` after the worker recorded its answer) changed
                # nothing: whoever did has noticed. Unless this callback was delivered before
                # and the consumer died between its writes and its notice.
                if result is Result.APPLIED or delivery.redelivered:
                    touched += about
            await self._notify(touched)
            for template in parsed.templates:
                await self.applier.apply_template(template)
                log.warning(
                    "Meta: template %s/%s of WABA %s is now %s",
                    template.name,
                    template.language,
                    template.waba_id,
                    template.status,
                    extra={"reason": template.reason},
                )
            for error in parsed.errors:
                await self.applier.record_error(error, received)
        except (PyMongoError, PublisherUnavailable, aio_pika.exceptions.AMQPError) as exc:
            log.warning("status callback not recorded, retried: %r", exc)
            await asyncio.sleep(RETRY_PAUSE_S)
            await delivery.nack(requeue=True)
            return
        for error in parsed.errors:
            metrics.status_number_errors_total.labels(str(error.code or "")).inc()
            log.error(
                "Meta reports error %s on number %s: %s",
                error.code,
                error.phone_number_id,
                error.title,
                extra={"details": error.details},
            )
        if parsed.skipped:
            log.warning("%d status items of a callback could not be read", parsed.skipped)
        await delivery.ack()
