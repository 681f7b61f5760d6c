"""The scenario registry, and that the locustfile defines the user classes it names."""

from __future__ import annotations

import subprocess
import sys

import pytest
from loadtest.runner import LOCUSTFILE, ROOT
from loadtest.scenarios import MIX_WEIGHTS, SCENARIOS, params, scenario


def test_the_scenarios_of_the_issue() -> None:
    assert set(SCENARIOS) == {"otp", "marketing", "polling", "idempotent", "mix"}
    for name, s in SCENARIOS.items():
        assert s.name == name
        assert s.summary
        assert "\n" not in s.summary
        assert s.users
        assert s.default_users >= 1
        assert s.default_tenants >= 1


def test_mix_runs_every_other_scenario_on_several_tenants() -> None:
    mix = SCENARIOS["mix"]
    singles = {u for s in SCENARIOS.values() if s.name != "mix" for u in s.users}
    assert set(mix.users) == singles == set(MIX_WEIGHTS)
    assert mix.default_tenants > 1
    assert mix.default_users >= len(mix.users)  # each class gets at least one user


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    assert scenario("otp") is SCENARIOS["otp"]
    with pytest.raises(ValueError, match="known: otp, marketing"):
        scenario("sms")
    assert params("marketing")["campaign"] == [100, 1000]


def test_the_locustfile_defines_exactly_the_registered_user_classes() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    classes = {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}
    classes = {c.split("[")[0] for c in classes}  # locust may glue its log line on
    assert classes == {u for s in SCENARIOS.values() for u in s.users}
