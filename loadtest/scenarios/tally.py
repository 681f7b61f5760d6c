"""Counts the locust process keeps besides request statistics: messages accepted per
tenant and the final states the polling users saw. One process, one greenlet at a time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    accepted: Counter[str] = field(default_factory=Counter)
    final_states: Counter[str] = field(default_factory=Counter)

    def accept(self, tenant: str, count: int = 1) -> None:
        self.accepted[tenant] += count

    def finish(self, state: str) -> None:
        self.final_states[state] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": dict(self.accepted), "final_states": dict(self.final_states)}


TALLY = Tally()
