"""The locust entry point of `python -m loadtest run`: every scenario's user class, and the
hook that saves the run's statistics, failures and message counts where the command reads
them (CCX_LOADTEST_OUT)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment

from loadtest.context import OUT_ENV
from loadtest.scenarios.idempotent import IdempotentUser
from loadtest.scenarios.marketing import MarketingUser
from loadtest.scenarios.otp import OtpUser
from loadtest.scenarios.polling import PollingUser
from loadtest.scenarios.tally import TALLY

__all__ = ["IdempotentUser", "MarketingUser", "OtpUser", "PollingUser"]

_environment: list[Environment] = []


@events.init.add_listener
def _remember(environment: Environment, **_: Any) -> None:
    _environment.append(environment)


@events.quit.add_listener
def _save(exit_code: int, **_: Any) -> None:
    """After the users stopped: every stats entry (locust's own serialisation, kept intact
    for locust's summary), the failures with their reasons, and the tally."""
    out = os.environ.get(OUT_ENV)
    if not out or not _environment:
        return
    stats = _environment[0].stats
    saved = {
        "exit_code": exit_code,
        "started_at": stats.total.start_time,  # when the test started (stats cleared)
        "stats": [entry.serialize() for entry in stats.entries.values()],
        "errors": list(stats.serialize_errors().values()),
        "tally": TALLY.as_dict(),
    }
    Path(out).write_text(json.dumps(saved))
