"""The timing harness: interleaved rounds and the guard's second look."""

from __future__ import annotations

import pytest
from bench import harness
from bench.harness import Case, Result


def test_rounds_interleave_native_and_rivals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "calibrate", lambda fn, round_s: 1)
    calls: list[str] = []
    rates = harness.best_rates(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, ops=1, budget_s=0.01
    )
    assert calls == ["a", "b"] * harness.ROUNDS
    assert set(rates) == {"a", "b"}
    assert all(r > 0 for r in rates.values())


def _case(name: str = "c") -> Case:
    return Case(path="p", name=name, native=lambda: None, rivals={"r": lambda: None}, check=bool)


def _result(ratio: float, headline: bool = True) -> Result:
    return Result("p", "c", ratio, {"r": 1.0}, "r", ratio, True, headline)


def test_a_case_under_the_floor_is_measured_again_and_keeps_its_best(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    budgets: list[float] = []
    again = iter([_result(0.9), _result(1.7)])

    def run_case(case: Case, budget_s: float) -> Result:
        budgets.append(budget_s)
        return next(again)

    monkeypatch.setattr(harness, "run_case", run_case)
    out = harness.remeasure_below([_case()], [_result(0.8)], floor=1.0, budget_s=0.2, tries=2)
    assert budgets == pytest.approx([0.6, 0.6])  # three times the budget, twice
    assert out[0].ratio == 1.7
    assert out[0].extra["remeasured"] == 2


def test_a_persistent_regression_still_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "run_case", lambda case, budget_s: _result(0.5))
    out = harness.remeasure_below([_case()], [_result(0.6)], floor=1.0, budget_s=0.2)
    assert out[0].ratio == 0.6
    assert out[0].extra["remeasured"] == 2


def test_cases_above_the_floor_or_for_information_are_not_measured_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def run_case(case: Case, budget_s: float) -> Result:
        raise AssertionError("measured again")

    monkeypatch.setattr(harness, "run_case", run_case)
    results = [_result(1.5), _result(0.5, headline=False)]
    assert harness.remeasure_below([_case(), _case()], results, 1.0, 0.2) == results
