import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccx.ids import UlidGenerator, decode, encode, is_message_id, new_message_id, timestamp_ms


def test_message_ids_are_prefixed_sortable_and_unique() -> None:
    ids = [new_message_id() for _ in range(10_000)]
    assert all(i.startswith("msg_") and len(i) == 30 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_monotonic_within_one_millisecond() -> None:
    gen = UlidGenerator()
    ids = [gen.new(now_ms=1_700_000_000_000) for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


def test_clock_going_backwards_never_reorders() -> None:
    gen = UlidGenerator()
    a = gen.new(now_ms=2_000)
    b = gen.new(now_ms=1_000)
    assert b > a


def test_timestamp_roundtrip() -> None:
    before = time.time_ns() // 1_000_000
    mid = new_message_id()
    assert before <= timestamp_ms(mid) <= time.time_ns() // 1_000_000


@given(st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_encode_decode_roundtrip(value: int) -> None:
    assert decode(encode(value)) == value


def _one_char_at_a_time(value: int) -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))


@given(st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_encode_agrees_with_the_plain_definition(value: int) -> None:
    assert encode(value) == _one_char_at_a_time(value)


def test_encode_bounds() -> None:
    assert encode(0) == "0" * 26
    assert encode((1 << 128) - 1) == "7" + "Z" * 25


@pytest.mark.parametrize(
    "text",
    [
        "",
        "msg_",
        "msg_123",
        "foo_01J9Z8Q4X3V7K2M5N6P8R0S1T2",
        "msg_81J9Z8Q4X3V7K2M5N6P8R0S1T2",
        "msg_01J9Z8Q4X3V7K2M5N6P8R0S1TU",
    ],
)
def test_malformed_ids_are_rejected(text: str) -> None:
    assert not is_message_id(text)


def test_wellformed_id_is_accepted() -> None:
    assert is_message_id(new_message_id())
