"""Rate limits shared by every worker: GCRA buckets in Redis, one atomic Lua call per batch.

The native per-number buckets of `pacing` are the local first stage; this is the second, the
one that holds across processes and machines. A message asks for all its buckets at once
(its sender number, the sender-recipient pair, optionally its template and its tenant) and
gets either all of them or none: a message held back by one bucket takes nothing from the
others. A held-back message waits and asks again; throttling never fails a message.

Each bucket is a GCRA cell (one number per key: the theoretical arrival time, in ms on the
Redis clock, so workers on different machines agree): `rate` per second, `burst` at once.
Requests that arrive within `linger_s` of each other share one EVALSHA, evaluated in order,
most urgent first.

When Redis is unreachable the shared stage is skipped (logged, counted in
`ccx_dispatch_limit_errors_total`): the local buckets still bound each process, and Meta's
own throttling answers still cut a number's rate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ccx.telemetry import metrics

log = logging.getLogger(__name__)

PREFIX = "ccx:rl:"

#: ARGV: request count, then per request: bucket count, then per bucket the KEYS index,
#: emission interval (ms) and tolerance (ms). Returns per request 0 (granted) or the ms to
#: wait before asking again.
GCRA_BATCH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat, dirty, ttl = {}, {}, {}
local out = {}
local pos = 2
for r = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[pos]); pos = pos + 1
  local wait, picks = 0, {}
  for b = 1, n do
    local k = tonumber(ARGV[pos])
    local interval = tonumber(ARGV[pos + 1])
    local tolerance = tonumber(ARGV[pos + 2])
    pos = pos + 3
    if tat[k] == nil then tat[k] = tonumber(redis.call('GET', KEYS[k]) or '0') end
    local start = math.max(tat[k], now)
    if start - now > tolerance then
      wait = math.max(wait, start - now - tolerance)
    end
    picks[b] = {k, start + interval, tolerance}
  end
  if wait == 0 then
    for _, p in ipairs(picks) do
      tat[p[1]] = p[2]; dirty[p[1]] = true; ttl[p[1]] = p[2] - now
    end
  end
  out[r] = math.ceil(wait)
end
for k, _ in pairs(dirty) do
  redis.call('SET', KEYS[k], string.format('%.3f', tat[k]), 'PX', math.max(1, math.ceil(ttl[k])))
end
return out
"""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One shared limit: at most `rate` per second, `burst` at once, under `key`."""

    key: str
    rate: float
    burst: float = 1.0

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.rate

    @property
    def tolerance_ms(self) -> float:
        return self.interval_ms * (max(1.0, self.burst) - 1.0)


@dataclass(order=True)
class _Request:
    rank: int
    seq: int
    buckets: Sequence[Bucket] = field(compare=False)
    future: asyncio.Future[float] = field(compare=False)


def encode(requests: Sequence[Sequence[Bucket]]) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of one GCRA_BATCH call (each distinct key once)."""
    keys: dict[str, int] = {}
    argv = [str(len(requests))]
    for buckets in requests:
        argv.append(str(len(buckets)))
        for b in buckets:
            index = keys.setdefault(PREFIX + b.key, len(keys) + 1)
            argv += [str(index), repr(b.interval_ms), repr(b.tolerance_ms)]
    return list(keys), argv


class SharedLimits:
    """Batched GCRA buckets in Redis; `acquire` returns once every bucket granted a token."""

    def __init__(
        self,
        redis: Redis,
        linger_s: float = 0.001,
        max_batch: int = 128,
        max_wait_s: float = 1.0,
    ) -> None:
        self.redis = redis
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._script = redis.register_script(GCRA_BATCH)
        self._queue: list[_Request] = []
        self._seq = 0
        self._flusher: asyncio.Task[None] | None = None
        self._warned_at = -1e9

    async def acquire(self, buckets: Sequence[Bucket], rank: int = 0) -> float:
        """Wait until all `buckets` grant a token (lower `rank` first within a batch); returns
        the seconds spent waiting for tokens."""
        active = [b for b in buckets if b.rate > 0]
        if not active:
            return 0.0
        waited = 0.0
        while True:
            wait_ms = await self._ask(active, rank)
            if wait_ms <= 0:
                return waited
            wait_s = min(wait_ms / 1000.0, self.max_wait_s)
            waited += wait_s
            await asyncio.sleep(wait_s)

    def _ask(self, buckets: Sequence[Bucket], rank: int) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._queue.append(_Request(rank, self._seq, buckets, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="shared-limits")
        return future

    async def _flush(self) -> None:
        while self._queue:
            if len(self._queue) < self.max_batch:
                await asyncio.sleep(self.linger_s)
            self._queue.sort()
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            waits = await self._evaluate([r.buckets for r in batch])
            for request, wait in zip(batch, waits, strict=True):
                if not request.future.done():
                    request.future.set_result(wait)

    async def _evaluate(self, requests: Sequence[Sequence[Bucket]]) -> list[float]:
        keys, argv = encode(requests)
        started = time.perf_counter()
        try:
            result = await self._script(keys=keys, args=argv)
        except (RedisError, OSError) as exc:
            metrics.dispatch_limit_errors_total.inc()
            now = time.monotonic()
            if now - self._warned_at > 10:
                self._warned_at = now
                log.warning("shared rate limits skipped, Redis failed: %r", exc)
            return [0.0] * len(requests)
        finally:
            metrics.dispatch_limit_seconds.observe(time.perf_counter() - started)
        waits = [float(w) for w in result]
        metrics.dispatch_limit_waits_total.inc(sum(1 for w in waits if w > 0))
        return waits

    async def close(self) -> None:
        """Let the batch in flight finish."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
