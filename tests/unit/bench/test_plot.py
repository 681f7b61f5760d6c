"""`ccx bench plot` / `--plot`: one PNG per chart, README-sized, for every report kind, and a
clear ValueError for a report that cannot be plotted."""

from __future__ import annotations

import argparse
import copy
import importlib.util
import io
import os
import re
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest

from ccx.bench import ingest, plot
from ccx.bench.cli import main as bench_main

if not os.environ.get("CI"):  # CI installs ccx[dev], so there a missing matplotlib fails
    pytest.importorskip("matplotlib")

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"
MACHINE = {"cpus": 2, "cpu_model": "AMD EPYC", "memory_mb": 24105}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 10_000 < len(data) < 1_000_000
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_charts(paths: list[Path], expected: list[Path]) -> None:
    assert paths == expected
    for path in paths:
        width, height = png_size(path)
        assert width == 900
        assert 300 < height < 1200


def latency(base: float) -> dict[str, float]:
    return {"p50": base, "p90": base * 2, "p99": base * 4, "max": base * 8}


def native_report() -> dict[str, Any]:
    def result(path: str, native: float, rival: float, headline: bool = True) -> dict[str, Any]:
        return {
            "path": path,
            "name": f"{path} of one thing",
            "native_ops_s": native,
            "rivals_ops_s": {"python way": rival, "slower way": rival / 3},
            "best_rival": "python way",
            "ratio": native / rival,
            "correct": True,
            "headline": headline,
        }

    return {
        "benchmark": "native",
        "date": "2026-11-28T06:11:19+00:00",
        "machine": {"cpus": 2, "processor": "x86_64", "python": "3.11.7", "ccx": "0.1.0"},
        "target_ratio": 2.0,
        "results": [
            result("schema", 130_000, 58_000),
            result("signing", 850_000, 330_000, headline=False),
            result("ratelimit", 1_500_000, 1_000_000),  # under the target: drawn in red
        ],
    }


def ingest_report() -> dict[str, Any]:
    def row(rate: int, p50: float, p99: float, failed: int = 0) -> dict[str, Any]:
        return {
            "offered_rps": rate,
            "failed": failed,
            "latency_ms": {"p50": p50, "p90": p99 / 2, "p99": p99, "p99.9": None, "max": None},
        }

    return {
        "benchmark": "ingest",
        "date": "2026-11-28T14:48:06+00:00",
        "machine": MACHINE,
        "versions": {"ccx": "0.1.0", "python": "3.11.7"},
        "summary": {"p99_budget_ms": 40.0, "ratio_ccx_over_reference": 4.0},
        "results": {
            "ccx": {"rates": [row(1000, 14.0, 39.0), row(500, 6.0, 15.0), row(2000, 80, 400, 12)]},
            "reference": {"rates": [row(100, 6.0, 9.0), row(250, 4.0, 11.0), row(300, 210, 775)]},
            "other": {"setup_error": "server did not start", "rates": []},
        },
    }


def pipeline_report() -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {
            "rate": rate,
            "start_s": i * 6.5,  # 1.5 s of draining after each step
            "duration_s": 5.0,
            "offered": rate * 5,
            "accepted": rate * 5,
            "sent": rate * 5,
            "webhooks": rate * 5,
            "errors": 3 if rate == 400 else 0,
            "latency_ms": {
                "accept": latency(2 + i),
                "sent": latency(20.0 * (i + 1)),
                "webhook": latency(40.0 * (i + 1)) | ({"p99": None} if i == 0 else {}),
            },
            "throughput": {"accepted_per_s": rate, "sent_per_s": rate, "webhooks_per_s": rate},
        }
        for i, rate in enumerate((50, 100, 200, 400))
    ]
    timeline = [
        {"t": float(t), "accepted": rate, "sent": rate - 3, "webhooks": rate - 7}
        for t, rate in enumerate(s["rate"] for s in steps for _ in range(7))
    ]
    return {
        "benchmark": "pipeline",
        "date": "2026-11-29T10:00:00+00:00",
        "machine": MACHINE,
        "versions": {"ccx": "0.1.0"},
        "settings": {},
        "baseline": {"rate": 50, "sends": 200, "ok": 200, "latency_ms": latency(15.0)},
        "steps": steps,
        "timeline": timeline,
        "summary": {},
    }


