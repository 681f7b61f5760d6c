"""Request fingerprints: canonical (key order never matters), idempotency_key left out."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ccx.ingest.idempotency import fingerprint

BODY: dict[str, Any] = {
    "to": "+5511999998888",
    "type": "template",
    "template": {"name": "otp", "language": "pt_BR", "variables": {"body": ["1"], "header": []}},
    "metadata": {"b": 1, "a": {"y": 2, "x": 1}},
}


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    return value


def test_key_order_does_not_matter_at_any_level() -> None:
    assert fingerprint(BODY) == fingerprint(_reversed(BODY))


def test_idempotency_key_is_excluded() -> None:
    assert fingerprint(BODY) == fingerprint({**BODY, "idempotency_key": "order-42"})
    assert fingerprint({**BODY, "idempotency_key": "a"}) == fingerprint(
        {"idempotency_key": "b", **BODY}
    )


def test_any_content_change_changes_it() -> None:
    assert fingerprint(BODY) != fingerprint({**BODY, "to": "+5511999998889"})
    assert fingerprint(BODY) != fingerprint({**BODY, "metadata": {"b": 1}})
    assert fingerprint({"a": [1, 2]}) != fingerprint({"a": [2, 1]})  # list order matters
    assert fingerprint({"a": 1}) != fingerprint({"a": "1"})


def test_it_is_sha256_hex() -> None:
    value = fingerprint(BODY)
    assert len(value) == 64
    int(value, 16)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_canonical_for_any_json_object(body: dict[str, Any]) -> None:
    assert fingerprint(body) == fingerprint(_reversed(body))
