"""oha's JSON report (captured from the pinned oha 1.16.0) reduced to one row; the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccx.bench.ingest import request_bodies
from ccx.bench.oha import (
    LoadSpec,
    oha_command,
    parse_duration,
    parse_rates,
    parse_report,
)

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def test_all_202_with_requests_cut_at_the_deadline() -> None:
    row = parse_report(load("oha-1.16.0-202.json"), 200)
    assert row.offered_rps == 200
    assert row.accepted == 397
    assert row.requests == 402
    assert row.failed == 5
    assert row.errors == {"aborted due to deadline": 5}
    assert row.status_codes == {"202": 397}
    assert row.duration_s == pytest.approx(2.004, abs=1e-3)
    assert row.accepted_rps == pytest.approx(198.1, abs=0.1)
    assert row.latency_ms["p50"] == pytest.approx(11.236, abs=1e-3)
    assert row.latency_ms["p90"] == pytest.approx(28.318, abs=1e-3)
    assert row.p99_ms == pytest.approx(65.848, abs=1e-3)
    assert row.latency_ms["p99.9"] == pytest.approx(82.236, abs=1e-3)
    assert row.latency_ms["max"] == pytest.approx(82.236, abs=1e-3)
    assert row.error_ratio == pytest.approx(5 / 402)


def test_other_statuses_are_errors() -> None:
    row = parse_report(load("oha-1.16.0-mixed.json"), 200)
    assert row.accepted == 197
    assert row.errors == {"status 422": 203}
    assert row.failed == 203
    assert row.as_dict()["failed"] == 203


def test_refused_connections_have_no_latency() -> None:
    row = parse_report(load("oha-1.16.0-refused.json"), 50)
    assert row.accepted == 0
    assert row.requests == 50
    assert row.errors == {"Connection refused (os error 111)": 50}
    assert row.p99_ms is None
    assert row.latency_ms["max"] is None
    assert row.error_ratio == 1.0


def test_empty_report() -> None:
    row = parse_report({}, 100)
    assert (row.requests, row.accepted, row.achieved_rps) == (0, 0, 0.0)
    assert row.error_ratio == 1.0


def test_command_is_open_loop_with_latency_correction(tmp_path: Path) -> None:
    spec = LoadSpec(
        "http://127.0.0.1:9/v1/messages",
        3000,
        10.0,
        64,
        request_bodies(3),
        {"authorization": "Bearer t"},
        timeout_s=5.0,
        threads=1,
    )
    command = oha_command(Path("/x/oha"), spec, tmp_path / "b.jsonl")
    text = " ".join(command)
    assert command[0] == "/x/oha"
    assert command[-1] == "http://127.0.0.1:9/v1/messages"
    for part in ("-q 3000", "-z 10s", "-c 64", "-t 5s", "-m POST", "--worker-threads 1"):
        assert part in text
    for flag in ("--latency-correction", "--no-tui", "-w"):
        assert flag in command
    assert command[command.index("--output-format") + 1] == "json"
    assert command[command.index("-Z") + 1] == str(tmp_path / "b.jsonl")
    assert command[command.index("-H") + 1] == "authorization: Bearer t"


def test_rates_and_durations() -> None:
    assert parse_rates("500, 1000,500,250") == [250, 500, 1000]
    for bad in ("", "0,5", "a,b"):
        with pytest.raises(ValueError, match="rates"):
            parse_rates(bad)
    assert parse_duration("10s") == 10.0
    assert parse_duration("500ms") == 0.5
    assert parse_duration("1.5m") == 90.0
    assert parse_duration("3") == 3.0
    with pytest.raises(ValueError, match="duration"):
        parse_duration("ten")