def loadtest_report() -> dict[str, Any]:
    def row(method: str, name: str, p50: float, failures: int = 0) -> dict[str, Any]:
        return {
            "method": method,
            "name": name,
            "requests": 1000,
            "failures": failures,
            "rps": 100.0,
            "p50_ms": p50,
            "p90_ms": p50 * 2,
            "p99_ms": p50 * 5,
            "max_ms": p50 * 9,
        }

    return {
        "benchmark": "loadtest",
        "scenario": "otp",
        "date": "2026-11-29T11:00:00+00:00",
        "machine": MACHINE,
        "requests": [
            row("POST", "/v1/messages", 9.0),
            row("GET", "/v1/messages/[id]", 4.0, failures=3),
            row("FLOW", "accepted → read", 1500.0) | {"rps": None},
        ],
    }


def test_native_chart(tmp_path: Path) -> None:
    paths = plot.charts(native_report(), tmp_path / "new", "native-x")
    assert_charts(paths, [tmp_path / "new" / "native-x-ops.png"])


def test_loadtest_chart(tmp_path: Path) -> None:
    paths = plot.charts(loadtest_report(), tmp_path, "loadtest-otp")
    assert_charts(paths, [tmp_path / "loadtest-otp-requests.png"])


def test_ingest_chart_skips_a_target_that_never_ran(tmp_path: Path) -> None:
    paths = plot.charts(ingest_report(), tmp_path, "ingest-x")
    assert_charts(paths, [tmp_path / "ingest-x-latency.png"])


def test_pipeline_charts(tmp_path: Path) -> None:
    paths = plot.charts(pipeline_report(), tmp_path, "pipeline-x")
    assert_charts(
        paths, [tmp_path / "pipeline-x-latency.png", tmp_path / "pipeline-x-throughput.png"]
    )


def test_steps_start_where_the_report_says_else_back_to_back() -> None:
    steps = plot.pipeline_steps(pipeline_report())
    assert plot.step_spans(steps) == [(0.0, 5.0), (6.5, 11.5), (13.0, 18.0), (19.5, 24.5)]
    report = pipeline_report()
    for step in report["steps"]:
        del step["start_s"]
    spans = plot.step_spans(plot.pipeline_steps(report))
    assert spans == [(0.0, 5.0), (5.0, 10.0), (10.0, 15.0), (15.0, 20.0)]


@pytest.mark.parametrize(
    ("name", "chart"),
    [("native-2026-11-28", "ops"), ("ingest-2026-11-28", "latency")],
)
def test_the_committed_reports(tmp_path: Path, name: str, chart: str) -> None:
    report = orjson.loads((RESULTS / f"{name}.json").read_bytes())
    assert_charts(plot.charts(report, tmp_path, name), [tmp_path / f"{name}-{chart}.png"])


def test_provenance_names_date_and_machine() -> None:
    assert plot.provenance(ingest_report()) == (
        "2026-11-28 14:48 UTC · 2 CPUs · AMD EPYC · Python 3.11.7 · ccx 0.1.0"
    )
    native = plot.provenance(native_report())
    assert native == "2026-11-28 06:11 UTC · 2 CPUs · x86_64 · Python 3.11.7 · ccx 0.1.0"
    assert plot.provenance({"date": "2026-11-28T07:00:00+01:00"}) == "2026-11-28 07:00 +0100"
    assert plot.provenance({}) == "date unknown"


