"""`ccx bench plot` and `--plot`: PNG charts of a benchmark report, sized for the README.

Each chart is 900 px wide and titled with when and on what it was measured. matplotlib (an
optional dependency, `ccx[bench]`) is imported only when a chart is drawn, and through its
object API (`Figure` on an Agg canvas), so no pyplot state or GUI backend is involved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import math
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: README width: 900 px at this dpi.
DPI = 110
WIDTH_IN = 900 / DPI
INSTALL_HINT = "charts (--plot, ccx bench plot) need matplotlib: pip install 'ccx[bench]'"
#: When an ingest report lacks `summary.p99_budget_ms` (the budget of ccx.bench.ingest).
P99_BUDGET_MS = 40.0
#: One colour per series, the same in every chart (matplotlib's tab10).
COLORS = {
    "ccx": "tab:blue",
    "reference": "tab:red",
    "native": "tab:blue",
    "python": "tab:orange",
    "accept": "tab:green",
    "sent": "tab:blue",
    "webhook": "tab:purple",
    "accepted": "tab:green",
    "webhooks": "tab:purple",
}
#: Pipeline stages: the report's key and the legend's name.
STAGES = (("accept", "POST → 202"), ("sent", "202 → sent"), ("webhook", "202 → webhook"))
FLOWS = (("accepted", "accepted (202)"), ("sent", "sent to Meta"), ("webhooks", "webhooks"))

Chart = tuple[str, "Figure"]


class PlotError(RuntimeError):
    """Charts cannot be drawn here: matplotlib is missing."""


def require() -> None:
    """Raise PlotError unless matplotlib can be imported (checked before a long run)."""
    if importlib.util.find_spec("matplotlib") is None:
        raise PlotError(INSTALL_HINT)


def charts(report: dict[str, Any], out_dir: Path, stem: str) -> list[Path]:
    """Write the charts of `report` as `<out_dir>/<stem>-<chart>.png`; their paths.

    ValueError when the report is of an unknown kind or lacks what its charts need."""
    kind = report.get("benchmark")
    draw = DRAWERS.get(kind) if isinstance(kind, str) else None
    if draw is None:
        raise ValueError(f"cannot plot benchmark {kind!r}: known kinds are {', '.join(DRAWERS)}")
    figures = draw(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures:
        path = out_dir / f"{stem}-{name}.png"
        fig.savefig(path, dpi=DPI)
        paths.append(path)
    return paths


def write_run_charts(
    report: dict[str, Any], json_path: Path | None, results_dir: Path, stream: TextIO
) -> list[Path]:
    """`--plot` after a run: the charts beside the run's JSON report, or in `results_dir` as
    `<benchmark>-<YYYY-MM-DD>-<chart>.png` when no report was written; each path to `stream`.
    A run with nothing to plot (every target failed to start) says so instead of failing."""
    if json_path is not None:
        out_dir, stem = json_path.parent, json_path.stem
    else:
        out_dir, stem = results_dir, f"{report['benchmark']}-{str(report.get('date'))[:10]}"
    try:
        paths = charts(report, out_dir, stem)
    except ValueError as exc:
        print(f"no charts: {exc}", file=stream)
        return []
    for path in paths:
        print(f"chart: {path}", file=stream)
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULT.json", help="benchmark reports")
    parser.add_argument("--out-dir", help="where the PNGs go (default: beside each report)")


def main(args: argparse.Namespace) -> int:
    """`ccx bench plot`: the charts of each report, their paths on stdout."""
    try:
        require()
    except PlotError as exc:
        print(f"ccx bench plot: {exc}", file=sys.stderr)
        return 2
    code = 0
    for name in args.results:
        source = Path(name)
        try:
            report = orjson.loads(source.read_bytes())
            if not isinstance(report, dict):
                raise ValueError("not a JSON object")
            out_dir = Path(args.out_dir) if args.out_dir else source.parent
            paths = charts(report, out_dir, source.stem)
        except (OSError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
            print(f"ccx bench plot: {source}: {exc}", file=sys.stderr)
            code = 1
            continue
        for path in paths:
            print(path)
    return code


# --- native: ccx's native hot paths against the best pure-Python way ---------------------


@dataclass(frozen=True)
class NativeCase:
    label: str
    native_ops_s: float
    rival_ops_s: float
    rival: str
    ratio: float
    headline: bool


def native_cases(report: dict[str, Any]) -> list[NativeCase]:
    cases = []
    for i, r in enumerate(_items(report, "results")):
        try:
            rival = str(r["best_rival"])
            cases.append(
                NativeCase(
                    label=f"{r['path']}: {r['name']}",
                    native_ops_s=float(r["native_ops_s"]),
                    rival_ops_s=float(r["rivals_ops_s"][rival]),
                    rival=rival,
                    ratio=float(r["ratio"]),
                    headline=bool(r.get("headline", True)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"native results[{i}]: missing or bad field {exc}") from exc
    return cases


def _native(report: dict[str, Any]) -> list[Chart]:
    cases = native_cases(report)
    target = float(report.get("target_ratio") or 0.0)
    fig, ax = _figure(1.9 + 0.62 * len(cases))
    ys = list(range(len(cases)))
    height = 0.38
    ax.barh(
        [y - height / 2 for y in ys],
        [c.native_ops_s for c in cases],
        height,
        color=COLORS["native"],
        label="ccx native",
    )
    ax.barh(
        [y + height / 2 for y in ys],
        [c.rival_ops_s for c in cases],
        height,
        color=COLORS["python"],
        label="best pure-Python rival (named at the bar)",
    )
    for y, c in zip(ys, cases, strict=True):
        below = c.headline and c.ratio < target
        ax.annotate(
            f"{c.ratio:.1f}×",
            (c.native_ops_s, y - height / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            fontweight="bold",
            color="tab:red" if below else "black",
        )
        ax.annotate(
            textwrap.shorten(c.rival, 60, placeholder="…"),
            (c.rival_ops_s, y + height / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
            color="dimgray",
        )
    labels = [
        textwrap.fill(c.label + ("" if c.headline else " (info)"), 34, max_lines=3) for c in cases
    ]
    ax.set_yticks(ys, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    values = [v for c in cases for v in (c.native_ops_s, c.rival_ops_s)]
    ax.set_xlim(10 ** math.floor(math.log10(min(values))), max(values) * 3)
    ax.set_xlabel("operations per second (log scale)")
    ax.grid(axis="x", which="major", alpha=0.3)
    note = "× = native / best Python"
    if target:
        note += f"\nred: a headline case under the {target:g}× target"
    _legend(fig, ax, 2, title=note)
    _titles(fig, ax, report, "Native hot paths against the best pure-Python way")
    return [("ops", fig)]


# --- ingest: open-loop latency of POST /v1/messages, ccx and the reference ----------------


@dataclass(frozen=True)
class RatePoint:
    rate: float
    p50: float
    p99: float
    errors: int


def ingest_series(report: dict[str, Any]) -> dict[str, list[RatePoint]]:
    results = report.get("results")
    if not isinstance(results, dict):
        raise ValueError("ingest report has no 'results' object")
    series: dict[str, list[RatePoint]] = {}
    for target, result in results.items():
        rows = result.get("rates") if isinstance(result, dict) else None
        if not isinstance(rows, list):
            raise ValueError(f"ingest results[{target!r}] has no 'rates' list")
        try:
            points = [
                RatePoint(
                    rate=float(r["offered_rps"]),
                    p50=_ms(r["latency_ms"].get("p50")),
                    p99=_ms(r["latency_ms"].get("p99")),
                    errors=int(r.get("failed", 0)),
                )
                for r in rows
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"ingest results[{target!r}]: missing or bad field {exc}") from exc
        if points:
            series[str(target)] = sorted(points, key=lambda p: p.rate)
    if not series:
        raise ValueError("ingest report has no measured rate (every target failed to set up?)")
    return series


def _ingest(report: dict[str, Any]) -> list[Chart]:
    series = ingest_series(report)
    summary = report.get("summary") or {}
    budget = float(summary.get("p99_budget_ms") or P99_BUDGET_MS)
    ratio = summary.get("ratio_ccx_over_reference")
    budget_label = f"p99 budget {budget:g} ms" + (
        f" (ccx / reference: {ratio:g}×)" if ratio else ""
    )
    fig, ax = _figure(5.2)
    for i, (target, points) in enumerate(series.items()):
        color = COLORS.get(target, f"C{i + 2}")
        best = max((p.rate for p in points if p.errors == 0 and p.p99 < budget), default=0.0)
        within = f" (under {budget:g} ms up to {best:g}/s)" if best else ""
        xs = [p.rate for p in points]
        ax.plot(xs, [p.p99 for p in points], "s-", color=color, label=f"{target} p99{within}")
        ax.plot(xs, [p.p50 for p in points], "o:", color=color, label=f"{target} p50")
    _mark_errors(ax, [(p.rate, p.p99, p.errors) for ps in series.values() for p in ps])
    ax.axhline(budget, color="black", linestyle="--", linewidth=1, label=budget_label)
    _rate_axis(ax, [p.rate for ps in series.values() for p in ps])
    ax.set_yscale("log")
    _ms_axis(ax)
    ax.set_ylabel("latency of POST /v1/messages (ms, log scale)")
    _legend(fig, ax, 3)
    _titles(fig, ax, report, "Ingest: latency against offered rate (open loop, oha)")
    return [("latency", fig)]


# --- pipeline: 202 → sent → webhook through the whole stack -------------------------------


@dataclass(frozen=True)
class Step:
    rate: float
    start_s: float | None  # seconds from the first step's start; None: right after the last
    duration_s: float
    errors: int
    latency: dict[str, tuple[float, float]]  # stage → (p50, p99) in ms


def pipeline_steps(report: dict[str, Any]) -> list[Step]:
    steps = []
    for i, s in enumerate(_items(report, "steps")):
        try:
            latency = s["latency_ms"]
            steps.append(
                Step(
                    rate=float(s["rate"]),
                    start_s=None if s.get("start_s") is None else float(s["start_s"]),
                    duration_s=float(s["duration_s"]),
                    errors=int(s.get("errors") or 0),
                    latency={
                        stage: (_ms(latency[stage].get("p50")), _ms(latency[stage].get("p99")))
                        for stage, _ in STAGES
                    },
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"pipeline steps[{i}]: missing or bad field {exc}") from exc
    return steps


def pipeline_timeline(report: dict[str, Any]) -> list[dict[str, float]]:
    timeline = []
    for i, row in enumerate(_items(report, "timeline")):
        try:
            timeline.append({key: float(row[key]) for key in ("t", *(k for k, _ in FLOWS))})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"pipeline timeline[{i}]: missing or bad field {exc}") from exc
    return timeline


def _pipeline(report: dict[str, Any]) -> list[Chart]:
    steps = pipeline_steps(report)
    timeline = pipeline_timeline(report)
    return [
        ("latency", _pipeline_latency(report, steps)),
        ("throughput", _throughput(report, steps, timeline)),
    ]


def _pipeline_latency(report: dict[str, Any], steps: list[Step]) -> Figure:
    fig, ax = _figure(5.2)
    xs = [s.rate for s in steps]
    for stage, name in STAGES:
        color = COLORS[stage]
        ax.plot(xs, [s.latency[stage][1] for s in steps], "s-", color=color, label=f"{name} p99")
        ax.plot(xs, [s.latency[stage][0] for s in steps], "o:", color=color, label=f"{name} p50")
    _mark_errors(ax, [(s.rate, s.latency["webhook"][1], s.errors) for s in steps])
    direct = ((report.get("baseline") or {}).get("latency_ms") or {}).get("p50")
    if isinstance(direct, int | float):
        ax.axhline(direct, color="gray", linestyle="-.", label="direct to the sandbox p50")
    _rate_axis(ax, xs)
    ax.set_yscale("log")
    _ms_axis(ax)
    ax.set_ylabel("latency (ms, log scale)")
    _legend(fig, ax, 4)
    _titles(fig, ax, report, "Pipeline: latency from the 202 to Meta and to the webhook")
    return fig


def _throughput(
    report: dict[str, Any], steps: list[Step], timeline: list[dict[str, float]]
) -> Figure:
    fig, ax = _figure(4.8)
    spans = step_spans(steps)
    starts, ends = [a for a, _ in spans], [b for _, b in spans]
    rates = [s.rate for s in steps]
    ax.hlines(rates, starts, ends, colors="gray", linestyles="--", label="offered rate")
    ts = [row["t"] for row in timeline]
    for key, name in FLOWS:
        ax.plot(ts, [row[key] for row in timeline], color=COLORS[key], label=f"{name} per s")
    top = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for (start, end), rate in zip(spans, rates, strict=True):
        ax.axvspan(start, end, color="0.93", zorder=0)  # unshaded between: draining
        ax.text(
            (start + end) / 2,
            0.98,
            f"{rate:g}/s",
            transform=top,
            ha="center",
            va="top",
            fontsize=7.5,
            color="dimgray",
        )
    ax.set_xlim(0, max(ends[-1], max(ts, default=0.0) + 1))
    ax.set_ylim(0, None)
    ax.margins(y=0.12)
    ax.set_xlabel("time since the start of the run (s)")
    ax.set_ylabel("messages per second")
    ax.grid(alpha=0.3)
    _legend(fig, ax, 4)
    _titles(fig, ax, report, "Pipeline: throughput over time (shaded: each step's offer)")
    return fig


def step_spans(steps: Sequence[Step]) -> list[tuple[float, float]]:
    """When each step offered load: from its `start_s`, else right after the one before."""
    spans = []
    end = 0.0
    for s in steps:
        start = end if s.start_s is None else s.start_s
        end = start + s.duration_s
        spans.append((start, end))
    return spans


# --- loadtest: a locust scenario's latency per request name (python -m loadtest) ----------

LOADTEST_PERCENTILES = (("p50_ms", "p50", 0.45), ("p90_ms", "p90", 0.7), ("p99_ms", "p99", 1.0))


def loadtest_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for i, r in enumerate(_items(report, "requests")):
        try:
            rows.append(
                {
                    "label": f"{r['method']} {r['name']}",
                    "rps": r.get("rps"),
                    "failures": int(r.get("failures") or 0),
                    **{key: _ms(r[key]) for key, _, _ in LOADTEST_PERCENTILES},
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"loadtest requests[{i}]: missing or bad field {exc}") from exc
    return rows


def _loadtest(report: dict[str, Any]) -> list[Chart]:
    rows = loadtest_rows(report)
    fig, ax = _figure(1.9 + 0.5 * len(rows))
    height = 0.8 / len(LOADTEST_PERCENTILES)
    for k, (key, name, alpha) in enumerate(LOADTEST_PERCENTILES):
        ys = [i - 0.4 + height * (k + 0.5) for i in range(len(rows))]
        ax.barh(ys, [r[key] for r in rows], height, color="tab:blue", alpha=alpha, label=name)
    for i, r in enumerate(rows):
        top = max(
            (r[key] for key, _, _ in LOADTEST_PERCENTILES if not math.isnan(r[key])), default=1
        )
        rate = "" if r["rps"] is None else f"{r['rps']:g}/s"
        failed = f", {r['failures']} failed" if r["failures"] else ""
        ax.annotate(
            rate + failed,
            (top, i),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
            color="tab:red" if failed else "dimgray",
        )
    ax.set_yticks(range(len(rows)), [textwrap.fill(r["label"], 36, max_lines=2) for r in rows])
    ax.tick_params(axis="y", labelsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.margins(x=0.15)
    _ms_axis_x(ax)
    ax.set_xlabel("latency (ms, log scale); requests/s and failures at the bars")
    ax.grid(axis="x", alpha=0.3)
    _legend(fig, ax, 3)
    scenario = report.get("scenario") or "?"
    _titles(fig, ax, report, f"Load test '{scenario}': latency per request (locust)")
    return [("requests", fig)]


DRAWERS: dict[str, Callable[[dict[str, Any]], list[Chart]]] = {
    "native": _native,
    "ingest": _ingest,
    "pipeline": _pipeline,
    "loadtest": _loadtest,
}


# --- shared --------------------------------------------------------------------------------


def _figure(height_in: float) -> tuple[Figure, Axes]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlotError(INSTALL_HINT) from exc
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def provenance(report: dict[str, Any]) -> str:
    """When, on what and with which versions: the second line of every title."""
    machine = report.get("machine") or {}
    versions = report.get("versions") or {}
    parts = [_when(report.get("date"))]
    cpus = machine.get("cpus")
    if cpus:
        parts.append(f"{cpus} CPU{'' if cpus == 1 else 's'}")
    model = machine.get("cpu_model") or machine.get("processor")
    if model:
        parts.append(str(model))
    python = versions.get("python") or machine.get("python")
    if python:
        parts.append(f"Python {python}")
    version = versions.get("ccx") or machine.get("ccx")
    if version:
        parts.append(f"ccx {version}")
    return " · ".join(parts)


def _when(date: object) -> str:
    if not isinstance(date, str):
        return "date unknown"
    try:
        when = dt.datetime.fromisoformat(date)
    except ValueError:
        return date
    offset = when.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else when.strftime(" %z")
    return when.strftime("%Y-%m-%d %H:%M") + zone


def _titles(fig: Figure, ax: Axes, report: dict[str, Any], title: str) -> None:
    fig.suptitle(title, fontsize=11, fontweight="bold")
    ax.set_title(provenance(report), fontsize=8.5, color="dimgray")


def _legend(fig: Figure, ax: Axes, ncols: int, title: str | None = None) -> None:
    """The legend under the chart, where it never hides a line."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=ncols,
        fontsize=8,
        title=title,
        title_fontsize=8,
        frameon=False,
    )


