"""`python -m loadtest`: argument parsing, defaults per scenario, the output path, `list`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from loadtest import cli, tenants
from loadtest.cli import default_out, list_scenarios, main, options, parser
from loadtest.runner import ROOT, RunOptions
from loadtest.scenarios import SCENARIOS


def parse(*argv: str) -> RunOptions:
    return options(parser().parse_args(["run", *argv]))


def test_run_takes_every_option() -> None:
    opts = parse(
        "idempotent", "--users", "2", "--spawn-rate", "0.5", "--duration", "5s",
        "--host", "http://127.0.0.1:9000/", "--sandbox", "http://127.0.0.1:9001/",
        "--tenants", "3", "--out", "x.json", "--keep-data",
    )  # fmt: skip
    assert opts == RunOptions(
        scenario=SCENARIOS["idempotent"],
        users=2,
        spawn_rate=0.5,
        duration_s=5.0,
        host="http://127.0.0.1:9000",
        sandbox="http://127.0.0.1:9001",
        tenants=3,
        out=Path("x.json"),
        keep_data=True,
    )


def test_defaults_come_from_the_scenario() -> None:
    opts = parse("mix")
    mix = SCENARIOS["mix"]
    assert (opts.users, opts.tenants) == (mix.default_users, mix.default_tenants)
    assert opts.spawn_rate == float(mix.default_users)
    assert opts.duration_s == 60.0
    assert opts.host == "http://127.0.0.1:8000"
    assert opts.sandbox == "http://127.0.0.1:8090"
    assert parse("otp").tenants == 1


def test_durations_in_the_usual_units() -> None:
    assert parse("otp", "--duration", "2m").duration_s == 120.0
    assert parse("otp", "--duration", "90").duration_s == 90.0


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "nope"],
        ["run", "otp", "--users", "0"],
        ["run", "otp", "--duration", "soon"],
        ["run", "otp", "--duration", "0s"],
        ["run", "otp", "--tenants", "-1"],
        ["run"],
        [],
    ],
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_default_out_names_scenario_and_date() -> None:
    path = default_out("otp", dt.date(2026, 11, 29))
    assert path.name == "loadtest-otp-2026-11-29.json"
    assert path.parent.parts[-2:] == ("bench", "results")


def test_list_names_every_scenario_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS)
    assert lines == list_scenarios().splitlines()
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_clean_refuses_while_an_api_answers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    called: list[object] = []

    def clean(settings: object) -> list[str]:
        called.append(settings)
        return []

    monkeypatch.setattr(cli, "api_answers", lambda host: True)
    monkeypatch.setattr(tenants, "clean", clean)
    assert main(["clean", "--host", "http://127.0.0.1:1"]) == 2
    assert called == []
    assert "ccx down" in capsys.readouterr().out


def test_clean_drops_the_loadtest_tenants_once_the_stack_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tenants, "clean", lambda settings: ["lt-otp-1"])
    assert not cli.api_answers("http://127.0.0.1:9")  # the discard port: nothing listens
    assert main(["clean", "--host", "http://127.0.0.1:9"]) == 0
    assert "removed 1 tenant(s) lt-otp-1" in capsys.readouterr().out


def test_plot_draws_the_run_beside_its_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    source = ROOT / "bench" / "results" / "loadtest-otp-2026-11-29.json"
    report = orjson.loads(source.read_bytes())
    monkeypatch.setattr(cli, "run", lambda opts, say: report)
    out = tmp_path / "otp.json"
    assert cli.main(["run", "otp", "--out", str(out), "--plot"]) == 0
    assert orjson.loads(out.read_bytes()) == report
    png = tmp_path / "otp-requests.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"chart: {png}" in capsys.readouterr().out
