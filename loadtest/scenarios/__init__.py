"""The scenarios `python -m loadtest` knows: what each does, its locust user classes and
its knobs. Pure data; the user classes live in the sibling modules (which import locust, so
this package's `__init__` must not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: How the `mix` scenario weighs its user classes (locust's `weight`).
MIX_WEIGHTS = {"OtpUser": 4, "PollingUser": 3, "IdempotentUser": 2, "MarketingUser": 1}


@dataclass(frozen=True)
class Scenario:
    """One named load: the locust user classes it runs and its defaults."""

    name: str
    summary: str
    users: tuple[str, ...]
    default_users: int
    default_tenants: int = 1
    params: dict[str, Any] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "otp",
            "bursts of critical OTPs (template otp_code) posted concurrently, then a pause",
            ("OtpUser",),
            default_users=10,
            params={"burst": [5, 20], "burst_concurrency": 10, "pause_s": [2.0, 6.0]},
        ),
        Scenario(
            "marketing",
            "campaigns of 100-1000 low-priority hello_world messages via /v1/messages/batch",
            ("MarketingUser",),
            default_users=2,
            params={"campaign": [100, 1000], "pause_s": [3.0, 8.0]},
        ),
        Scenario(
            "polling",
            "one message at a time, polled by id and by ?status= until it is final",
            ("PollingUser",),
            default_users=10,
            params={"poll_s": 0.5, "final_within_s": 60.0},
        ),
        Scenario(
            "idempotent",
            "a new request, retried with its Idempotency-Key (replayed), then a 409 conflict",
            ("IdempotentUser",),
            default_users=5,
            params={"replays": 2, "pause_s": [0.2, 1.0]},
        ),
        Scenario(
            "mix",
            "several tenants at once, each user one of the above (weights "
            + ", ".join(f"{k.removesuffix('User').lower()} {v}" for k, v in MIX_WEIGHTS.items())
            + ")",
            tuple(MIX_WEIGHTS),
            default_users=10,
            default_tenants=3,
            params={"weights": MIX_WEIGHTS},
        ),
    )
}


def scenario(name: str) -> Scenario:
    """The scenario called `name`; ValueError naming the known ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


def params(name: str) -> dict[str, Any]:
    """The knobs of scenario `name` (what its user classes read)."""
    return scenario(name).params
