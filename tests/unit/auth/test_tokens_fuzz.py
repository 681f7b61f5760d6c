"""Whatever a client sends, verification ends in a Principal or an AuthError, nothing else."""

from __future__ import annotations

import json
from typing import Any

from conftest import NOW, FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt_forge import b64, forge, sign_raw

from ccx.auth import Authenticator, AuthError, Key, KeyRing, Principal

SECRET = b"fuzz-secret-fuzz-secret-fuzz-sec"
KEY = Key.from_secret("k1", SECRET)
OTHER = Key.from_secret("k2", SECRET[::-1])
RING = KeyRing([KEY, OTHER], active_kid="k1")

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
claim_names = st.sampled_from(["tid", "exp", "nbf", "iat", "scope", "sub", "jti"]) | st.text(
    max_size=6
)
time_values = st.floats(min_value=NOW - 1e6, max_value=NOW + 1e6) | st.integers(
    min_value=int(NOW) - 10**6, max_value=int(NOW) + 10**6
)
claim_sets = st.fixed_dictionaries(
    {},
    optional={
        "tid": st.sampled_from(["acme", "t1", "", "Acme", "a" * 70]) | json_values,
        "exp": time_values | json_values,
        "nbf": time_values | json_values,
        "iat": time_values | json_values,
        "scope": st.sampled_from(["admin", "messages:read x", " ", ""]) | json_values,
        "sub": json_values,
        "jti": json_values,
    },
).flatmap(
    lambda fixed: st.dictionaries(claim_names, json_values, max_size=3).map(
        lambda extra: {**extra, **fixed}
    )
)
BASE = {"tid": "acme", "exp": NOW + 60, "iat": NOW, "scope": "admin messages:read"}
near_valid_claims = st.tuples(
    st.sets(st.sampled_from(sorted(BASE)), max_size=1),
    st.dictionaries(claim_names, time_values | json_values, max_size=2),
).map(lambda t: {**{k: v for k, v in BASE.items() if k not in t[0]}, **t[1]})
header_values = st.sampled_from(["HS256", "RS256", "EdDSA", "none", "k1", "k3", ""]) | json_values
headers = st.tuples(
    st.sets(st.sampled_from(["alg", "kid"]), max_size=1),
    st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jwk", "x5u"]) | st.text(max_size=4),
        header_values,
        max_size=2,
    ),
).map(
    lambda t: {**{k: v for k, v in {"alg": "HS256", "kid": "k1"}.items() if k not in t[0]}, **t[1]}
)
fuzz = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(token: str) -> Principal | AuthError:
    auth = Authenticator(RING, clock=FakeClock())
    try:
        return auth.verify(token)
    except AuthError as err:
        error = err
    assert error.status == 401
    assert error.www_authenticate.startswith("Bearer")
    return error


@fuzz
@given(st.text(max_size=300))
def test_random_text(token: str) -> None:
    assert isinstance(outcome(token), AuthError)


@fuzz
@given(st.binary(max_size=300))
def test_random_bytes_as_latin1(data: bytes) -> None:
    assert isinstance(outcome(data.decode("latin-1")), AuthError)


@fuzz
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=5))
def test_random_base64url_segments(parts: list[bytes]) -> None:
    assert isinstance(outcome(".".join(b64(p) for p in parts)), AuthError)


@fuzz
@given(claim_sets)
def test_random_claims_signed_with_a_valid_key(claims: dict[str, Any]) -> None:
    result = outcome(forge({"alg": "HS256", "kid": "k1"}, claims, SECRET))
    if isinstance(result, Principal):
        assert result.tenant == claims["tid"]
        assert result.expires_at == claims["exp"]
        assert claims["exp"] + 30 > NOW


@fuzz
@given(near_valid_claims)
def test_nearly_valid_claims(claims: dict[str, Any]) -> None:
    result = outcome(forge({"alg": "HS256", "kid": "k1"}, claims, SECRET))
    if isinstance(result, Principal):
        assert result.tenant == claims["tid"]
        assert claims["exp"] + 30 > NOW
        assert claims.get("nbf", NOW) <= NOW + 30


@fuzz
@given(headers, near_valid_claims)
def test_random_headers(header: dict[str, Any], claims: dict[str, Any]) -> None:
    result = outcome(forge(header, claims, SECRET, "HS256"))
    if isinstance(result, Principal):
        assert header.get("alg") == "HS256"
        assert header.get("kid") == "k1"


@fuzz
@given(st.binary(max_size=200))
def test_random_signed_payload_bytes(payload: bytes) -> None:
    assert isinstance(
        outcome(sign_raw(payload, {"alg": "HS256", "kid": "k1"}, SECRET, "HS256")), AuthError
    )


@fuzz
@given(claim_sets)
def test_valid_tokens_with_a_flipped_character_fail(claims: dict[str, Any]) -> None:
    token = forge({"alg": "HS256", "kid": "k1"}, {**claims, "tid": "acme", "exp": NOW + 60}, SECRET)
    for position in (0, len(token) // 2, len(token) - 2):
        flipped = (
            token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
        )
        assert isinstance(outcome(flipped), AuthError), json.dumps(claims)