def _rate_axis(ax: Axes, rates: Sequence[float]) -> None:
    """Offered rate on a log axis (the targets' sweeps differ by 10×), ticked at the rates."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    ticks = sorted(set(rates))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(
        ticks, [f"{t:g}" for t in ticks], fontsize=8, rotation=45 if len(ticks) > 12 else 0
    )
    ax.set_xlabel("offered rate (messages/s, log scale)")
    ax.grid(alpha=0.3)


def _ms_axis(ax: Axes) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _ms_axis_x(ax: Axes) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _mark_errors(ax: Axes, points: Sequence[tuple[float, float, int]]) -> None:
    """A red cross where a rate had failed requests, labelled with how many."""
    bad = [(x, y, n) for x, y, n in points if n and not math.isnan(y)]
    if not bad:
        return
    ax.plot(
        [x for x, _, _ in bad],
        [y for _, y, _ in bad],
        "x",
        color="red",
        markersize=10,
        mew=2,
        label="rate with errors",
    )
    for x, y, n in bad:
        ax.annotate(
            f"{n} errors",
            (x, y),
            xytext=(-8, 8),
            textcoords="offset points",
            ha="right",
            fontsize=7.5,
            color="red",
        )


def _items(report: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = report.get(key)
    if not isinstance(items, list) or not items:
        raise ValueError(f"{report.get('benchmark')} report has no {key!r} (a non-empty list)")
    if not all(isinstance(item, dict) for item in items):
        raise ValueError(f"{report.get('benchmark')} report: {key!r} holds a non-object")
    return items


def _ms(value: Any) -> float:
    """A latency in ms; NaN (a gap in the line) when it was not measured."""
    return math.nan if value is None else float(value)
