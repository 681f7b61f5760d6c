"""The Meta sandbox of the stack (`ccx up` starts it on :8090), seen from a load test: how
many sends its ledger holds, how many of them share a `biz_opaque_callback_data` (a message
sent twice), and waiting until the worker stops sending (what an earlier run left)."""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic, sleep

import httpx


@dataclass(frozen=True)
class Ledger:
    sends: int
    duplicates: int
    callbacks_pending: int


def ledger(sandbox: str) -> Ledger | None:
    """The ledger's counts, or None when no sandbox answers at `sandbox`."""
    try:
        with httpx.Client(base_url=sandbox, timeout=5, trust_env=False) as admin:
            health = admin.get("/_admin/health").json()
            summary = admin.get("/_admin/ledger", params={"entries": "0"}).json()
    except (httpx.HTTPError, ValueError):
        return None
    return Ledger(
        int(health["ledger_count"]),
        int(summary["duplicate_count"]["biz_opaque_callback_data"]),
        int(health.get("callbacks_pending") or 0),
    )


def wait_quiet(sandbox: str, still_s: float = 2.0, timeout_s: float = 180.0) -> float | None:
    """Seconds until the ledger stopped growing for `still_s` with no status callback
    pending (None without a sandbox); gives up after `timeout_s`."""
    start = monotonic()
    last = ledger(sandbox)
    if last is None:
        return None
    quiet_since = start
    while monotonic() - start < timeout_s:
        sleep(0.5)
        now = ledger(sandbox)
        if now is None:
            return None
        if now.sends != last.sends or now.callbacks_pending:
            quiet_since = monotonic()
        elif monotonic() - quiet_since >= still_s:
            break
        last = now
    return monotonic() - start
