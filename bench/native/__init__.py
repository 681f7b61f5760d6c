"""`ccx bench native`: each hot path of ccx._native against the best pure-Python way."""

from __future__ import annotations

import importlib

from bench.harness import Case

PATHS = ("schema", "signing", "template", "ratelimit")


def all_cases(paths: tuple[str, ...] = PATHS) -> list[Case]:
    """Collect `cases()` from bench/native/<path>.py for each path."""
    cases: list[Case] = []
    for path in paths:
        module = importlib.import_module(f"bench.native.{path}")
        cases.extend(module.cases())
    return cases
