"""One run of a scenario against a running stack: check the API and the services, prepare
the tenants, run locust headless in a subprocess, shape what it saved into the report."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ccx.bench.ingest import machine, package_versions, versions
from ccx.bench.stack import SetupError, ensure_services
from ccx.config import load_settings
from loadtest import probe, results, sandbox, tenants
from loadtest.context import CONTEXT_ENV, OUT_ENV, RunContext
from loadtest.scenarios import Scenario

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
LOG_DIR = ROOT / "var" / "log" / "loadtest"
#: Seconds a user gets, when the time is up, to finish its task (a burst, a campaign, a
#: retry round, one poll), so no request is cut off and the counts match the database.
STOP_TIMEOUT_S = 15
LOAD_PACKAGES = ("locust", "gevent", "geventhttpclient")


@dataclass(frozen=True)
class RunOptions:
    scenario: Scenario
    users: int
    spawn_rate: float
    duration_s: float
    host: str
    sandbox: str
    tenants: int
    out: Path
    keep_data: bool = False


def locust_command(opts: RunOptions) -> list[str]:
    """Locust headless for the scenario's user classes."""
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--users", str(opts.users), "--spawn-rate", f"{opts.spawn_rate:g}",
        "--run-time", f"{max(1, round(opts.duration_s))}s",
        "--stop-timeout", str(STOP_TIMEOUT_S), "--host", opts.host,
        "--only-summary", "--loglevel", "WARNING", *opts.scenario.users,
    ]  # fmt: skip


def settings_of(opts: RunOptions, tenant_ids: list[str]) -> dict[str, Any]:
    """The run's settings as recorded in the report."""
    return {
        "users": opts.users,
        "spawn_rate": opts.spawn_rate,
        "duration_s": opts.duration_s,
        "host": opts.host,
        "sandbox": opts.sandbox,
        "tenants": opts.tenants,
        "tenant_ids": tenant_ids,
        "user_classes": list(opts.scenario.users),
        "params": opts.scenario.params,
        "stop_timeout_s": STOP_TIMEOUT_S,
    }


def check_api(host: str) -> None:
    try:
        ready = httpx.get(f"{host}/readyz", timeout=5, trust_env=False)
    except httpx.HTTPError as exc:
        raise SetupError(
            f"no ccx API at {host} ({type(exc).__name__}); start the stack with "
            "`ccx up --no-demo` (or pass --host)"
        ) from None
    if ready.status_code != 200:
        raise SetupError(f"{host}/readyz answers {ready.status_code}: {ready.text[:200]}")


def run_locust(opts: RunOptions, context: RunContext) -> dict[str, Any]:
    """Run locust for the scenario; what its quit hook saved (RuntimeError with the log's
    end when it saved nothing)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{opts.scenario.name}.log"
    with tempfile.TemporaryDirectory(prefix="ccx-loadtest-") as tmp:
        context_file, out_file = Path(tmp) / "context.json", Path(tmp) / "saved.json"
        context.save(context_file)
        env = {**os.environ, CONTEXT_ENV: str(context_file), OUT_ENV: str(out_file)}
        with log.open("wb") as output:
            subprocess.run(
                locust_command(opts),
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=opts.duration_s + STOP_TIMEOUT_S + 120,
                check=False,
            )
        if not out_file.exists():
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"locust saved no results; the end of {log}:\n{tail}")
        saved: dict[str, Any] = json.loads(out_file.read_text())
    return saved


def load_versions(services: dict[str, str]) -> dict[str, Any]:
    found = versions(None, services)
    found.pop("oha", None)
    return {**found, **package_versions(LOAD_PACKAGES)}


def run(opts: RunOptions, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Prepare, load, report: the report as written to `opts.out`."""
    settings = load_settings()
    services = asyncio.run(ensure_services(settings, None))
    check_api(opts.host)
    name = opts.scenario.name
    ids = tenants.tenant_ids(name, opts.tenants)
    say(f"loadtest {name}: preparing tenant(s) {', '.join(ids)}…")
    ttl_s = int(opts.duration_s) + 3600
    prepared = tenants.prepare(opts.host, name, opts.tenants, ttl_s, dict(os.environ))
    quiet_s = sandbox.wait_quiet(opts.sandbox)
    settle_s = probe.settle(opts.host, prepared)
    tenants.delete_run_data(settings, ids)  # the probes
    say(
        f"loadtest {name}: worker idle after {_seconds(quiet_s)}, "
        f"a probe sent after {settle_s:.1f} s"
    )
    before = sandbox.ledger(opts.sandbox)
    started = dt.datetime.now(dt.UTC)
    try:
        say(f"loadtest {name}: {opts.users} user(s) for {opts.duration_s:g} s against {opts.host}…")
        saved = run_locust(opts, RunContext(name, tuple(prepared)))
        stored = tenants.count_stored(settings, ids)
        after = sandbox.ledger(opts.sandbox)
    finally:
        if not opts.keep_data:
            tenants.purge_queues(settings, ids)
            tenants.delete_run_data(settings, ids)
    return {
        "benchmark": "loadtest",
        "scenario": name,
        "description": opts.scenario.summary,
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": load_versions(services),
        "settings": settings_of(opts, ids),
        "before_load": {"worker_idle_s": _round(quiet_s), "probe_sent_s": _round(settle_s)},
        **results.shape(saved, stored),
        "sandbox": sends_during(before, after),
        "locust_exit_code": saved.get("exit_code"),
    }


def sends_during(
    before: sandbox.Ledger | None, after: sandbox.Ledger | None
) -> dict[str, int] | None:
    """What reached the Meta sandbox while the load ran (any tenant's; the worker goes on
    after the load) and how many of those were second sends of one message."""
    if before is None or after is None:
        return None
    return {"sends": after.sends - before.sends, "duplicates": after.duplicates - before.duplicates}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _seconds(value: float | None) -> str:
    return "? s (no sandbox)" if value is None else f"{value:.1f} s"
