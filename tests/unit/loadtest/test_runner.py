"""The pure parts of a run: the locust command line, the recorded settings, the context
handed to locust, and the failure reasons the users give."""

from __future__ import annotations

import itertools
import stat
from pathlib import Path

import pytest
from loadtest.context import CONTEXT_ENV, RunContext, Tenant, from_environment
from loadtest.runner import LOCUSTFILE, RunOptions, locust_command, sends_during, settings_of
from loadtest.sandbox import Ledger
from loadtest.scenarios import SCENARIOS
from loadtest.scenarios.answers import problem_title, unexpected
from loadtest.scenarios.tally import Tally
from loadtest.tenants import sender_number, tenant_ids

from ccx.stack.demo import SENDER
from ccx.store.names import TENANT_ID


def opts(name: str = "mix", duration_s: float = 29.6) -> RunOptions:
    return RunOptions(
        SCENARIOS[name],
        users=12,
        spawn_rate=3.0,
        duration_s=duration_s,
        host="http://127.0.0.1:8000",
        sandbox="http://127.0.0.1:8090",
        tenants=3,
        out=Path("o.json"),
    )


def test_locust_runs_headless_for_the_scenarios_user_classes() -> None:
    command = locust_command(opts())
    assert command[command.index("-f") + 1] == str(LOCUSTFILE)
    assert "--headless" in command
    pairs = dict(itertools.pairwise(command))
    assert pairs["--users"] == "12"
    assert pairs["--spawn-rate"] == "3"
    assert pairs["--run-time"] == "30s"
    assert pairs["--host"] == "http://127.0.0.1:8000"
    assert int(pairs["--stop-timeout"]) > 0
    assert command[-4:] == list(SCENARIOS["mix"].users)
    assert locust_command(opts("otp", 0.2))[-1] == "OtpUser"
    assert "1s" in locust_command(opts("otp", 0.2))


def test_settings_record_the_run_and_the_scenarios_knobs() -> None:
    settings = settings_of(opts(), ["loadtest-1", "loadtest-2", "loadtest-3"])
    assert settings["users"] == 12
    assert settings["tenants"] == 3
    assert settings["tenant_ids"] == ["loadtest-1", "loadtest-2", "loadtest-3"]
    assert settings["params"]["weights"]["OtpUser"] == 4
    assert settings["host"] == "http://127.0.0.1:8000"


def test_context_round_trip_keeps_tokens_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = RunContext("otp", (Tenant("loadtest-1", "tok1"), Tenant("loadtest-2", "tok2")))
    path = tmp_path / "context.json"
    context.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv(CONTEXT_ENV, str(path))
    assert from_environment() == context
    monkeypatch.delenv(CONTEXT_ENV)
    with pytest.raises(RuntimeError, match="python -m loadtest run"):
        from_environment()


def test_failure_reasons_are_short_and_name_the_problem() -> None:
    body = (
        '{"type": "about:blank", "title": "Unprocessable Content", "status": 422, '
        '"errors": [{"path": "/to", "message": "does not match"}]}'
    )
    assert unexpected(202, 422, body) == (
        "expected 202, got 422: Unprocessable Content (/to: does not match)"
    )
    assert unexpected(409, 202, '{"id": "msg_1"}') == 'expected 409, got 202: {"id": "msg_1"}'
    assert unexpected(202, 0, None, ConnectionRefusedError()) == (
        "expected 202, got no answer: ConnectionRefusedError"
    )
    assert problem_title("") == "empty body"
    assert len(problem_title("x" * 1000)) == 80


def test_tally_counts_per_tenant_and_final_state() -> None:
    tally = Tally()
    tally.accept("t1")
    tally.accept("t1", 99)
    tally.accept("t2")
    tally.finish("read")
    assert tally.as_dict() == {"accepted": {"t1": 100, "t2": 1}, "final_states": {"read": 1}}


def test_tenant_ids_name_the_scenario_and_are_valid() -> None:
    ids = tenant_ids("idempotent", 3)
    assert ids == ["lt-idempotent-1", "lt-idempotent-2", "lt-idempotent-3"]
    assert all(TENANT_ID.match(t) for t in ids)


def test_every_tenant_of_every_scenario_has_its_own_number() -> None:
    assert sender_number("otp", 1) == SENDER == "15550001111"
    assert [sender_number("mix", k) for k in (1, 2, 3)] == [
        "15550001511",
        "15550001512",
        "15550001513",
    ]
    numbers = [sender_number(s, k) for s in SCENARIOS for k in range(1, 50)]
    assert len(set(numbers)) == len(numbers)


def test_sends_during_the_load_are_the_ledgers_growth() -> None:
    before, after = Ledger(100, 1, 0), Ledger(350, 1, 4)
    assert sends_during(before, after) == {"sends": 250, "duplicates": 0}
    assert sends_during(None, after) is None
