"""A real sandbox process (`python -m ccx.sandbox`) and a local callback receiver.

One sandbox serves the whole session; an autouse fixture resets it between tests through
the admin API (ledger, limits, faults, callback settings) with a fresh seed, so no test
sees another's wamids.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
from sandbox_it import (
    APP_SECRET,
    CALLBACKS,
    HANG_S,
    LIMITS,
    WABA_ID,
    SandboxProcess,
    start_sandbox,
)

from ccx.sandbox.receiver import CallbackReceiver


@pytest.fixture(scope="session")
def receiver() -> Iterator[CallbackReceiver]:
    r = CallbackReceiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def sandbox(
    receiver: CallbackReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxProcess]:
    sb = start_sandbox(
        tmp_path_factory.mktemp("sandbox"),
        "--callback-url", receiver.url,
        "--app-secret", APP_SECRET,
        "--waba-id", WABA_ID,
        "--token", "sandbox",
        "--token", "second-token",
        "--hang-seconds", str(HANG_S),
        "--log-level", "WARNING",
    )  # fmt: skip
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def admin(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/_admin", timeout=5, trust_env=False) as c:
        yield c


_seeds = itertools.count(1000)


@pytest.fixture(autouse=True)
def clean(admin: httpx.Client, receiver: CallbackReceiver) -> int:
    """Reset the sandbox between tests; returns the test's seed."""
    seed = next(_seeds)
    assert admin.post("/reset", json={"seed": seed, "faults": True}).is_success
    assert admin.put("/limits", json=LIMITS).is_success
    assert admin.put("/callbacks", json=CALLBACKS).is_success
    receiver.clear()
    return seed


@pytest.fixture
def client(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=5, trust_env=False) as c:
        yield c
