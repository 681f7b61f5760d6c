"""What `python -m loadtest run` hands to the locust process: the tenants and their tokens
(a JSON file named by CCX_LOADTEST_CONTEXT), and where locust saves its figures
(CCX_LOADTEST_OUT)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

CONTEXT_ENV = "CCX_LOADTEST_CONTEXT"
OUT_ENV = "CCX_LOADTEST_OUT"


@dataclass(frozen=True)
class Tenant:
    """A tenant prepared for the run and its bearer token."""

    id: str
    token: str


@dataclass(frozen=True)
class RunContext:
    scenario: str
    tenants: tuple[Tenant, ...]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)  # tokens

    @classmethod
    def load(cls, path: Path) -> RunContext:
        data = json.loads(path.read_text())
        return cls(data["scenario"], tuple(Tenant(**t) for t in data["tenants"]))


def from_environment() -> RunContext:
    """The context of this locust process; RuntimeError telling how to start it otherwise."""
    path = os.environ.get(CONTEXT_ENV)
    if not path:
        raise RuntimeError(
            f"{CONTEXT_ENV} is not set: start the scenarios with `python -m loadtest run "
            "SCENARIO`, which prepares tenants and tokens and then runs locust"
        )
    return RunContext.load(Path(path))
