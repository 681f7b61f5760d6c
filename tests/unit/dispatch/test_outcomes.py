"""Classification of send attempts: every code of the reference table, and the HTTP cases."""

from __future__ import annotations

import orjson
import pytest

from ccx.dispatch.outcomes import (
    BREAKER_FAILURES,
    CODE_KINDS,
    Kind,
    classify_response,
    kind_of_code,
    maybe_sent,
    not_sent,
)

R, T, H, X = Kind.RETRY, Kind.THROTTLE, Kind.HOLD, Kind.TERMINAL

#: shared/reference/meta-cloud-api.md §3, column "Class", re-typed row by row.
REFERENCE = {
    0: H, 190: H, 3: H, 10: H, 200: H, 250: H, 299: H, 4: T, 80007: T, 130429: T, 131056: T,
    131048: H, 131049: X, 131064: H, 133016: T, 368: H, 131031: H, 130497: X, 1: R, 2: R,
    33: H, 100: X, 130472: X, 131000: R, 131005: H, 131008: X, 131009: X, 131016: R,
    131021: X, 131026: X, 131037: H, 131042: H, 131045: H, 131047: X, 131050: X, 131051: X,
    131052: X, 131053: X, 131057: R, 132000: X, 132001: X, 132005: X, 132007: X, 132012: X,
    132015: X, 132016: X, 132068: X, 132069: T, 133000: H, 133004: R, 133010: H, 135000: X,
    470: X,
}  # fmt: skip


def meta_error(code: int, **extra: object) -> bytes:
    error: dict[str, object] = {
        "message": f"(#{code}) Title",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": "why"},
        "fbtrace_id": "Atrace",
        **extra,
    }
    return orjson.dumps({"error": error})


@pytest.mark.parametrize(("code", "kind"), sorted(REFERENCE.items()))
def test_every_reference_code(code: int, kind: Kind) -> None:
    assert kind_of_code(code) is kind
    # Classified on the code, whatever the HTTP status (reference §2.3).
    for status in (400, 403, 429, 500, 503):
        out = classify_response(status, meta_error(code))
        assert out.kind is kind
        assert out.code == code
        assert out.definitely_not_sent


def test_table_covers_exactly_the_reference() -> None:
    table = {c for c in CODE_KINDS if not 200 < c < 299}
    assert table == {c for c in REFERENCE if not 200 < c < 299}
    assert all(CODE_KINDS[c] is H for c in range(200, 300))


def test_error_fields() -> None:
    out = classify_response(400, meta_error(131056, error_subcode=2494055), {"retry-after": "4"})
    assert (out.kind, out.http_status, out.code, out.subcode) == (T, 400, 131056, 2494055)
    assert out.title == "(#131056) Title"
    assert out.details == "why"
    assert out.retry_after_s == 4.0
    assert out.fbtrace_id == "Atrace"
    assert out.reason == "meta_error"


def test_graph_error_without_error_data() -> None:
    body = orjson.dumps(
        {"error": {"message": "(#190) expired", "type": "OAuthException", "code": 190}}
    )
    out = classify_response(401, body)
    assert (out.kind, out.details, out.fbtrace_id) == (H, "", None)


@pytest.mark.parametrize(
    ("status", "transient", "kind"),
    [(400, False, X), (404, False, X), (400, True, R), (500, False, R), (503, False, R)],
)
def test_unknown_code_default(status: int, transient: bool, kind: Kind) -> None:
    out = classify_response(status, meta_error(999999, is_transient=transient))
    assert out.kind is kind
    assert out.reason == "unknown_code"
    assert out.definitely_not_sent


def test_sent_with_wamid() -> None:
    body = orjson.dumps(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+1", "wa_id": "1"}],
            "messages": [{"id": "wamid.ABC", "message_status": "held_for_quality_assessment"}],
        }
    )
    out = classify_response(200, body)
    assert (out.kind, out.wamid, out.message_status) == (
        Kind.SENT,
        "wamid.ABC",
        "held_for_quality_assessment",
    )
    assert not out.definitely_not_sent


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"{}", b'{"messages": []}', b'{"messages": [{"id": ""}]}', b"[1]",
     b'{"messages": [{"id": 5}]}', b'{"messages": ["x"]}'],
)  # fmt: skip
def test_unreadable_2xx_is_ambiguous(body: bytes) -> None:
    out = classify_response(200, body)
    assert out.kind is Kind.AMBIGUOUS
    assert out.reason == "2xx_without_wamid"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 302])
@pytest.mark.parametrize("body", [b"", b"<html>Bad gateway</html>", b'{"error": "x"}'])
def test_5xx_without_meta_body_is_ambiguous(status: int, body: bytes) -> None:
    out = classify_response(status, body)
    assert out.kind is Kind.AMBIGUOUS
    assert not out.definitely_not_sent


def test_error_code_must_be_an_integer() -> None:
    out = classify_response(500, b'{"error": {"code": "131000"}}')
    assert out.kind is Kind.AMBIGUOUS
    out = classify_response(500, b'{"error": {"code": true}}')
    assert out.kind is Kind.AMBIGUOUS


def test_4xx_without_meta_body() -> None:
    out = classify_response(429, b"", {"retry-after": "2.5"})
    assert (out.kind, out.retry_after_s) == (T, 2.5)
    assert classify_response(404, b"<html/>").kind is R
    assert classify_response(429, b"", {"retry-after": "Wed, 21 Oct 2015"}).retry_after_s is None
    assert classify_response(429, b"", {"retry-after": "-1"}).retry_after_s is None


def test_transport_helpers() -> None:
    assert not_sent("connect_error", "refused").kind is R
    assert maybe_sent("read_timeout").kind is Kind.AMBIGUOUS
    assert {R, Kind.AMBIGUOUS} == BREAKER_FAILURES
