"""`ccx bench native`: native hot paths against the best pure-Python way, as a table or JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

import orjson

import ccx
from ccx.bench.progress import Progress

NATIVE_TARGET = 2.0  # every headline native path should be at least this many times faster


def find_checkout() -> Path:
    """The ccx checkout that holds `bench/`: the cwd or a parent, else the package's repo."""
    candidates = [Path.cwd(), *Path.cwd().parents, *Path(ccx.__file__).resolve().parents]
    for base in candidates:
        if (base / "bench" / "harness.py").is_file():
            return base
    raise SystemExit("ccx bench: run it from a ccx checkout (no bench/harness.py found)")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "ccx": ccx.__version__,
    }


def _table(results: list[Any]) -> str:
    head = (
        f"{'path':<10} {'case':<44} {'native ops/s':>13} {'best python':>13}  "
        f"{'rival':<22} {'ratio':>6}  ok"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        mark = "" if r.headline else " (info)"
        lines.append(
            f"{r.path:<10} {r.name[:44]:<44} {r.native_ops_s:>13,.0f} "
            f"{r.rivals_ops_s[r.best_rival]:>13,.0f}  {r.best_rival[:22]:<22} "
            f"{r.ratio:>5.1f}x  {'yes' if r.correct else 'NO'}{mark}"
        )
    return "\n".join(lines)


def run_native(args: argparse.Namespace) -> int:
    if args.plot and (problem := _plot_problem()):
        print(f"ccx bench native: {problem}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(find_checkout()))
    from bench.harness import remeasure_below, run_all
    from bench.native import PATHS, all_cases

    paths = tuple(args.paths) if args.paths else PATHS

    cases = list(all_cases(paths))
    bar = Progress("measuring", len(cases), enabled=not args.json)
    done = iter(range(len(cases)))

    def progress(case: Any) -> None:
        bar.update(next(done), f"{case.path}: {case.name[:40]}")

    results = run_all(cases, budget_s=args.budget, progress=progress)
    bar.close(f"{len(cases)} cases")
    if args.guard:
        results = remeasure_below(cases, results, args.guard, args.budget)
    summary = {}
    for path in paths:
        head = [r for r in results if r.path == path and r.headline]
        summary[path] = {
            "ratio": min((r.ratio for r in head), default=0.0),
            "correct": all(r.correct for r in results if r.path == path),
        }
    report = {
        "benchmark": "native",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "budget_s": args.budget,
        "target_ratio": NATIVE_TARGET,
        "summary": summary,
        "results": [vars(r) for r in results],
    }
    if args.out:
        Path(args.out).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(_table(results))
    if args.plot:
        from ccx.bench import plot

        out = Path(args.out) if args.out else None
        results_dir = find_checkout() / "bench" / "results"
        plot.write_run_charts(report, out, results_dir, sys.stderr if args.json else sys.stdout)
    failed = [p for p, s in summary.items() if not s["correct"]]
    if args.guard:
        failed += [p for p, s in summary.items() if s["ratio"] < args.guard]
    if failed:
        print(f"ccx bench: failed for {sorted(set(failed))}", file=sys.stderr)
        return 1
    return 0


def _plot_problem() -> str | None:
    """Why `--plot` cannot work here (checked before a run, not after it), or None."""
    from ccx.bench import plot

    try:
        plot.require()
    except plot.PlotError as exc:
        return str(exc)
    return None


def run_plot(args: argparse.Namespace) -> int:
    from ccx.bench import plot

    return plot.main(args)


def _checkout() -> Path | None:
    """The checkout when there is one (its scripts and bench/results), else None."""
    try:
        return find_checkout()
    except SystemExit:
        return None


def run_ingest(args: argparse.Namespace) -> int:
    from ccx.bench import ingest

    return ingest.main(args, _checkout())


def run_pipeline(args: argparse.Namespace) -> int:
    from ccx.bench import pipeline

    return pipeline.main(args, _checkout())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ccx bench", description=__doc__)
    sub = parser.add_subparsers(dest="which", required=True)
    native = sub.add_parser("native", help="native hot paths vs pure Python")
    native.add_argument("--json", action="store_true", help="print JSON instead of a table")
    native.add_argument("--out", help="also write the JSON report to this file")
    native.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    native.add_argument("--paths", nargs="*", help="subset: schema signing template ratelimit")
    native.add_argument(
        "--guard",
        type=float,
        default=0.0,
        help="fail when a path's headline ratio is below this (regression guard, e.g. 1.0)",
    )
    native.add_argument("--plot", action="store_true", help="also write PNG charts")
    native.set_defaults(func=run_native)
    from ccx.bench import ingest

    load = sub.add_parser("ingest", help="open-loop load on POST /v1/messages: ccx vs reference")
    ingest.add_arguments(load)
    load.set_defaults(func=run_ingest)
    from ccx.bench import plot

    charts = sub.add_parser("plot", help="PNG charts of benchmark reports (JSON)")
    plot.add_arguments(charts)
    charts.set_defaults(func=run_plot)
    from ccx.bench import pipeline

    end_to_end = sub.add_parser(
        "pipeline", help="end to end at rising rates: 202 → sent → client webhook"
    )
    pipeline.add_arguments(end_to_end)
    end_to_end.set_defaults(func=run_pipeline)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code
