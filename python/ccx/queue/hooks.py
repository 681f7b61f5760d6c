"""Notices to the client-webhook delivery worker (ARCHITECTURE §7).

Whoever records a state change of a message (dispatch worker, status consumer, cancel,
sweeper) publishes `changed` with the message's id after the change is stored and before it
acks its own input. A notice says only "look at this message again": the delivery worker
works out from the message's events what each endpoint has not had yet, so a duplicate notice
costs a lookup and a lost one is made up by the next change of the same message. Replays name
delivery records to send again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Sequence

import orjson

from ccx.queue.names import (
    HOOKS_ROUTING_KEY,
    HOOKS_WAIT_STEPS,
    hooks_wait_routing_key,
)
from ccx.queue.publisher import Publisher
from ccx.telemetry import metrics

log = logging.getLogger(__name__)

NOTICE_VERSION = 1
#: Most message ids in one notice.
NOTICE_MAX = 256


def changed_notice(tenant: str, message_ids: Sequence[str]) -> bytes:
    return orjson.dumps(
        {"v": NOTICE_VERSION, "kind": "changed", "tenant": tenant, "messages": list(message_ids)}
    )


def resume_notice(tenant: str, endpoint_id: str, message_ids: Sequence[str]) -> bytes:
    return orjson.dumps(
        {
            "v": NOTICE_VERSION,
            "kind": "resume",
            "tenant": tenant,
            "endpoint": endpoint_id,
            "messages": list(message_ids),
        }
    )


def replay_notice(tenant: str, delivery_ids: Sequence[str]) -> bytes:
    return orjson.dumps(
        {"v": NOTICE_VERSION, "kind": "replay", "tenant": tenant, "deliveries": list(delivery_ids)}
    )


def wait_step(delay_s: float) -> str:
    """The shortest wait queue that holds a notice at least `delay_s` (the longest if none)."""
    for step, seconds in HOOKS_WAIT_STEPS.items():
        if seconds >= delay_s:
            return step
    return next(reversed(HOOKS_WAIT_STEPS))


def jittered(step: str, rng: random.Random | None = None) -> float:
    """A delay in (80 %, 100 %] of `step`: retries of many messages spread out, and none
    waits longer than its queue's TTL."""
    seconds = HOOKS_WAIT_STEPS[step]
    return seconds * (1.0 - 0.2 * (rng or random).random())


class HookNotifier:
    """Publishes notices with confirms over `publisher` (on WORK_EXCHANGE); without one
    (not connected yet) `try_changed` does nothing."""

    def __init__(self, publisher: Publisher | None, retry: Publisher | None = None) -> None:
        self.publisher = publisher
        #: publisher on RETRY_EXCHANGE, for `later` (delivery worker only)
        self.retry = retry

    async def changed(self, tenant: str, message_ids: Iterable[str]) -> None:
        """Raises when the notice is not confirmed (the caller decides whether that matters)."""
        if self.publisher is None:
            raise RuntimeError("HookNotifier has no publisher")
        ids = list(dict.fromkeys(message_ids))
        for start in range(0, len(ids), NOTICE_MAX):
            chunk = ids[start : start + NOTICE_MAX]
            await self.publisher.publish_body(changed_notice(tenant, chunk), HOOKS_ROUTING_KEY)
            metrics.webhook_notices_total.labels("changed").inc()

    async def try_changed(self, tenant: str, message_ids: Iterable[str]) -> bool:
        """`changed`, logging instead of raising (the message's next change makes up for a
        lost notice)."""
        if self.publisher is None:
            return False
        try:
            await self.changed(tenant, message_ids)
        except Exception as exc:
            metrics.webhook_notices_total.labels("lost").inc()
            log.warning("webhook notice for tenant %s not queued: %r", tenant, exc)
            return False
        return True

    async def replay(self, tenant: str, delivery_ids: Sequence[str]) -> None:
        if self.publisher is None:
            raise RuntimeError("HookNotifier has no publisher")
        for start in range(0, len(delivery_ids), NOTICE_MAX):
            chunk = delivery_ids[start : start + NOTICE_MAX]
            await self.publisher.publish_body(replay_notice(tenant, chunk), HOOKS_ROUTING_KEY)
            metrics.webhook_notices_total.labels("replay").inc()

    async def resume(self, tenant: str, endpoint_id: str, message_ids: Sequence[str]) -> None:
        """A re-enabled endpoint: read the tenant's endpoints afresh, then walk these
        messages (those with a delivery left pending) again."""
        if self.publisher is None:
            raise RuntimeError("HookNotifier has no publisher")
        for start in range(0, len(message_ids), NOTICE_MAX):
            chunk = message_ids[start : start + NOTICE_MAX]
            body = resume_notice(tenant, endpoint_id, chunk)
            await self.publisher.publish_body(body, HOOKS_ROUTING_KEY)
            metrics.webhook_notices_total.labels("resume").inc()

    async def later(
        self, tenant: str, message_id: str, delay_s: float, at_least: float = 0.0
    ) -> float:
        """Notice about `message_id` again after about `delay_s` (a retry): the wait queue
        that covers it, jittered below its step, never less than `at_least` (an endpoint's
        `Retry-After`). Returns the wait."""
        if self.retry is None:
            raise RuntimeError("HookNotifier.later needs a publisher on the retry exchange")
        step = wait_step(max(delay_s, at_least))
        wait = min(max(at_least, jittered(step)), float(HOOKS_WAIT_STEPS[step]))
        await self.retry.publish_body(
            changed_notice(tenant, [message_id]),
            hooks_wait_routing_key(step),
            expiration_s=wait,
        )
        return wait


__all__ = ["HookNotifier", "changed_notice", "replay_notice", "wait_step"]


class _Batch:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ids: dict[str, list[str]] = {}
        self.done: asyncio.Future[dict[str, bool]] = loop.create_future()


class NoticeBatcher:
    """Group commit for `changed` notices: the ids given within `window_s` of each other
    share one confirmed publish per tenant, and each caller returns once its batch is
    confirmed (True) or lost (False, logged). One publish per dispatch envelope costs
    RabbitMQ a quorum-queue write each: measured, the 202 → sent p50 at 100 msg/s went from
    90 to 224 ms."""

    def __init__(self, notifier: HookNotifier, window_s: float = 0.005) -> None:
        self.notifier = notifier
        self.window_s = window_s
        self._open: _Batch | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def changed(self, tenant: str, message_ids: Iterable[str]) -> bool:
        if self.notifier.publisher is None:
            return False
        batch = self._open
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._open = _Batch(loop)
            loop.call_later(self.window_s, self._close, batch)
        batch.ids.setdefault(tenant, []).extend(message_ids)
        results = await asyncio.shield(batch.done)
        return results.get(tenant, False)

    def _close(self, batch: _Batch) -> None:
        if self._open is batch:
            self._open = None
        task = asyncio.ensure_future(self._publish(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, batch: _Batch) -> None:
        results: dict[str, bool] = {}
        try:
            for tenant, ids in batch.ids.items():
                results[tenant] = await self.notifier.try_changed(tenant, ids)
        finally:
            if not batch.done.done():
                batch.done.set_result(results)
