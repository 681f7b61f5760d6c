"""How often the worker's periodic sweeps run: their interval, stretched for a slow one."""

from __future__ import annotations

#: The most of its time a periodic sweep may take. On FerretDB v1 every sweep is a scan of the
#: tenant's messages (it uses no index), which grows with the tenant: a sweep that took t
#: seconds waits at least t / SWEEP_DUTY before the next, so the store keeps its time.
SWEEP_DUTY = 0.05


def next_wait(interval_s: float, took_s: float, duty: float = SWEEP_DUTY) -> float:
    """Seconds until the next run of a periodic task that took `took_s`: its interval, or
    longer so that it runs at most `duty` of the time."""
    return max(interval_s, took_s / duty - took_s)
