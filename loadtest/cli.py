"""`python -m loadtest list` and `python -m loadtest run SCENARIO [options]`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from ccx.bench import plot
from ccx.bench.oha import parse_duration
from ccx.bench.stack import SetupError
from ccx.config import load_settings
from loadtest import tenants
from loadtest.results import render_table
from loadtest.runner import ROOT, RunOptions, run
from loadtest.scenarios import SCENARIOS, scenario

RESULTS_DIR = ROOT / "bench" / "results"


def default_out(name: str, day: dt.date | None = None) -> Path:
    """bench/results/loadtest-<scenario>-<date>.json"""
    day = day or dt.datetime.now(dt.UTC).date()
    return RESULTS_DIR / f"loadtest-{name}-{day.isoformat()}.json"


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def convert(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return convert


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return seconds


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m loadtest",
        description="locust scenarios against a running ccx stack (`ccx up --no-demo`)",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="the scenarios, one line each")
    p = sub.add_parser("run", help="run one scenario and write its JSON results")
    p.add_argument("scenario", choices=list(SCENARIOS), metavar="SCENARIO", help="see `list`")
    p.add_argument("--users", type=_positive(int), help="concurrent users (default: per scenario)")
    p.add_argument(
        "--spawn-rate", type=_positive(float), help="users started per second (default: all in 1 s)"
    )
    p.add_argument("--duration", type=_duration, default=60.0, help="60s, 2m, … (default 60s)")
    p.add_argument("--host", default="http://127.0.0.1:8000", help="the ccx API")
    p.add_argument(
        "--sandbox",
        default="http://127.0.0.1:8090",
        help="the stack's Meta sandbox: the run waits until the worker stops sending to it",
    )
    p.add_argument("--tenants", type=_positive(int), help="tenants to spread the users over")
    p.add_argument("--out", type=Path, help="JSON results (default bench/results/loadtest-…)")
    p.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the run's messages and queues (default: deleted once counted)",
    )
    p.add_argument("--plot", action="store_true", help="also write a PNG chart beside the JSON")
    p = sub.add_parser("clean", help="remove every loadtest tenant (with the stack down)")
    p.add_argument("--host", default="http://127.0.0.1:8000", help="the API that must be down")
    return top


def options(args: argparse.Namespace) -> RunOptions:
    chosen = scenario(args.scenario)
    users = args.users or chosen.default_users
    return RunOptions(
        scenario=chosen,
        users=users,
        spawn_rate=args.spawn_rate or float(users),
        duration_s=args.duration,
        host=args.host.rstrip("/"),
        sandbox=args.sandbox.rstrip("/"),
        tenants=args.tenants or chosen.default_tenants,
        out=args.out or default_out(chosen.name),
        keep_data=args.keep_data,
    )


def list_scenarios() -> str:
    width = max(map(len, SCENARIOS))
    return "\n".join(f"{s.name:<{width}}  {s.summary}" for s in SCENARIOS.values())


def api_answers(host: str) -> bool:
    try:
        httpx.get(f"{host}/healthz", timeout=2, trust_env=False)
    except httpx.HTTPError:
        return False
    return True


def clean(host: str) -> int:
    """Drop the loadtest tenants, refusing while an API answers at `host` (its worker may
    still read their databases: a drop under reads crashed FerretDB here)."""
    if api_answers(host):
        print(f"loadtest: an API answers at {host}; stop the stack first (`ccx down`)")
        return 2
    removed = tenants.clean(load_settings())
    print(f"loadtest: removed {len(removed)} tenant(s) {' '.join(removed)}".rstrip())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "list":
        print(list_scenarios())
        return 0
    if args.command == "clean":
        return clean(args.host.rstrip("/"))
    opts = options(args)
    if args.plot:
        try:
            plot.require()  # before the run, not after it
        except plot.PlotError as exc:
            print(f"loadtest: {exc}", file=sys.stderr)
            return 2
    try:
        report = run(opts, say=lambda text: print(text, file=sys.stderr, flush=True))
    except (SetupError, RuntimeError) as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(render_table(report))
    print(f"results: {opts.out}")
    if args.plot:
        plot.write_run_charts(report, opts.out, opts.out.parent, sys.stdout)
    return 1 if report["totals"]["failures"] or report["failures"] else 0