def broken(report: dict[str, Any], *path: str | int, value: Any = None, drop: bool = False) -> Any:
    """A deep copy of `report` with the item at `path` replaced (or removed)."""
    out = copy.deepcopy(report)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if drop:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"benchmark": "webhooks"}, "cannot plot benchmark 'webhooks'"),
        ({}, "cannot plot benchmark None"),
        (broken(pipeline_report(), "steps", drop=True), "no 'steps'"),
        (broken(pipeline_report(), "steps", value=[]), "no 'steps'"),
        (broken(pipeline_report(), "steps", value=[1, 2]), "'steps' holds a non-object"),
        (broken(pipeline_report(), "timeline", drop=True), "no 'timeline'"),
        (broken(pipeline_report(), "steps", 1, "latency_ms", "webhook", drop=True), "steps[1]"),
        (broken(pipeline_report(), "steps", 0, "rate", value="fast"), "steps[0]"),
        (broken(pipeline_report(), "timeline", 2, "sent", drop=True), "timeline[2]"),
        (broken(native_report(), "results", 1, "best_rival", value="nobody"), "results[1]"),
        (broken(native_report(), "results", drop=True), "no 'results'"),
        (broken(ingest_report(), "results", drop=True), "no 'results' object"),
        (broken(loadtest_report(), "requests", value=[]), "no 'requests'"),
        (broken(loadtest_report(), "requests", 0, "p99_ms", drop=True), "requests[0]"),
        (broken(ingest_report(), "results", "ccx", "rates", drop=True), "no 'rates' list"),
        (broken(ingest_report(), "results", value={"ccx": {"rates": []}}), "no measured rate"),
    ],
)
def test_a_report_that_cannot_be_plotted(
    tmp_path: Path, report: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plot.charts(report, tmp_path, "bad")
    assert list(tmp_path.iterdir()) == []


def test_cli_plot_beside_the_report_and_into_out_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pipeline-2026-11-29.json"
    source.write_bytes(orjson.dumps(pipeline_report()))
    assert bench_main(["plot", str(source)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [
        str(tmp_path / "pipeline-2026-11-29-latency.png"),
        str(tmp_path / "pipeline-2026-11-29-throughput.png"),
    ]
    assert all(Path(p).is_file() for p in printed)

    assert bench_main(["plot", str(source), "--out-dir", str(tmp_path / "charts")]) == 0
    assert capsys.readouterr().out.split() == [
        str(tmp_path / "charts" / "pipeline-2026-11-29-latency.png"),
        str(tmp_path / "charts" / "pipeline-2026-11-29-throughput.png"),
    ]


def test_cli_plot_reports_bad_files_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "webhooks.json").write_bytes(orjson.dumps({"benchmark": "webhooks"}))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "native.json").write_bytes(orjson.dumps(native_report()))
    names = ["webhooks.json", "broken.json", "list.json", "missing.json", "native.json"]
    assert bench_main(["plot", *(str(tmp_path / n) for n in names)]) == 1
    out, err = capsys.readouterr()
    assert out.split() == [str(tmp_path / "native-ops.png")]
    assert "webhooks.json: cannot plot benchmark 'webhooks'" in err
    assert "broken.json:" in err
    assert "list.json: not a JSON object" in err
    assert "missing.json:" in err


def test_without_matplotlib_plot_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(plot.PlotError, match=r"pip install 'ccx\[bench\]'"):
        plot.require()
    assert bench_main(["plot", str(tmp_path / "any.json")]) == 2
    assert "pip install 'ccx[bench]'" in capsys.readouterr().err


def test_run_charts_without_a_json_report_use_benchmark_and_date(tmp_path: Path) -> None:
    stream = io.StringIO()
    paths = plot.write_run_charts(native_report(), None, tmp_path / "results", stream)
    assert paths == [tmp_path / "results" / "native-2026-11-28-ops.png"]
    assert stream.getvalue() == f"chart: {paths[0]}\n"
    beside = plot.write_run_charts(native_report(), tmp_path / "run.json", tmp_path, stream)
    assert beside == [tmp_path / "run-ops.png"]


def test_run_charts_of_a_run_that_measured_nothing_say_so(tmp_path: Path) -> None:
    stream = io.StringIO()
    report = broken(ingest_report(), "results", value={"ccx": {"setup_error": "x", "rates": []}})
    assert plot.write_run_charts(report, tmp_path / "ingest.json", tmp_path, stream) == []
    assert stream.getvalue().startswith("no charts: ingest report has no measured rate")


def test_ingest_plot_flag_writes_charts_beside_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    ingest.add_arguments(parser)
    args = parser.parse_args(["--plot", "--json"])
    report = broken(ingest_report(), "results", "other", drop=True)
    monkeypatch.setattr(ingest, "run", lambda opts, checkout, quiet: report)
    assert ingest.main(args, tmp_path) == 0
    results = tmp_path / "bench" / "results"
    assert (results / "ingest-2026-11-28.json").is_file()
    png_size(results / "ingest-2026-11-28-latency.png")
    out, err = capsys.readouterr()
    assert orjson.loads(out)["benchmark"] == "ingest"  # stdout stays pure JSON
    assert f"chart: {results / 'ingest-2026-11-28-latency.png'}" in err
