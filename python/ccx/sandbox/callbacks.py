"""Status callbacks: plan each message's statuses, batch the due ones, sign and POST, retry.

Runs as tasks on the server's event loop (robyn runs Python handlers on one asyncio loop in
the main thread), so scheduling from a request handler is a heap push, never a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import hmac
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import httpx

from ccx.sandbox.envelope import StatusEvent, build_envelope, encode, signature
from ccx.sandbox.faults import CallbackDecision

log = logging.getLogger("ccx.sandbox.callbacks")
DUPLICATE_GAP_S = 0.01


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    url: str = ""
    sent_delay_s: float = 0.1
    delivered_delay_s: float = 0.4
    read_delay_s: float = 1.0
    max_attempts: int = 8
    retry_base_s: float = 1.0
    retry_max_s: float = 60.0
    timeout_s: float = 5.0
    #: Statuses falling due within this window of each other share one POST.
    batch_window_s: float = 0.005
    max_batch: int = 100
    concurrency: int = 32

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, data: Mapping[str, Any]) -> CallbackSettings:
        kinds = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        unknown = set(data) - set(kinds)
        if unknown:
            raise ValueError(f"unknown callback setting(s) {sorted(unknown)}")
        new = replace(self, **{k: kinds[k](v) for k, v in data.items()})
        numbers = [getattr(new, f.name) for f in fields(new) if f.name != "url"]
        if any(n < 0 for n in numbers) or new.max_attempts < 1 or new.max_batch < 1:
            raise ValueError("callback settings must be >= 0 (attempts and batch >= 1)")
        if new.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        return new


@dataclass(slots=True)  # not frozen: built on every send, frozen init is slower
class PlannedStatus:
    #: Seconds after the accept when this status is POSTed.
    send_after_s: float
    status: str
    #: Seconds after the accept that the status' own timestamp says it happened.
    happened_after_s: float
    error_code: int | None = None
    #: Never batched with other statuses (duplicates arrive as POSTs of their own).
    separate: bool = False


def plan(decision: CallbackDecision, settings: CallbackSettings) -> list[PlannedStatus]:
    """The statuses one accepted message will report, with faults applied."""
    if decision.drop:
        return []
    t_sent = settings.sent_delay_s
    t_delivered = t_sent + settings.delivered_delay_s
    t_read = t_delivered + settings.read_delay_s
    logical: list[tuple[str, float, int | None]] = [("sent", t_sent, None)]
    if decision.fail_code is not None:
        logical.append(("failed", t_delivered, decision.fail_code))
    else:
        if not decision.skip_delivered:
            logical.append(("delivered", t_delivered, None))
        logical.append(("read", t_read, None))
    send_times = [t for _, t, _ in logical]
    if decision.reorder:
        send_times.reverse()
    out = [
        PlannedStatus(send_at, status, happened, code)
        for (status, happened, code), send_at in zip(logical, send_times, strict=True)
    ]
    if decision.duplicate:
        out += [
            replace(p, send_after_s=p.send_after_s + DUPLICATE_GAP_S, separate=True) for p in out
        ]
    return sorted(out, key=lambda p: p.send_after_s)


@dataclass(slots=True)
class CallbackStats:
    scheduled: int = 0
    posted: int = 0
    statuses_posted: int = 0
    attempts: int = 0
    failures: int = 0
    given_up: int = 0
    skipped_no_url: int = 0
    cancelled: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)


class CallbackDispatcher:
    """Holds due statuses in a heap; a runner task batches and POSTs them."""

    def __init__(
        self,
        settings: CallbackSettings,
        app_secret: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.app_secret = app_secret
        self.stats = CallbackStats()
        self._clock = clock
        self._heap: list[tuple[float, int, StatusEvent, bool]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._sem = asyncio.Semaphore(settings.concurrency)

    @property
    def pending(self) -> int:
        """Statuses waiting for their time, plus POSTs being made or retried."""
        return len(self._heap) + len(self._tasks)

    def configure(self, settings: CallbackSettings) -> None:
        if settings.concurrency != self.settings.concurrency:
            self._sem = asyncio.Semaphore(settings.concurrency)
        self.settings = settings

    def schedule(self, event: StatusEvent, delay_s: float, separate: bool = False) -> None:
        heapq.heappush(self._heap, (self._clock() + delay_s, next(self._order), event, separate))
        self.stats.scheduled += 1
        if self._heap[0][2] is event:
            self._wake.set()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        self._runner = asyncio.create_task(self._run(), name="sandbox-callbacks")

    async def stop(self) -> None:
        self.cancel_all()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._client is not None:
            await self._client.aclose()

    def cancel_all(self) -> None:
        """Forget every pending status and stop every retry (admin reset)."""
        self.stats.cancelled += len(self._heap) + len(self._tasks)
        self._heap.clear()
        for task in list(self._tasks):
            task.cancel()

    async def _run(self) -> None:
        while True:
            if not self._heap:
                await self._wake.wait()
                self._wake.clear()
                continue
            wait = self._heap[0][0] - self._clock()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                self._wake.clear()
                continue
            horizon = self._clock() + self.settings.batch_window_s
            batch: list[StatusEvent] = []
            while self._heap and self._heap[0][0] <= horizon:
                _, _, event, separate = heapq.heappop(self._heap)
                if separate:
                    self._spawn(self._deliver([event]))
                    continue
                batch.append(event)
                if len(batch) >= self.settings.max_batch:
                    self._spawn(self._deliver(batch))
                    batch = []
            if batch:
                self._spawn(self._deliver(batch))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, events: list[StatusEvent]) -> None:
        s = self.settings
        if not s.url:
            self.stats.skipped_no_url += len(events)
            return
        assert self._client is not None
        body = encode(build_envelope(events))
        headers = {
            "content-type": "application/json",
            "user-agent": "facebookexternalua",
            "x-hub-signature-256": signature(body, self.app_secret),
            "x-hub-signature": "sha1="
            + hmac.new(self.app_secret.encode(), body, hashlib.sha1).hexdigest(),
        }
        for attempt in range(1, s.max_attempts + 1):
            self.stats.attempts += 1
            try:
                async with self._sem:
                    reply = await self._client.post(
                        s.url, content=body, headers=headers, timeout=s.timeout_s
                    )
                answer = str(reply.status_code)
            except httpx.HTTPError as exc:
                answer = type(exc).__name__
            if answer == "200":
                self.stats.posted += 1
                self.stats.statuses_posted += len(events)
                return
            self.stats.failures += 1
            log.info(
                "callback POST failed",
                extra={"answer": answer, "attempt": attempt, "statuses": len(events)},
            )
            if attempt < s.max_attempts:
                await asyncio.sleep(min(s.retry_max_s, s.retry_base_s * 2 ** (attempt - 1)))
        self.stats.given_up += 1
        log.warning(
            "callback given up",
            extra={"attempts": s.max_attempts, "wamids": [e.wamid for e in events][:10]},
        )
