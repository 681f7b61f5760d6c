"""`ccx bench ingest`: open-loop load on `POST /v1/messages` at fixed rates, for ccx and for a
reference accept path written the usual way (`ccx.bench.reference_app`), in the same run.

For each target: start the services if they are down, start the server on a free port, make a
fresh bench tenant and token, post one sanity message, warm up, then run oha once per rate
(`--latency-correction`, so a request that waits for a free connection counts its wait). A
target's sweep stops at the first rate whose p99 passes `--stop-p99-ms` or whose errors pass
`--stop-errors`. The summary gives each target's highest rate with p99 < 40 ms and no error,
and the ratio ccx / reference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

import ccx
from ccx.bench import plot, server_latency
from ccx.bench.cpu import CpuMeter, service_pids
from ccx.bench.oha import (
    OHA_VERSION,
    LoadSpec,
    RateRow,
    find_oha,
    oha_version,
    parse_duration,
    parse_rates,
    run_oha,
)
from ccx.bench.stack import (
    TARGETS,
    SetupError,
    bench_env,
    count_persisted,
    drop_tenant,
    ensure_services,
    post_sanity_message,
    prepare_tenant,
    register_sender,
    start_server,
)
from ccx.config import load_settings

#: The budget of ARCHITECTURE §8: ingest p99 under 40 ms.
P99_BUDGET_MS = 40.0
TARGET_RATE = 3000
TARGET_RATIO = 3.0
DEFAULT_RATES = "500,1000,2000,3000,4000,5000"
#: The reference writes one document at a time (FerretDB on SQLite: a few ms each), so its
#: sweep starts lower; the ratio compares each target's best rate from its own sweep.
DEFAULT_REFERENCE_RATES = "25,50,100,150,200,300,400,500,750,1000"
#: A looser bound reported beside the budget: on a shared 2-core machine the reference's
#: per-request database writes may keep its p99 above 40 ms even at its lowest rate.
P99_LOOSE_MS = 200.0
BODY = orjson.dumps(
    {"to": "+5511999998888", "type": "text", "text": {"body": "hi"}, "priority": "high"}
)
#: Distinct request bodies oha cycles through (recipients and texts differ; no idempotency key,
#: so every request creates a message).
BODY_VARIANTS = 1000
PACKAGES = ("granian", "uvicorn", "fastapi", "jsonschema", "pymongo", "redis", "aio-pika")


def request_bodies(count: int = BODY_VARIANTS) -> list[bytes]:
    """`count` valid message requests, one JSON line each, like BODY but each to another
    recipient with another text."""
    return [
        orjson.dumps(
            {
                "to": f"+55119{90000000 + i * 7919 % 10000000:08d}",
                "type": "text",
                "text": {"body": f"Your code is {i * 7331 % 1000000:06d}. Order #{i}."},
                "priority": "high",
            }
        )
        for i in range(count)
    ]


def should_stop(row: RateRow, p99_cutoff_ms: float, max_error_ratio: float) -> str | None:
    """Why a sweep stops after `row` (higher rates would only be worse), or None."""
    if row.requests == 0:
        return "no request completed"
    if row.error_ratio > max_error_ratio:
        return f"errors {row.error_ratio:.1%} > {max_error_ratio:.1%}"
    if row.p99_ms is None or row.p99_ms > p99_cutoff_ms:
        return f"p99 {row.p99_ms} ms > {p99_cutoff_ms:g} ms"
    return None


def passes(row: RateRow, p99_ms: float = P99_BUDGET_MS) -> bool:
    """Inside the budget: p99 under `p99_ms` and not a single failed request."""
    return row.failed == 0 and row.p99_ms is not None and row.p99_ms < p99_ms


def max_rate_under(rows: Sequence[RateRow], p99_ms: float = P99_BUDGET_MS) -> int:
    """The highest offered rate inside the budget (0 when none is)."""
    return max((r.offered_rps for r in rows if passes(r, p99_ms)), default=0)


def summarize(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per target its best rates under the budget (and under the looser bound), then the
    ccx / reference ratios if both ran."""
    summary: dict[str, Any] = {"p99_budget_ms": P99_BUDGET_MS, "p99_loose_ms": P99_LOOSE_MS}
    best: dict[str, int] = {}
    loose: dict[str, int] = {}
    for target, result in results.items():
        rows = [RateRow(**_row_fields(r)) for r in result.get("rates", [])]
        best[target] = max_rate_under(rows)
        loose[target] = max_rate_under(rows, P99_LOOSE_MS)
        summary[target] = {
            "max_rate_p99_under_40ms": best[target],
            "max_rate_p99_under_200ms": loose[target],
            "setup_error": result.get("setup_error"),
        }
    if "ccx" in best and "reference" in best:
        ref = best["reference"]
        summary["ratio_ccx_over_reference"] = round(best["ccx"] / ref, 2) if ref else None
        summary["ratio_ccx_over_reference_200ms"] = (
            round(loose["ccx"] / loose["reference"], 2) if loose["reference"] else None
        )
        summary["targets"] = {"rate": TARGET_RATE, "ratio": TARGET_RATIO}
        # A reference that never met the budget cannot bound the ratio from above.
        ratio_ok = best["ccx"] >= TARGET_RATIO * ref if ref else best["ccx"] > 0
        summary["meets_targets"] = best["ccx"] >= TARGET_RATE and ratio_ok
    return summary


