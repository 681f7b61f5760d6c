from __future__ import annotations

import random

import pytest

from ccx.sandbox.faults import (
    Action,
    CallbackFaults,
    FaultConfig,
    FaultInjector,
    FaultSpec,
    Latency,
)


def injector(spec: FaultSpec, seed: int = 1, **numbers: FaultSpec) -> FaultInjector:
    return FaultInjector(FaultConfig(default=spec, numbers=numbers), seed)


def test_no_faults_by_default() -> None:
    inj = injector(FaultSpec())
    assert all(inj.for_request("1").action is Action.NONE for _ in range(100))
    assert all(inj.for_request("1").latency_s == 0 for _ in range(100))


@pytest.mark.parametrize(
    ("spec", "action"),
    [
        (FaultSpec(timeout=1.0), Action.TIMEOUT),
        (FaultSpec(reset=1.0), Action.RESET),
        (FaultSpec(empty_5xx=1.0), Action.EMPTY_5XX),
        (FaultSpec(accept_no_answer=1.0), Action.ACCEPT_NO_ANSWER),
        (FaultSpec(error_rates={131000: 1.0}), Action.ERROR),
    ],
)
def test_certain_faults(spec: FaultSpec, action: Action) -> None:
    inj = injector(spec)
    assert {inj.for_request("1").action for _ in range(50)} == {action}


def test_error_rates_by_code_are_respected() -> None:
    inj = injector(FaultSpec(error_rates={131000: 0.2, 130429: 0.1}), seed=3)
    draws = [inj.for_request("1") for _ in range(10_000)]
    share = {c: sum(d.error_code == c for d in draws) / len(draws) for c in (131000, 130429)}
    assert share[131000] == pytest.approx(0.2, abs=0.02)
    assert share[130429] == pytest.approx(0.1, abs=0.02)


def test_same_seed_same_draws() -> None:
    spec = FaultSpec(
        latency=Latency("uniform", 1, 50),
        error_rates={131000: 0.3},
        reset=0.1,
        callbacks=CallbackFaults(duplicate=0.5, reorder=0.5, fail=0.3),
    )
    a, b, c = injector(spec, 9), injector(spec, 9), injector(spec, 10)
    run_a = [(a.for_request("1"), a.for_callbacks("1")) for _ in range(200)]
    run_b = [(b.for_request("1"), b.for_callbacks("1")) for _ in range(200)]
    run_c = [(c.for_request("1"), c.for_callbacks("1")) for _ in range(200)]
    assert run_a == run_b
    assert run_a != run_c
    a.reseed(9)
    assert [(a.for_request("1"), a.for_callbacks("1")) for _ in range(200)] == run_a


def test_per_number_spec_replaces_default() -> None:
    inj = injector(FaultSpec(), seed=1, **{"222": FaultSpec(reset=1.0)})
    assert inj.for_request("111").action is Action.NONE
    assert inj.for_request("222").action is Action.RESET


@pytest.mark.parametrize(
    ("spec", "low", "high"),
    [
        ("fixed:100", 0.1, 0.1),
        ("uniform:10:50", 0.01, 0.05),
        ("exp:20", 0.0, 1.0),
        ("normal:50:5", 0.0, 0.2),
    ],
)
def test_latency_distributions(spec: str, low: float, high: float) -> None:
    latency = Latency.parse(spec)
    rng = random.Random(1)
    samples = [latency.sample(rng.random(), rng.random()) for _ in range(2000)]
    assert all(low <= s <= high for s in samples)
    mean = sum(samples) / len(samples)
    expected = {"fixed:100": 0.1, "uniform:10:50": 0.03, "exp:20": 0.02, "normal:50:5": 0.05}
    assert mean == pytest.approx(expected[spec], rel=0.1)


def test_latency_json_round_trip() -> None:
    for spec in ("none", "fixed:100", "uniform:10:50", "normal:50:5", "exponential:20"):
        latency = Latency.parse(spec)
        assert Latency.from_json(latency.to_json()) == latency


@pytest.mark.parametrize("spec", ["fixed", "uniform:5", "gamma:1:2", "uniform:9:1", "fixed:-1"])
def test_bad_latency_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="latency"):
        Latency.parse(spec)


def test_config_json_round_trip() -> None:
    config = FaultConfig.from_json(
        {
            "default": {
                "latency": {"distribution": "uniform", "min_ms": 5, "max_ms": 20},
                "error_rates": {"131000": 0.1},
                "reset": 0.05,
                "callbacks": {"fail": 0.5, "fail_codes": {"131047": 1, "131049": 1}},
            },
            "numbers": {"222": {"timeout": 1.0}},
            "hang_s": 2,
        }
    )
    assert config.default.error_rates == {131000: 0.1}
    assert config.for_number("222").timeout == 1.0
    assert FaultConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    "data",
    [
        {"default": {"reset": 1.5}},
        {"default": {"reset": 0.6, "timeout": 0.6}},
        {"default": {"error_rates": {"999999": 0.1}}},
        {"default": {"callbacks": {"fail_codes": {"131056": 1}}}},
        {"default": {"empty_5xx_status": 404}},
        {"default": {"unknown": 1}},
        {"everything": {}},
    ],
)
def test_bad_configs(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"probabilit|code|status|unknown|expected"):
        FaultConfig.from_json(data)


def test_callback_fail_codes_follow_weights() -> None:
    spec = FaultSpec(callbacks=CallbackFaults(fail=1.0, fail_codes={131026: 1, 131049: 3}))
    inj = injector(spec, seed=5)
    codes = [inj.for_callbacks("1").fail_code for _ in range(4000)]
    assert set(codes) == {131026, 131049}
    assert codes.count(131049) / len(codes) == pytest.approx(0.75, abs=0.03)
