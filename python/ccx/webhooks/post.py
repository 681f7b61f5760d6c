"""One signed POST of a webhook to a client endpoint (Standard Webhooks).

Headers `webhook-id`, `webhook-timestamp` (Unix seconds of this attempt) and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with every secret that
signs now: two during a rotation), signed natively. Redirects are not followed (a 3xx is a
failed attempt: following it would let an endpoint point us anywhere), and the destination
is checked by the SSRF guard before the request (literal addresses) and at connect time
(resolved names).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import aiohttp

from ccx.native import WebhookSigner
from ccx.store.messages import now_ms
from ccx.store.webhooks import BODY_KEPT, Attempt, Delivery, Endpoint
from ccx.webhooks.ssrf import AddressPolicy, BlockedDestination, blocked_cause

USER_AGENT = "ccx-webhooks/1"
#: Longest `Retry-After` honoured, in seconds (longer ones wait this long).
MAX_RETRY_AFTER_S = 8 * 3600.0


@dataclass(frozen=True, slots=True)
class PostResult:
    attempt: Attempt
    ok: bool
    #: 410 Gone: the client asks us to stop (the endpoint is disabled).
    gone: bool = False
    #: The guard refused the destination (no request was made).
    blocked: bool = False
    retry_after_s: float | None = None


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), None if absent or
    unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER_S)


def signed_headers(endpoint: Endpoint, delivery: Delivery, at: datetime) -> dict[str, str]:
    timestamp = int(at.timestamp())
    signer = WebhookSigner(endpoint.signing_secrets(at))
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signer.sign(delivery.event_id, timestamp, delivery.body),
    }


async def post(
    session: aiohttp.ClientSession,
    policy: AddressPolicy,
    endpoint: Endpoint,
    delivery: Delivery,
    timeout_s: float,
    traceparent: str | None = None,
) -> PostResult:
    """POST `delivery` to `endpoint` once; never raises for what the endpoint or the
    network does."""
    at = now_ms()
    started = time.perf_counter()

    def attempt(status: int | None, error: str | None, body: str | None = None) -> Attempt:
        return Attempt(at, status, (time.perf_counter() - started) * 1000, error, body)

    try:
        policy.check_url(endpoint.url)
    except (BlockedDestination, ValueError) as exc:
        return PostResult(attempt(None, f"blocked: {exc}"), ok=False, blocked=True)
    headers = signed_headers(endpoint, delivery, at)
    if traceparent:
        headers["traceparent"] = traceparent
    try:
        async with session.post(
            endpoint.url,
            data=delivery.body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            raw = await response.content.read(BODY_KEPT)
            text = raw.decode("utf-8", "replace")
            status = response.status
            if 200 <= status < 300:
                return PostResult(attempt(status, None, text), ok=True)
            wait = retry_after(response.headers.get("retry-after"), at)
            error = f"HTTP {status}"
            return PostResult(
                attempt(status, error, text), ok=False, gone=status == 410, retry_after_s=wait
            )
    except TimeoutError:
        return PostResult(attempt(None, f"timeout after {timeout_s:g} s"), ok=False)
    except (aiohttp.ClientError, OSError) as exc:
        blocked = blocked_cause(exc)
        if blocked is not None:
            return PostResult(attempt(None, f"blocked: {blocked}"), ok=False, blocked=True)
        return PostResult(attempt(None, f"{type(exc).__name__}: {exc}"[:200]), ok=False)