def _row_fields(data: dict[str, Any]) -> dict[str, Any]:
    keep = set(RateRow.__dataclass_fields__)
    return {k: v for k, v in data.items() if k in keep}


def machine() -> dict[str, Any]:
    """CPU, memory and kernel of the machine the run was measured on."""
    model = platform.processor() or platform.machine()
    memory_mb = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_mb = int(line.split()[1]) // 1024
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_mb": memory_mb,
        "kernel": platform.release(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """The installed version of each distribution (None when it is not installed)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def versions(oha: Path | None, services: dict[str, str]) -> dict[str, Any]:
    return {
        "ccx": ccx.__version__,
        "python": platform.python_version(),
        "oha": oha_version(oha) if oha else None,
        **package_versions(PACKAGES),
        "services": services,
    }


@dataclass
class IngestOptions:
    """The options of one run."""

    targets: list[str]
    rates: list[int]
    reference_rates: list[int]
    duration_s: float
    warmup_s: float
    workers: int
    connections: int
    stop_p99_ms: float
    stop_errors: float
    timeout_s: float
    threads: int | None = None
    keep_data: bool = False
    tenant_prefix: str = "bench"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "extra"}


def sweep(
    run: Callable[[int, float], RateRow],
    rates: Sequence[int],
    duration_s: float,
    stop_p99_ms: float,
    stop_errors: float,
    progress: Callable[[RateRow], None] = lambda row: None,
) -> tuple[list[RateRow], str | None]:
    """Run each rate in order until the stop rule fires; the rows and why it stopped."""
    rows: list[RateRow] = []
    for rate in rates:
        row = run(rate, duration_s)
        rows.append(row)
        progress(row)
        reason = should_stop(row, stop_p99_ms, stop_errors)
        if reason is not None:
            return rows, f"stopped after {rate}/s: {reason}"
    return rows, None


def bench_target(
    target: str, opts: IngestOptions, oha: Path, env: dict[str, str], log_dir: Path, quiet: bool
) -> dict[str, Any]:
    """Everything measured for one target; a setup failure is reported, not raised."""

    def say(text: str) -> None:
        if not quiet:
            print(f"  [{target}] {text}", file=sys.stderr, flush=True)

    tenant = f"{opts.tenant_prefix}_{'ref' if target == 'reference' else target}"
    rates = opts.reference_rates if target == "reference" else opts.rates
    result: dict[str, Any] = {"target": target, "tenant": tenant, "rates": []}
    server = None
    try:
        say(f"tenant {tenant}: fresh data, `ccx tenant create`, token")
        setup = prepare_tenant(tenant, env)
        say(f"starting the server ({opts.workers} worker(s))")
        server = start_server(target, opts.workers, env, log_dir)
        if target == "ccx":
            register_sender(server, setup, env)
        post_sanity_message(server, setup, BODY)
        result["setup_notes"] = setup.notes
    except SetupError as exc:
        say(f"SETUP FAILED: {exc}")
        result["setup_error"] = str(exc)
        if server is not None:
            server.stop()
        if not opts.keep_data:
            with contextlib.suppress(Exception):
                asyncio.run(drop_tenant(load_settings(env=env), tenant))
        return result
    assert server is not None
    url = f"{server.base_url}/v1/messages"
    headers = {"authorization": f"Bearer {setup.token}", "content-type": "application/json"}
    bodies_file = log_dir / f"bodies-{target}.jsonl"
    bodies = request_bodies()

    meter = CpuMeter({"server": server.process.pid, **service_pids()})

    def run(rate: int, duration_s: float) -> RateRow:
        spec = LoadSpec(
            url, rate, duration_s, opts.connections, bodies, headers, opts.timeout_s, opts.threads
        )
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = server_latency.scrape(server.base_url) if target == "ccx" else None
        meter.start()
        row = run_oha(oha, spec, bodies_file)
        cpu = meter.stop()
        if before is not None and before.buckets:
            row.server_latency = server_latency.summarize(
                before, server_latency.scrape(server.base_url)
            )
        done = resource.getrusage(resource.RUSAGE_CHILDREN)  # oha, waited for by now
        cpu["oha"] = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
        row.cpu_ms_per_message = {
            name: round(seconds * 1000 / max(1, row.accepted), 3) for name, seconds in cpu.items()
        }
        return row

    def progress(row: RateRow) -> None:
        say(
            f"{row.offered_rps:>6}/s offered → {row.accepted_rps:>8.1f}/s accepted, "
            f"p50 {_fmt(row.latency_ms.get('p50'))} p99 {_fmt(row.p99_ms)} ms, "
            f"failed {row.failed}"
        )

    accepted = 1  # the sanity message
    try:
        if opts.warmup_s > 0:
            say(f"warm-up {opts.warmup_s:g} s at {rates[0]}/s")
            warm = run(rates[0], opts.warmup_s)
            accepted += warm.accepted
            result["warmup"] = warm.as_dict()
        rows, stopped = sweep(
            run, rates, opts.duration_s, opts.stop_p99_ms, opts.stop_errors, progress
        )
        accepted += sum(r.accepted for r in rows)
        result["rates"] = [r.as_dict() for r in rows]
        result["stopped"] = stopped
    except (RuntimeError, OSError) as exc:
        result["run_error"] = str(exc)
        say(f"RUN FAILED: {exc}")
    finally:
        server.stop()
    if server.process.returncode not in (0, -15, None):
        result["server_exit"] = server.process.returncode
    result["persisted"] = check_and_clean(tenant, accepted, env, opts.keep_data, say)
    return result


def check_and_clean(
    tenant: str, accepted: int, env: dict[str, str], keep: bool, say: Callable[[str], None]
) -> dict[str, Any]:
    """The 202s against what was stored and queued; then the tenant is removed (unless
    `keep`), so no outbox relay republishes its messages and the next target runs clean."""
    settings = load_settings(env=env)
    persisted: dict[str, Any] = {"accepted_202": accepted}
    try:
        persisted.update(asyncio.run(count_persisted(settings, tenant)))
    except Exception as exc:  # a sanity check; never fail the report for it
        persisted["error"] = repr(exc)
    if not keep:
        try:
            asyncio.run(drop_tenant(settings, tenant))
        except Exception as exc:
            say(f"could not remove the bench tenant {tenant}: {exc!r}")
    return persisted


def _own(own: dict[str, Any]) -> str:
    """The server-side line: bucket bounds of p50 and p99, and the share within budget."""
    share = next((v for k, v in own.items() if k.startswith("share_within_")), None)
    within = f", {share * 100:.1f} % within {P99_BUDGET_MS:g} ms" if share is not None else ""
    means = ""
    if own.get("mean_ms") is not None:
        means += f"; mean {_fmt(own.get('mean_ms'))} ms"
    if own.get("group_commit_mean_batch") is not None:
        means += (
            f"; group commit: {_fmt(own.get('group_commit_mean_batch'))} requests"
            f" in {_fmt(own.get('group_commit_mean_ms'))} ms on average"
        )
    return (
        f"p50 <= {_fmt(own.get('p50_ms_at_most'))} ms, p99 <= {_fmt(own.get('p99_ms_at_most'))} ms"
        + within
        + means
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_table(report: dict[str, Any]) -> str:
    """The readable form of a report."""
    head = (
        f"{'target':<10} {'offered/s':>9} {'accepted/s':>10} {'p50':>7} {'p90':>7} "
        f"{'p99':>7} {'p99.9':>7} {'max':>8} {'failed':>7}  errors"
    )
    lines = [head, "-" * len(head)]
    for target, result in report["results"].items():
        if result.get("setup_error"):
            lines.append(f"{target:<10} setup failed: {result['setup_error'][:200]}")
            continue
        for r in result["rates"]:
            lat = r["latency_ms"]
            errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "-"
            lines.append(
                f"{target:<10} {r['offered_rps']:>9} {r['accepted_rps']:>10,.1f} "
                f"{_fmt(lat.get('p50')):>7} {_fmt(lat.get('p90')):>7} {_fmt(lat.get('p99')):>7} "
                f"{_fmt(lat.get('p99.9')):>7} {_fmt(lat.get('max')):>8} {r['failed']:>7}  "
                f"{errors[:60]}"
            )
        for r in result["rates"]:
            cpu = r.get("cpu_ms_per_message") or {}
            if cpu:
                shares = ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())
                lines.append(f"{'':<10} CPU ms per message at {r['offered_rps']}/s: {shares}")
        for r in result["rates"]:
            own = r.get("server_latency") or {}
            if own:
                lines.append(f"{'':<10} in the handler at {r['offered_rps']}/s: {_own(own)}")
        if result.get("stopped"):
            lines.append(f"{'':<10} ({result['stopped']})")
        if result.get("persisted"):
            lines.append(f"{'':<10} persisted: {result['persisted']}")
    lines.append("")
    lines.append("latencies in ms (oha --latency-correction); summary:")
    for key, value in report["summary"].items():
        lines.append(f"  {key}: {value}")
    return "\n".join(lines)


def run(opts: IngestOptions, checkout: Path | None, quiet: bool = False) -> dict[str, Any]:
    """The whole benchmark; returns the report (see the module docstring)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    oha = find_oha(checkout)
    if oha is None:
        raise SetupError(
            "oha not found: run scripts/install-oha.sh (cargo install from crates.io, "
            f"version {OHA_VERSION}) or put oha on the PATH"
        )
    env = bench_env()
    script = checkout / "scripts" / "services.sh" if checkout is not None else None
    services = asyncio.run(
        ensure_services(load_settings(env=env), script if script and script.is_file() else None)
    )
    started = dt.datetime.now(dt.UTC)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ccx-bench-") as tmp:
        for target in opts.targets:
            if not quiet:
                print(f"ccx bench ingest: {target}", file=sys.stderr, flush=True)
            results[target] = bench_target(target, opts, oha, env, Path(tmp), quiet)
            time.sleep(1.0)
    return {
        "benchmark": "ingest",
        "date": started.isoformat(timespec="seconds"),
        "elapsed_s": round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1),
        "machine": machine(),
        "versions": versions(oha, services),
        "settings": {
            **opts.as_dict(),
            "body_example": orjson.loads(BODY),
            "body_variants": BODY_VARIANTS,
            "oha_pinned": OHA_VERSION,
        },
        "summary": summarize(results),
        "results": results,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rates", default=DEFAULT_RATES, help="ccx's offered rates, requests/s")
    parser.add_argument(
        "--reference-rates", default=DEFAULT_REFERENCE_RATES, help="the reference's offered rates"
    )
    parser.add_argument("--duration", default="10s", help="length of each rate's run")
    parser.add_argument("--warmup", default="3s", help="warm-up at the lowest rate (0: none)")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (granian / uvicorn workers)"
    )
    parser.add_argument(
        "--target", choices=[*TARGETS, "both"], default="both", help="what to measure"
    )
    parser.add_argument("--connections", type=int, default=64, help="oha connections (-c)")
    parser.add_argument("--stop-p99-ms", type=float, default=200.0, help="sweep stop: p99 above")
    parser.add_argument(
        "--stop-errors", type=float, default=0.01, help="sweep stop: failed ratio above"
    )
    parser.add_argument("--timeout", default="10s", help="oha request timeout")
    parser.add_argument(
        "--oha-threads", type=int, default=None, help="oha --worker-threads (default: oha's)"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the bench tenants' data and queues"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", help="report path (default bench/results/ingest-<date>.json)")
    parser.add_argument("--plot", action="store_true", help="also write PNG charts beside it")


def options(args: argparse.Namespace) -> IngestOptions:
    """The run settings from the parsed command line (ValueError on a bad value)."""
    if args.workers < 1 or args.connections < 1:
        raise ValueError("--workers and --connections must be at least 1")
    return IngestOptions(
        targets=list(TARGETS) if args.target == "both" else [args.target],
        rates=parse_rates(args.rates),
        reference_rates=parse_rates(args.reference_rates),
        duration_s=parse_duration(args.duration),
        warmup_s=parse_duration(args.warmup),
        workers=args.workers,
        connections=args.connections,
        stop_p99_ms=args.stop_p99_ms,
        stop_errors=args.stop_errors,
        timeout_s=parse_duration(args.timeout),
        threads=args.oha_threads,
        keep_data=args.keep_data,
    )


def main(args: argparse.Namespace, checkout: Path | None) -> int:
    """`ccx bench ingest` (argv already parsed by ccx.bench.cli)."""
    try:
        opts = options(args)
        if args.plot:
            plot.require()
        report = run(opts, checkout, quiet=args.json)
    except (ValueError, SetupError, plot.PlotError) as exc:
        print(f"ccx bench ingest: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    if out is None and checkout is not None:
        out = checkout / "bench" / "results" / f"ingest-{report['date'][:10]}.json"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(render_table(report))
        if out is not None:
            print(f"report: {out}")
    if args.plot:
        results_dir = checkout / "bench" / "results" if checkout is not None else Path.cwd()
        plot.write_run_charts(report, out, results_dir, sys.stderr if args.json else sys.stdout)
    failed = [t for t, r in report["results"].items() if r.get("setup_error")]
    return 1 if failed else 0
