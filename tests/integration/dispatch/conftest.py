"""A real sandbox process for the dispatch client, started with the sandbox tests' helper.

`sandbox_it` lives beside the sandbox tests (a rootdir-style module, not a package), so
its folder is put on `sys.path` here. One sandbox per session; every test starts from a
reset (fresh seed, no faults, no rate limits unless the test sets them).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))

from sandbox_it import HANG_S, SandboxProcess, start_sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sb = start_sandbox(
        tmp_path_factory.mktemp("dispatch-sandbox"),
        "--token", "sandbox",
        "--hang-seconds", str(HANG_S),
        "--log-level", "WARNING",
    )  # fmt: skip
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def admin(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/_admin", timeout=5, trust_env=False) as c:
        yield c


_seeds = itertools.count(5000)


@pytest.fixture(autouse=True)
def clean(admin: httpx.Client) -> None:
    assert admin.post("/reset", json={"seed": next(_seeds), "faults": True}).is_success
    limits = {"throughput_enabled": False, "pair_enabled": False}
    assert admin.put("/limits", json=limits).is_success
