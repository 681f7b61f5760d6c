"""Reading dispatch envelopes: v1 and v2 bodies, the claim's starting state, poison bodies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccx.dispatch.envelopes import QUEUED_SEQ, PoisonEnvelope, Work, parse
from ccx.ids import MESSAGE_PREFIX, encode, new_message_id
from ccx.queue.names import Tier
from ccx.queue.publisher import Dispatch, envelope
from ccx.store.messages import Status

TRACE = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def v2(messages: Any, **top: Any) -> bytes:
    body = {"v": 2, "kind": "dispatch", "tenant": "acme", "priority": "low", "messages": messages}
    return orjson.dumps({**body, **top})


def v1(**fields: Any) -> bytes:
    body = {
        "v": 1,
        "kind": "dispatch",
        "message_id": new_message_id(),
        "tenant": "acme",
        "priority": "critical",
        "attempt": 0,
    }
    return orjson.dumps({**body, **fields})


# -- v2 ----------------------------------------------------------------------------------------


def test_parse_v2_from_the_publisher() -> None:
    a, b = new_message_id(), new_message_id()
    body = envelope([Dispatch(a, "acme", "high", TRACE), Dispatch(b, "acme", "high", None, 3, 9)])
    assert parse(body) == [
        Work(a, "acme", Tier.HIGH, 0, QUEUED_SEQ, TRACE),
        Work(b, "acme", Tier.HIGH, 3, 9, None),
    ]


def test_parse_v2_priority_is_a_tier() -> None:
    (work,) = parse(envelope([Dispatch(new_message_id(), "acme", "critical")]))
    assert work.priority is Tier.CRITICAL


def test_parse_v2_without_seq_is_freshly_queued() -> None:
    (work,) = parse(v2([{"id": new_message_id(), "attempt": 0}]))
    assert work.seq == QUEUED_SEQ == 2
    assert work.traceparent is None


def test_parse_v2_without_attempt_is_attempt_zero() -> None:
    (work,) = parse(v2([{"id": new_message_id()}]))
    assert work.attempt == 0


def test_parse_ignores_a_traceparent_that_is_not_a_string() -> None:
    (work,) = parse(v2([{"id": new_message_id(), "traceparent": 12}]))
    assert work.traceparent is None


def test_parse_keeps_the_order_of_the_messages() -> None:
    ids = [new_message_id() for _ in range(5)]
    body = envelope([Dispatch(i, "acme", "default") for i in reversed(ids)])
    assert [w.message_id for w in parse(body)] == list(reversed(ids))


# -- v1 ----------------------------------------------------------------------------------------


def test_parse_v1_is_one_freshly_queued_message() -> None:
    message_id = new_message_id()
    assert parse(v1(message_id=message_id, attempt=2)) == [
        Work(message_id, "acme", Tier.CRITICAL, 2, QUEUED_SEQ, None)
    ]


def test_parse_v1_without_attempt_is_attempt_zero() -> None:
    body = orjson.loads(v1())
    del body["attempt"]
    (work,) = parse(orjson.dumps(body))
    assert work.attempt == 0


def test_parse_v1_with_a_bad_message_id_is_poison() -> None:
    with pytest.raises(PoisonEnvelope, match="message id"):
        parse(v1(message_id="msg_x"))


# -- Work --------------------------------------------------------------------------------------


def test_work_at_seq_2_is_claimed_from_queued() -> None:
    assert Work(new_message_id(), "acme", Tier.LOW, 0, 2, None).from_status is Status.QUEUED


@pytest.mark.parametrize("seq", [3, 4, 10])
def test_work_at_a_later_seq_is_claimed_from_retrying(seq: int) -> None:
    assert Work(new_message_id(), "acme", Tier.LOW, 1, seq, None).from_status is Status.RETRYING


def test_again_is_the_same_message_at_a_new_attempt_and_seq() -> None:
    work = Work(new_message_id(), "acme", Tier.HIGH, 1, 4, TRACE)
    again = work.again(2, 6)
    assert again == Dispatch(work.message_id, "acme", Tier.HIGH, TRACE, 2, 6)
    (back,) = parse(envelope([again]))
    assert back == Work(work.message_id, "acme", Tier.HIGH, 2, 6, TRACE)
    assert back.from_status is Status.RETRYING


# -- poison ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"not json", b"{", b"\xff\xfe"])
def test_non_json_is_poison(body: bytes) -> None:
    with pytest.raises(PoisonEnvelope, match="not JSON"):
        parse(body)


@pytest.mark.parametrize(
    "body", [b"[]", b'"dispatch"', b"null", b"{}", v2([], kind="status"), v2([], kind=None)]
)
def test_a_body_that_is_not_a_dispatch_envelope_is_poison(body: bytes) -> None:
    with pytest.raises(PoisonEnvelope, match="not a dispatch envelope"):
        parse(body)


@pytest.mark.parametrize("tenant", [None, "", 5, ["acme"]])
def test_missing_tenant_is_poison(tenant: Any) -> None:
    with pytest.raises(PoisonEnvelope, match="tenant"):
        parse(v2([{"id": new_message_id()}], tenant=tenant))


def test_absent_tenant_is_poison() -> None:
    body = orjson.loads(v2([{"id": new_message_id()}]))
    del body["tenant"]
    with pytest.raises(PoisonEnvelope, match="tenant"):
        parse(orjson.dumps(body))


@pytest.mark.parametrize("priority", [None, "", "urgent", "CRITICAL", 1])
def test_unknown_priority_is_poison(priority: Any) -> None:
    with pytest.raises(PoisonEnvelope, match="unknown priority"):
        parse(v2([{"id": new_message_id()}], priority=priority))


@pytest.mark.parametrize("version", [None, 0, 3, "2", "1"])
def test_unknown_version_is_poison(version: Any) -> None:
    with pytest.raises(PoisonEnvelope, match="unsupported envelope version"):
        parse(v2([{"id": new_message_id()}], v=version))


@pytest.mark.parametrize("messages", [None, {}, "msg", 1])
def test_v2_messages_that_are_not_a_list_are_poison(messages: Any) -> None:
    with pytest.raises(PoisonEnvelope, match="unsupported envelope version"):
        parse(v2(messages))


def test_v2_without_messages_is_poison() -> None:
    with pytest.raises(PoisonEnvelope, match="no messages"):
        parse(v2([]))


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"id": None},
        {"id": 12},
        {"id": ""},
        {"id": "msg_"},
        {"id": "msg_x"},
        {"id": "01J9Z8Q4X3V7K2M5N6P8R0S1T2"},
        {"id": "msg_01J9Z8Q4X3V7K2M5N6P8R0S1T"},
        {"id": "msg_81J9Z8Q4X3V7K2M5N6P8R0S1T2"},
        {"id": "msg_01J9Z8Q4X3V7K2M5N6P8R0S1TU"},
        "msg_01J9Z8Q4X3V7K2M5N6P8R0S1T2",
        None,
    ],
)
def test_malformed_message_ids_are_poison(item: Any) -> None:
    with pytest.raises(PoisonEnvelope, match="message id"):
        parse(v2([{"id": new_message_id()}, item]))


def test_one_bad_message_poisons_the_whole_envelope() -> None:
    with pytest.raises(PoisonEnvelope):
        parse(v2([{"id": new_message_id()}, {"id": new_message_id(), "attempt": -1}]))


@pytest.mark.parametrize("attempt", [-1, -100])
def test_negative_attempt_is_poison(attempt: int) -> None:
    with pytest.raises(PoisonEnvelope, match="attempt"):
        parse(v2([{"id": new_message_id(), "attempt": attempt}]))


@pytest.mark.parametrize("attempt", [1.0, 1.5, "1", None, True, False, [1]])
def test_non_int_attempt_is_poison(attempt: Any) -> None:
    with pytest.raises(PoisonEnvelope, match="attempt"):
        parse(v2([{"id": new_message_id(), "attempt": attempt}]))


def test_non_int_attempt_in_v1_is_poison() -> None:
    with pytest.raises(PoisonEnvelope, match="attempt"):
        parse(v1(attempt="0"))


@pytest.mark.parametrize("seq", [1, 0, -5])
def test_seq_below_2_is_poison(seq: int) -> None:
    with pytest.raises(PoisonEnvelope, match="seq"):
        parse(v2([{"id": new_message_id(), "seq": seq}]))


@pytest.mark.parametrize("seq", [None, 3.0, "3", True])
def test_non_int_seq_is_poison(seq: Any) -> None:
    with pytest.raises(PoisonEnvelope, match="seq"):
        parse(v2([{"id": new_message_id(), "seq": seq}]))


def test_poison_is_a_value_error() -> None:
    assert issubclass(PoisonEnvelope, ValueError)


# -- round trip --------------------------------------------------------------------------------

message_ids = st.integers(min_value=0, max_value=(1 << 128) - 1).map(
    lambda n: MESSAGE_PREFIX + encode(n)
)
traceparents = st.none() | st.text(max_size=60)


@st.composite
def dispatch_batches(draw: st.DrawFn) -> list[Dispatch]:
    tenant = draw(st.text(min_size=1, max_size=30))
    priority = draw(st.sampled_from([str(t) for t in Tier]))
    items = st.builds(
        Dispatch,
        message_id=message_ids,
        tenant=st.just(tenant),
        priority=st.just(priority),
        traceparent=traceparents,
        attempt=st.integers(min_value=0, max_value=1000),
        seq=st.none() | st.integers(min_value=QUEUED_SEQ, max_value=1 << 40),
    )
    return draw(st.lists(items, min_size=1, max_size=20))


@given(dispatch_batches())
def test_any_dispatch_batch_round_trips_through_the_envelope(items: list[Dispatch]) -> None:
    works = parse(envelope(items))
    assert works == [
        Work(
            d.message_id,
            d.tenant,
            Tier(d.priority),
            d.attempt,
            QUEUED_SEQ if d.seq is None else d.seq,
            d.traceparent,
        )
        for d in items
    ]
    for work, item in zip(works, items, strict=True):
        assert work.again(item.attempt, work.seq) == Dispatch(
            item.message_id,
            item.tenant,
            Tier(item.priority),
            item.traceparent,
            item.attempt,
            QUEUED_SEQ if item.seq is None else item.seq,
        )
