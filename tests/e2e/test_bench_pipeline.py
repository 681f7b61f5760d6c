"""`ccx bench pipeline` end to end: its own stack, a short ramp, the JSON report and charts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from tests.e2e.serving import run_module, services_or_skip

pytestmark = pytest.mark.e2e


def test_a_short_ramp_reports_every_message_webhooked_and_draws_its_charts(
    tmp_path: Path,
) -> None:
    services_or_skip()
    out = tmp_path / "pipeline.json"
    run_module(
        "ccx.cli", "bench", "pipeline", "--rates", "4,8", "--duration", "2", "--warmup", "0",
        "--baseline-messages", "10", "--drain", "60", "--out", str(out), "--plot", "--quiet",
        timeout_s=240,
    )  # fmt: skip
    report = orjson.loads(out.read_bytes())
    assert report["benchmark"] == "pipeline"
    assert report["machine"]["cpus"]
    assert report["versions"]["ccx"]
    assert [s["rate"] for s in report["steps"]] == [4, 8]
    for step in report["steps"]:
        assert step["offered"] == step["accepted"] == step["sent"] == step["webhooks"]
        assert step["errors"] == 0
        webhook, sent = step["latency_ms"]["webhook"], step["latency_ms"]["sent"]
        assert webhook["p50"] > 0
        assert sent["p50"] <= webhook["p50"]
    assert report["baseline"]["ok"] == 10
    assert report["webhooks_refused"] == 0
    assert report["summary"]["sustained_rate"] == 8
    timeline = report["timeline"]
    assert sum(r["accepted"] for r in timeline) == sum(r["sent"] for r in timeline) == 24
    # sent, then delivered and read: more webhooks than messages
    assert sum(r["webhooks"] for r in timeline) > 24
    for chart in ("latency", "throughput"):
        png = tmp_path / f"pipeline-{chart}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
