"""Shared limits: bucket arithmetic and the encoding of one batched Lua call."""

from __future__ import annotations

import pytest

from ccx.dispatch.limits import PREFIX, Bucket, encode


def test_interval_and_tolerance_follow_rate_and_burst() -> None:
    bucket = Bucket("n:1", rate=80.0, burst=80.0)
    assert bucket.interval_ms == pytest.approx(12.5)
    assert bucket.tolerance_ms == pytest.approx(12.5 * 79)


def test_a_burst_below_one_means_no_burst() -> None:
    assert Bucket("p:x", rate=1 / 6, burst=0.5).tolerance_ms == 0.0


def test_encode_names_each_key_once_and_points_every_bucket_at_it() -> None:
    number = Bucket("n:1", 10.0, 10.0)
    keys, argv = encode([[number, Bucket("p:a", 0.5, 2.0)], [number]])
    assert keys == [PREFIX + "n:1", PREFIX + "p:a"]
    assert argv == [
        "2",
        "2",
        "1",
        repr(100.0),
        repr(900.0),
        "2",
        repr(2000.0),
        repr(2000.0),
        "1",
        "1",
        repr(100.0),
        repr(900.0),
    ]


def test_encode_of_no_requests() -> None:
    assert encode([]) == ([], ["0"])
