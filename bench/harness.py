"""Tiny timing harness: every figure is a ratio against a baseline measured in the same run."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    """One hot path measured against its pure-Python rivals.

    `native` and each rival are zero-argument callables doing the same work; one call
    performs `ops` operations (e.g. a batch of 256 signatures is ops=256). `check`
    returns True when the native result agrees with the reference on the bench inputs.
    """

    path: str
    name: str
    native: Callable[[], Any]
    rivals: dict[str, Callable[[], Any]]
    check: Callable[[], bool]
    ops: int = 1
    headline: bool = True  # counts towards the path's pass/fail verdict


@dataclass
class Result:
    path: str
    name: str
    native_ops_s: float
    rivals_ops_s: dict[str, float]
    best_rival: str
    ratio: float
    correct: bool
    headline: bool
    extra: dict[str, Any] = field(default_factory=dict)


def ops_per_second(fn: Callable[[], Any], ops: int, budget_s: float) -> float:
    """Best-of-rounds throughput of `fn`, calibrated so each round takes ~budget_s/5."""
    fn()  # warm up
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= 0.02 or loops >= 1 << 24:
            break
        loops *= 4
    per_round = max(1, int(loops * (budget_s / 5) / max(elapsed, 1e-9)))
    best = float("inf")
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(per_round):
                fn()
            best = min(best, (time.perf_counter() - start) / per_round)
    finally:
        if gc_was_enabled:
            gc.enable()
    return ops / best


def run_case(case: Case, budget_s: float = 1.0) -> Result:
    """Measure a case; the ratio is native throughput over the best rival's."""
    correct = bool(case.check())
    native = ops_per_second(case.native, case.ops, budget_s)
    rivals = {name: ops_per_second(fn, case.ops, budget_s) for name, fn in case.rivals.items()}
    best = max(rivals, key=lambda n: rivals[n])
    return Result(
        path=case.path,
        name=case.name,
        native_ops_s=native,
        rivals_ops_s=rivals,
        best_rival=best,
        ratio=native / rivals[best],
        correct=correct,
        headline=case.headline,
    )


def run_all(
    cases: Sequence[Case],
    budget_s: float = 1.0,
    progress: Callable[[Case], None] | None = None,
) -> list[Result]:
    results = []
    for case in cases:
        if progress:
            progress(case)
        results.append(run_case(case, budget_s))
    return results
