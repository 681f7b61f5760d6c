"""The pacing of the worker's periodic sweeps (`next_wait`)."""

from __future__ import annotations

import pytest

from ccx.dispatch.periodic import SWEEP_DUTY, next_wait


def test_a_quick_sweep_keeps_its_interval() -> None:
    assert next_wait(15.0, 0.2) == 15.0


def test_a_slow_sweep_waits_long_enough_to_stay_within_its_duty() -> None:
    took = 3.0  # a scan of a large tenant on FerretDB
    wait = next_wait(15.0, took)
    assert wait == pytest.approx(57.0)
    assert took / (took + wait) == pytest.approx(SWEEP_DUTY)


def test_the_duty_can_be_chosen() -> None:
    assert next_wait(1.0, 1.0, duty=0.5) == pytest.approx(1.0)
    assert next_wait(1.0, 2.0, duty=0.25) == pytest.approx(6.0)
