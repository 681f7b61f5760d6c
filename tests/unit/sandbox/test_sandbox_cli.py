from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccx.config import SandboxSettings
from ccx.sandbox.cli import build_parser, main, options_from


def opts(*argv: str, settings: SandboxSettings | None = None):  # type: ignore[no-untyped-def]
    return options_from(build_parser().parse_args(list(argv)), settings or SandboxSettings())


def test_defaults_come_from_settings() -> None:
    o = opts(settings=SandboxSettings(port=9999, tokens="a, b", throughput=20, seed=4))
    assert o.port == 9999
    assert o.tokens == frozenset({"a", "b"})
    assert o.limits.throughput == 20
    assert o.seed == 4
    assert o.faults.hang_s == 30.0
    assert o.templates.get("otp_code", "en_US") is not None


def test_default_token_is_sandbox() -> None:
    assert opts().tokens == frozenset({"sandbox"})


def test_flags_override() -> None:
    o = opts(
        "--port", "0", "--token", "t1", "--token", "t2", "--throughput", "1000",
        "--number-throughput", "222=20", "--no-pair-limit", "--pair-burst", "3",
        "--callback-url", "http://127.0.0.1:1/cb", "--sent-delay", "0.05",
        "--latency", "uniform:1:5", "--error-rate", "131000=0.1", "--error-rate", "130429=0.2",
        "--reset-rate", "0.05", "--accept-no-answer-rate", "0.01", "--hang-seconds", "2",
        "--cb-fail-rate", "0.5", "--cb-fail-code", "131047", "--cb-fail-code", "131049=3",
        "--cb-duplicate-rate", "0.1", "--seed", "42",
    )  # fmt: skip
    assert o.port == 0
    assert o.tokens == frozenset({"t1", "t2"})
    assert o.limits.rate_for("222") == 20
    assert o.limits.rate_for("111") == 1000
    assert not o.limits.pair_enabled
    assert o.callbacks.url == "http://127.0.0.1:1/cb"
    assert o.callbacks.sent_delay_s == 0.05
    spec = o.faults.default
    assert spec.latency.to_json() == {"distribution": "uniform", "min_ms": 1.0, "max_ms": 5.0}
    assert spec.error_rates == {131000: 0.1, 130429: 0.2}
    assert (spec.reset, spec.accept_no_answer) == (0.05, 0.01)
    assert spec.callbacks.fail_codes == {131047: 1.0, 131049: 3.0}
    assert spec.callbacks.duplicate == 0.1
    assert o.faults.hang_s == 2.0
    assert o.seed == 42


def test_faults_and_templates_files(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"numbers": {"222": {"reset": 1.0}}, "hang_s": 3}))
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps([{"name": "t", "language": "en", "body_params": 1}]))
    o = opts("--faults", str(faults), "--templates", str(templates), "--timeout-rate", "0.5")
    assert o.faults.for_number("222").reset == 1.0
    assert o.faults.default.timeout == 0.5
    assert o.faults.hang_s == 3.0
    assert [t.name for t in o.templates.all()] == ["t"]


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--reset-rate", "2"]) == 2
    assert "probability" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--latency", "bogus"])
