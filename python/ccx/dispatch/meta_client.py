"""`MetaClient`: POST one message to Meta's `/{version}/{phone_number_id}/messages`.

Every call returns an `Outcome` (see `outcomes.py`) and never raises for HTTP or network
failures. What matters for never-send-twice is *when* a failure struck:

- before a connection was in hand (pool wait, DNS, connection refused, connect timeout):
  `RETRY`, no byte of the request left this process;
- once a connection was obtained (new or reused), aiohttp writes the request at once, so
  any failure from then on (read timeout, reset, server closed the keep-alive connection,
  broken body, the total timeout) is `AMBIGUOUS`: Meta may have accepted it.

The phase comes from aiohttp's trace hooks (`on_connection_create_end`,
`on_connection_reuseconn`), so it does not depend on guessing from exception types, and a
total-timeout cancellation is classified by where it struck. aiohttp never retries a POST
on its own (only idempotent methods), so one `send` is at most one request on the wire.

HTTP library, chosen by measurement (`bench/dispatch/http_client.py`, figures in the README
"Dispatch (in progress)"): against a local `ccx sandbox`, 64 concurrent senders on 64 pooled
keep-alive connections, aiohttp 3.14 did 4,298 sends/s at p99 34 ms with 171 µs of client
CPU per send; httpx 0.28 did 266 sends/s at p99 1,092 ms with 3,751 µs per send (at 8
connections: 3,393 vs 624 sends/s). The dispatch worker's budget is the client's CPU on a
2-core machine, so aiohttp it is. HTTP/1.1 with keep-alive, one session per process.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson

from ccx.config import DispatchSettings
from ccx.dispatch.outcomes import Outcome, classify_response, maybe_sent, not_sent
from ccx.telemetry import metrics

KEEPALIVE_S = 30.0


def messages_url(base_url: str, version: str, phone_number_id: str) -> str:
    """`{base_url}/{version}/{phone_number_id}/messages`, tolerant of a trailing slash."""
    if not phone_number_id.isdigit():
        raise ValueError(f"phone_number_id must be numeric, got {phone_number_id!r}")
    return f"{base_url.rstrip('/')}/{version}/{phone_number_id}/messages"


def request_headers(access_token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {access_token}", "content-type": "application/json"}


class _Phase:
    """Per-request flag set by the trace hooks once a connection is in hand."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = False


async def _connected(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: object) -> None:
    phase = ctx.trace_request_ctx
    if isinstance(phase, _Phase):
        phase.written = True


def _trace_config() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_connected)
    trace.on_connection_reuseconn.append(_connected)
    return trace


class MetaClient:
    """Pooled async client of the Cloud API send endpoint; use as an async context manager.

    The session is created on first use, inside the running event loop.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8090",
        version: str = "v23.0",
        *,
        timeout_s: float = 2.0,
        connect_timeout_s: float = 1.0,
        max_connections: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.timeout_s = timeout_s
        self.connect_timeout_s = min(connect_timeout_s, timeout_s)
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> MetaClient:
        return cls(
            settings.meta_base_url,
            settings.meta_api_version,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
            max_connections=settings.max_connections,
        )

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=self.max_connections,
            keepalive_timeout=KEEPALIVE_S,
            ttl_dns_cache=300,
        )
        # The total timeout is enforced around each send (see `_send`); aiohttp's own
        # connect timeout makes a slow connect fail early, while surely not sent.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout_s)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            trace_configs=[_trace_config()],
            auto_decompress=True,
            raise_for_status=False,
        )

    async def __aenter__(self) -> MetaClient:
        if self._session is None:
            self._session = self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        phone_number_id: str,
        access_token: str,
        body: Mapping[str, Any] | bytes,
        *,
        timeout_s: float | None = None,
    ) -> Outcome:
        """Send one message body (a dict, or JSON bytes) and classify what happened."""
        url = messages_url(self.base_url, self.version, phone_number_id)
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        if self._session is None:
            self._session = self._open()
        started = time.perf_counter()
        outcome = await self._send(
            self._session, url, access_token, content, timeout_s or self.timeout_s
        )
        metrics.dispatch_send_seconds.labels(outcome.kind.value).observe(
            time.perf_counter() - started
        )
        return outcome

    async def _send(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        content: bytes,
        timeout_s: float,
    ) -> Outcome:
        phase = _Phase()
        try:
            async with asyncio.timeout(timeout_s):
                async with session.post(
                    url, data=content, headers=request_headers(token), trace_request_ctx=phase
                ) as response:
                    raw = await response.read()
                    return classify_response(response.status, raw, response.headers)
        except TimeoutError as exc:
            reason = "timeout" if type(exc) is TimeoutError else _reason(exc)
            if phase.written:
                return maybe_sent(reason, f"no complete answer within {timeout_s} s")
            return not_sent(reason, f"no connection within {timeout_s} s")
        except (aiohttp.ClientError, OSError) as exc:
            if phase.written:
                return maybe_sent(_reason(exc), str(exc))
            return not_sent(_reason(exc), str(exc))


def _reason(exc: BaseException) -> str:
    """`ServerDisconnectedError` → `server_disconnected_error`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
