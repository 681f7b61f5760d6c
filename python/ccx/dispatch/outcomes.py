"""What one send attempt to Meta's `/messages` endpoint came to: pure classification.

Six kinds, from ARCHITECTURE §4 (never send twice) and the Meta reference §3:

- `SENT`: a 2xx answer carrying a wamid.
- `RETRY`: definitely not sent and worth retrying on the schedule (a documented transient
  error, or a failure before the request was written).
- `THROTTLE`: a rate limit; the message waits and the limiter of that scope slows down.
- `HOLD`: the sender (token, account, number, payment) needs a human; pause it, alert.
- `TERMINAL`: this message will never succeed as it is.
- `AMBIGUOUS`: the request may have reached Meta and been accepted (read timeout, reset
  after writing, 5xx without Meta's error body, unreadable 2xx). Never resent automatically.

Classification uses Meta's `error.code` only, never the HTTP status (reference §2.3, as Meta
advises); the HTTP status decides only when there is no Meta error body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson


class Kind(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    THROTTLE = "throttle"
    HOLD = "hold"
    TERMINAL = "terminal"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One classified send attempt; `reason` is a short machine-readable cause for logs/metrics."""

    kind: Kind
    reason: str
    http_status: int | None = None
    code: int | None = None
    subcode: int | None = None
    title: str = ""
    details: str = ""
    retry_after_s: float | None = None
    wamid: str | None = None
    message_status: str | None = None
    fbtrace_id: str | None = None

    @property
    def definitely_not_sent(self) -> bool:
        """True when Meta surely did not accept the message (safe to send again later)."""
        return self.kind in (Kind.RETRY, Kind.THROTTLE, Kind.HOLD, Kind.TERMINAL)


_R, _T, _H, _X = Kind.RETRY, Kind.THROTTLE, Kind.HOLD, Kind.TERMINAL

#: Meta error code → kind, row by row from shared/reference/meta-cloud-api.md §3
#: ("Error codes — meaning and retry classification"). Where a row offers two classes the
#: first one is used: 131048 "HOLD (or long THROTTLE)" is HOLD; 1 "RETRY (limited) then
#: TERMINAL" is RETRY, and the attempt cap of the retry schedule provides the limit; 131053
#: "TERMINAL (maybe 1 retry)" is TERMINAL; 132015 is TERMINAL for the message.
CODE_KINDS: Mapping[int, Kind] = {
    # HOLD: token, permissions, account, number, payment.
    0: _H,
    190: _H,
    3: _H,
    10: _H,
    **dict.fromkeys(range(200, 300), _H),  # 200-299 API Permission
    33: _H,
    368: _H,
    131005: _H,
    131031: _H,
    131037: _H,
    131042: _H,
    131045: _H,
    131048: _H,
    131064: _H,
    133000: _H,
    133010: _H,
    # THROTTLE: app, WABA, number and pair rate limits.
    4: _T,
    80007: _T,
    130429: _T,
    131056: _T,
    133016: _T,
    132069: _T,  # flow throttled (10 msgs/h)
    # RETRY: transient platform faults.
    1: _R,
    2: _R,
    131000: _R,
    131016: _R,
    131057: _R,  # maintenance mode, e.g. throughput upgrade (about 60 s)
    133004: _R,
    # TERMINAL: this message as it is.
    100: _X,
    130472: _X,
    130497: _X,
    131008: _X,
    131009: _X,
    131021: _X,
    131026: _X,
    131047: _X,
    131049: _X,
    131050: _X,
    131051: _X,
    131052: _X,
    131053: _X,
    132000: _X,
    132001: _X,
    132005: _X,
    132007: _X,
    132012: _X,
    132015: _X,
    132016: _X,
    132068: _X,
    135000: _X,
    470: _X,  # On-Premises equivalent of 131047
}


def kind_of_code(code: int, http_status: int | None = None, transient: bool = False) -> Kind:
    """The kind of a Meta error code; the default for codes not in the reference table.

    A Meta error body is a documented rejection: the message was not accepted, so no choice
    here can send it twice. Unknown codes are RETRY when Meta says the error is transient
    (`is_transient`) or answered 5xx (bounded by the retry schedule's attempt cap), otherwise
    TERMINAL, so an unknown client error neither loops nor pauses a whole sender.
    """
    kind = CODE_KINDS.get(code)
    if kind is not None:
        return kind
    if transient or (http_status is not None and http_status >= 500):
        return Kind.RETRY
    return Kind.TERMINAL


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after") or headers.get("Retry-After")
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None  # an HTTP date: not used by Meta, ignored
    return value if value >= 0 else None


def _meta_error(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    return error


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _from_error(error: dict[str, Any], status: int, retry_after: float | None) -> Outcome:
    code: int = error["code"]
    subcode = error.get("error_subcode")
    data = error.get("error_data")
    details = _str(data.get("details")) if isinstance(data, dict) else ""
    transient = error.get("is_transient") is True
    known = code in CODE_KINDS
    return Outcome(
        kind=kind_of_code(code, status, transient),
        reason="meta_error" if known else "unknown_code",
        http_status=status,
        code=code,
        subcode=subcode if isinstance(subcode, int) and not isinstance(subcode, bool) else None,
        title=_str(error.get("error_user_title")) or _str(error.get("message")),
        details=details or _str(error.get("error_user_msg")),
        retry_after_s=retry_after,
        fbtrace_id=_str(error.get("fbtrace_id")) or None,
    )


def _from_success(body: Any, status: int) -> Outcome:
    messages = body.get("messages") if isinstance(body, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    if not isinstance(wamid, str) or not wamid:
        return Outcome(Kind.AMBIGUOUS, "2xx_without_wamid", http_status=status)
    assert isinstance(first, dict)
    message_status = first.get("message_status")
    return Outcome(
        Kind.SENT,
        "accepted",
        http_status=status,
        wamid=wamid,
        message_status=message_status if isinstance(message_status, str) else None,
    )


def classify_response(
    status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> Outcome:
    """Classify an HTTP answer (status, raw body, headers with lower-case names)."""
    retry_after = _retry_after(headers or {})
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if 200 <= status < 300:
        return _from_success(parsed, status)
    error = _meta_error(parsed)
    if error is not None:
        return _from_error(error, status, retry_after)
    # No Meta error body: only the HTTP status is left.
    if status == 429:
        return Outcome(Kind.THROTTLE, "http_429", http_status=status, retry_after_s=retry_after)
    if 400 <= status < 500:
        # A client error from something in front of Meta: the request was refused, not run.
        return Outcome(
            Kind.RETRY, "http_4xx_no_body", http_status=status, retry_after_s=retry_after
        )
    # 5xx (or 1xx/3xx) without Meta's body: a proxy or Meta may have failed after accepting.
    return Outcome(
        Kind.AMBIGUOUS, "http_no_meta_body", http_status=status, retry_after_s=retry_after
    )


def not_sent(reason: str, details: str = "") -> Outcome:
    """A failure before the request was written (refused, DNS, connect timeout, pool timeout)."""
    return Outcome(Kind.RETRY, reason, details=details)


def maybe_sent(reason: str, details: str = "") -> Outcome:
    """A failure after the request may have been written (read timeout, reset, bad answer)."""
    return Outcome(Kind.AMBIGUOUS, reason, details=details)


#: Kinds a circuit breaker counts as failures of the endpoint (THROTTLE, TERMINAL and HOLD
#: are answers from a working Meta).
BREAKER_FAILURES = frozenset({Kind.RETRY, Kind.AMBIGUOUS})
