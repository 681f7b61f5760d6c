from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import NOW, FakeClock
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt_forge import b64, forge, segment, sign_raw

from ccx.auth import (
    Authenticator,
    AuthError,
    ErrorCode,
    Key,
    KeyRing,
    KeyRingError,
    Scope,
    bearer_token,
    issue,
    require,
)
from ccx.config import AuthSettings


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tid": "acme",
        "scope": "messages:write messages:read",
        "iat": NOW,
        "exp": NOW + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(key: Key, header: dict[str, Any] | None = None, **overrides: Any) -> str:
    head = {"alg": key.alg, "kid": key.kid} if header is None else header
    return forge(head, claims(**overrides), key.sign_key, key.alg)


def rejects(auth: Authenticator, token: str, code: ErrorCode) -> AuthError:
    with pytest.raises(AuthError) as info:
        auth.verify(token)
    assert info.value.code is code, info.value
    assert info.value.status == 401
    assert info.value.www_authenticate.startswith('Bearer error="invalid_token"')
    return info.value


# --- the happy path ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["hs", "ed", "rs"])
def test_valid_token_of_each_algorithm(
    which: str, auth: Authenticator, request: pytest.FixtureRequest
) -> None:
    key: Key = request.getfixturevalue(which)
    principal = auth.verify(signed(key, sub="crm", jti="t-1"))
    assert principal.tenant == "acme"
    assert principal.scopes == {Scope.MESSAGES_WRITE, Scope.MESSAGES_READ}
    assert principal.kid == key.kid
    assert principal.subject == "crm"
    assert principal.token_id == "t-1"
    assert principal.expires_at == NOW + 600


def test_issue_then_verify(ring: KeyRing, clock: FakeClock) -> None:
    token = issue(ring, "acme", "messages:write admin", 300, "ops", clock=clock, token_id="j1")
    principal = Authenticator(ring, clock=clock).verify(token)
    assert principal.scopes == {Scope.MESSAGES_WRITE, Scope.ADMIN}
    assert (principal.subject, principal.token_id, principal.kid) == ("ops", "j1", "hs-1")
    assert principal.expires_at == NOW + 300


def test_issue_uses_the_active_key_of_any_algorithm(ed: Key, rs: Key, clock: FakeClock) -> None:
    for active in (ed, rs):
        ring = KeyRing([ed, rs], active_kid=active.kid)
        token = issue(ring, "t1", [Scope.EXPORTS_READ], 60, clock=clock)
        assert Authenticator(ring, clock=clock).verify(token).kid == active.kid


@pytest.mark.parametrize(
    ("tenant", "scopes", "ttl"),
    [
        ("Acme", "admin", 60),
        ("acme", "admin superuser", 60),
        ("acme", "admin", 0),
        ("acme", "admin", -5),
    ],
)
def test_issue_refuses_bad_input(ring: KeyRing, tenant: str, scopes: str, ttl: int) -> None:
    with pytest.raises(ValueError, match=r"tenant|scope|ttl"):
        issue(ring, tenant, scopes, ttl)


def test_issue_without_active_key(hs: Key) -> None:
    with pytest.raises(KeyRingError, match="no active signing key"):
        issue(KeyRing([hs]), "acme", "admin", 60)


# --- alg=none and algorithm confusion ---------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2ln"])
def test_alg_none_is_refused(auth: Authenticator, alg: str, signature: str) -> None:
    token = f"{segment({'alg': alg, 'kid': 'hs-1'})}.{segment(claims())}.{signature}"
    rejects(auth, token, ErrorCode.ALG_NOT_ALLOWED)


def test_alg_none_without_kid_on_a_single_key_ring(hs: Key, clock: FakeClock) -> None:
    auth = Authenticator(KeyRing([hs]), clock=clock)
    rejects(auth, forge({"alg": "none"}, claims()), ErrorCode.ALG_NOT_ALLOWED)


@pytest.mark.parametrize("alg", [None, 7, "", "ES256", "HS512", "RS512", "PS256", "hs256"])
def test_algorithms_off_the_list_are_refused(auth: Authenticator, alg: object) -> None:
    header = {"kid": "hs-1"} if alg is None else {"alg": alg, "kid": "hs-1"}
    rejects(auth, forge(header, claims(), b"x" * 32, "HS256"), ErrorCode.ALG_NOT_ALLOWED)


def test_hs_rs_confusion_with_the_public_pem_as_secret(auth: Authenticator, rs: Key) -> None:
    """The classic attack: HMAC over the token with the server's RSA public key as secret."""
    pem = rs.verify_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[union-attr]
    for header in ({"alg": "HS256", "kid": rs.kid}, {"alg": "HS256", "kid": rs.kid, "typ": "JWT"}):
        rejects(auth, forge(header, claims(), pem, "HS256"), ErrorCode.ALG_NOT_ALLOWED)


def test_hs_rs_confusion_without_kid_on_an_rsa_only_ring(rs: Key, clock: FakeClock) -> None:
    auth = Authenticator(KeyRing([rs]), clock=clock)
    pem = rs.verify_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[union-attr]
    for secret in (pem, pem.strip(), rs.verify_key.public_bytes(Encoding.DER, PublicFormat.PKCS1)):  # type: ignore[union-attr]
        rejects(auth, forge({"alg": "HS256"}, claims(), secret), ErrorCode.ALG_NOT_ALLOWED)


def test_hs_eddsa_confusion(auth: Authenticator, ed: Key) -> None:
    raw = ed.verify_key.public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[union-attr]
    pem = ed.verify_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[union-attr]
    for secret in (raw, pem):
        token = forge({"alg": "HS256", "kid": ed.kid}, claims(), secret)
        rejects(auth, token, ErrorCode.ALG_NOT_ALLOWED)


def test_rs_token_claiming_an_hs_kid(auth: Authenticator, rs: Key) -> None:
    token = forge({"alg": "RS256", "kid": "hs-1"}, claims(), rs.sign_key, "RS256")
    rejects(auth, token, ErrorCode.ALG_NOT_ALLOWED)


def test_allow_list_narrower_than_the_keys_is_refused_at_build(hs: Key, rs: Key) -> None:
    with pytest.raises(KeyRingError, match="allow-list"):
        KeyRing([hs, rs], algorithms={"HS256"})
    auth = Authenticator(KeyRing([hs], algorithms={"HS256"}))
    rejects(auth, signed(hs, {"alg": "RS256", "kid": "hs-1"}), ErrorCode.ALG_NOT_ALLOWED)


def test_jws_extensions_are_refused(auth: Authenticator, hs: Key) -> None:
    for extra in ({"crit": ["exp"]}, {"b64": False, "crit": ["b64"]}, {"b64": True}):
        header = {"alg": "HS256", "kid": hs.kid, **extra}
        rejects(auth, signed(hs, header), ErrorCode.MALFORMED_TOKEN)


def test_embedded_jwk_header_is_ignored(auth: Authenticator, hs: Key) -> None:
    attacker = Ed25519PrivateKey.generate()
    jwk = Key.from_private_key("evil", attacker).to_jwk()
    token = forge({"alg": "EdDSA", "kid": "evil", "jwk": jwk}, claims(), attacker, "EdDSA")
    rejects(auth, token, ErrorCode.UNKNOWN_KID)
    token = forge({"alg": "EdDSA", "kid": "ed-1", "jwk": jwk}, claims(), attacker, "EdDSA")
    rejects(auth, token, ErrorCode.INVALID_SIGNATURE)


# --- kid --------------------------------------------------------------------------------


def test_unknown_kid(auth: Authenticator, hs: Key) -> None:
    rejects(auth, signed(hs, {"alg": "HS256", "kid": "hs-2"}), ErrorCode.UNKNOWN_KID)


def test_missing_kid_with_several_keys(auth: Authenticator, hs: Key) -> None:
    rejects(auth, signed(hs, {"alg": "HS256"}), ErrorCode.MISSING_KID)


def test_missing_kid_with_one_key_uses_it(hs: Key, clock: FakeClock) -> None:
    auth = Authenticator(KeyRing([hs]), clock=clock)
    assert auth.verify(signed(hs, {"alg": "HS256"})).kid == hs.kid


def test_empty_ring_knows_no_kid(hs: Key, clock: FakeClock) -> None:
    auth = Authenticator(KeyRing(), clock=clock)
    rejects(auth, signed(hs), ErrorCode.UNKNOWN_KID)
    rejects(auth, signed(hs, {"alg": "HS256"}), ErrorCode.MISSING_KID)


@pytest.mark.parametrize("kid", [1, ["hs-1"], {"k": 1}, True])
def test_non_string_kid(auth: Authenticator, hs: Key, kid: object) -> None:
    rejects(auth, signed(hs, {"alg": "HS256", "kid": kid}), ErrorCode.MALFORMED_TOKEN)


def test_retired_key_stops_verifying_after_not_after(hs: Key, clock: FakeClock) -> None:
    retired = Key.from_secret("old", hs.verify_key, not_after=NOW + 100)
    auth = Authenticator(KeyRing([retired]), clock=clock)
    token = signed(retired, exp=NOW + 10_000)
    assert auth.verify(token).kid == "old"
    clock.advance(100 + 29)  # inside the leeway (and past the cache entry's end)
    assert auth.verify(token).kid == "old"
    clock.advance(2)
    rejects(auth, token, ErrorCode.KEY_RETIRED)


# --- time claims ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exp", "ok"),
    [(NOW + 1, True), (NOW, True), (NOW - 29, True), (NOW - 30, False), (NOW - 3600, False)],
)
def test_exp_with_leeway(auth: Authenticator, hs: Key, exp: float, ok: bool) -> None:
    token = signed(hs, exp=exp, iat=exp - 60)
    if ok:
        assert auth.verify(token).expires_at == exp
    else:
        rejects(auth, token, ErrorCode.TOKEN_EXPIRED)


@pytest.mark.parametrize(("nbf", "ok"), [(NOW - 5, True), (NOW + 30, True), (NOW + 31, False)])
def test_nbf_with_leeway(auth: Authenticator, hs: Key, nbf: float, ok: bool) -> None:
    token = signed(hs, nbf=nbf)
    if ok:
        auth.verify(token)
    else:
        rejects(auth, token, ErrorCode.TOKEN_NOT_YET_VALID)


def test_iat_in_the_future(auth: Authenticator, hs: Key) -> None:
    auth.verify(signed(hs, iat=NOW + 30))
    rejects(auth, signed(hs, iat=NOW + 31), ErrorCode.TOKEN_NOT_YET_VALID)


def test_missing_exp(auth: Authenticator, hs: Key) -> None:
    err = rejects(auth, signed(hs, exp=None), ErrorCode.INVALID_CLAIMS)
    assert "exp" in err.detail


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": str(NOW + 600)},
        {"exp": True},
        {"exp": [NOW]},
        {"nbf": "0"},
        {"iat": {"t": 1}},
        {"sub": 42},
        {"jti": ["x"]},
    ],
)
def test_claims_of_the_wrong_type(auth: Authenticator, hs: Key, overrides: dict[str, Any]) -> None:
    rejects(auth, signed(hs, **overrides), ErrorCode.INVALID_CLAIMS)


# --- tenant and scope claims ------------------------------------------------------------


@pytest.mark.parametrize(
    "tid",
    [None, "", "Acme", "-acme", "_acme", "a" * 64, "acme\n", "ac me", "a/b", "a.b", "ácme", 5],
)
def test_bad_or_missing_tid(auth: Authenticator, hs: Key, tid: object) -> None:
    token = forge({"alg": "HS256", "kid": hs.kid}, {**claims(), "tid": tid}, hs.sign_key)
    if tid is None:
        token = forge({"alg": "HS256", "kid": hs.kid}, claims(tid=None), hs.sign_key)
    rejects(auth, token, ErrorCode.INVALID_CLAIMS)


@pytest.mark.parametrize("tid", ["a", "0", "a" * 63, "acme_1-x", "9z"])
def test_good_tids(auth: Authenticator, hs: Key, tid: str) -> None:
    assert auth.verify(signed(hs, tid=tid)).tenant == tid


def test_unknown_scopes_are_ignored(auth: Authenticator, hs: Key) -> None:
    principal = auth.verify(signed(hs, scope="openid messages:read Messages:Write profile"))
    assert principal.scopes == {Scope.MESSAGES_READ}


def test_no_scope_claim_means_no_scope(auth: Authenticator, hs: Key) -> None:
    principal = auth.verify(signed(hs, scope=None))
    assert principal.scopes == frozenset()
    with pytest.raises(AuthError) as info:
        require(principal, Scope.MESSAGES_READ)
    assert info.value.status == 403


@pytest.mark.parametrize("scope", [["admin"], 1, "admin  messages:read", " admin", 'a"b'])
def test_malformed_scope_claim(auth: Authenticator, hs: Key, scope: object) -> None:
    rejects(auth, signed(hs, scope=scope), ErrorCode.INVALID_CLAIMS)


def test_missing_scope_is_403(auth: Authenticator, hs: Key) -> None:
    principal = auth.verify(signed(hs, scope="messages:read"))
    require(principal, Scope.MESSAGES_READ)
    assert principal.has(Scope.MESSAGES_READ)
    assert not principal.has(Scope.MESSAGES_WRITE)
    with pytest.raises(AuthError) as info:
        require(principal, Scope.MESSAGES_READ, Scope.MESSAGES_WRITE)
    err = info.value
    assert (err.status, err.code) == (403, ErrorCode.MISSING_SCOPE)
    assert err.www_authenticate == (
        'Bearer error="insufficient_scope", '
        'error_description="the token lacks the scope messages:write", scope="messages:write"'
    )


def test_admin_does_not_imply_other_scopes(auth: Authenticator, hs: Key) -> None:
    principal = auth.verify(signed(hs, scope="admin"))
    with pytest.raises(AuthError):
        require(principal, Scope.MESSAGES_WRITE)


# --- signatures and garbage -------------------------------------------------------------


@pytest.mark.parametrize("which", ["hs", "ed", "rs"])
def test_tampered_payload(which: str, auth: Authenticator, request: pytest.FixtureRequest) -> None:
    key: Key = request.getfixturevalue(which)
    header, _, sig = signed(key).split(".")
    forged_payload = segment(claims(tid="other", scope="admin"))
    rejects(auth, f"{header}.{forged_payload}.{sig}", ErrorCode.INVALID_SIGNATURE)


def test_tampered_header(auth: Authenticator, hs: Key) -> None:
    _, payload, sig = signed(hs).split(".")
    header = segment({"alg": "HS256", "kid": "hs-1", "typ": "JWT"})
    rejects(auth, f"{header}.{payload}.{sig}", ErrorCode.INVALID_SIGNATURE)


def test_wrong_signatures(
    auth: Authenticator, hs: Key, ed: Key, rs: Key, rsa_other: RSAPrivateKey
) -> None:
    rejects(
        auth,
        forge({"alg": "HS256", "kid": hs.kid}, claims(), b"w" * 32),
        ErrorCode.INVALID_SIGNATURE,
    )
    other_ed = Ed25519PrivateKey.generate()
    rejects(
        auth,
        forge({"alg": "EdDSA", "kid": ed.kid}, claims(), other_ed),
        ErrorCode.INVALID_SIGNATURE,
    )
    rejects(
        auth,
        forge({"alg": "RS256", "kid": rs.kid}, claims(), rsa_other),
        ErrorCode.INVALID_SIGNATURE,
    )
    header, payload, sig = signed(rs).split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    rejects(auth, f"{header}.{payload}.{flipped}", ErrorCode.INVALID_SIGNATURE)


def test_truncated_signature(auth: Authenticator, ed: Key) -> None:
    header, payload, sig = signed(ed).split(".")
    with pytest.raises(AuthError) as info:
        auth.verify(f"{header}.{payload}.{sig[:-4]}")
    assert info.value.code in {ErrorCode.INVALID_SIGNATURE, ErrorCode.MALFORMED_TOKEN}


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "...",
        "!!!.eyJ9.c2ln",
        "eyJhbGciOiJIUzI1NiJ9.eyJ9.c2ln=",
        "e.e.e",
        "eyJhbGciOiJIUzI1NiJ9 .x.y",
        "Bearer eyJ.eyJ.sig",
        b64(b"not json") + ".e30.c2ln",
        b64(b'["alg","HS256"]') + ".e30.c2ln",
        b64(b'{"alg":"HS256","kid":"hs-1"}') + ".e30",
        "tök.en.x",
        "\x00.\x00.\x00",
    ],
)
def test_garbage_is_malformed(auth: Authenticator, token: str) -> None:
    rejects(auth, token, ErrorCode.MALFORMED_TOKEN)


def test_empty_token_is_missing(auth: Authenticator) -> None:
    with pytest.raises(AuthError) as info:
        auth.verify("")
    assert info.value.code is ErrorCode.MISSING_TOKEN
    assert info.value.www_authenticate == "Bearer"


def test_non_string_token(auth: Authenticator) -> None:
    with pytest.raises(AuthError):
        auth.verify(b"a.b.c")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1,2]", b'"tid"', b'{"exp": NaN}', b"\xff\xfe", b'{"exp": 1e999}'],
)
def test_signed_payloads_that_are_not_claim_objects(
    auth: Authenticator, hs: Key, payload: bytes
) -> None:
    token = sign_raw(payload, {"alg": "HS256", "kid": hs.kid}, hs.sign_key, "HS256")
    rejects(auth, token, ErrorCode.MALFORMED_TOKEN)


def test_huge_token_is_rejected_before_parsing(auth: Authenticator, hs: Key) -> None:
    valid_but_big = signed(hs, pad="x" * 9000)
    err = rejects(auth, valid_but_big, ErrorCode.MALFORMED_TOKEN)
    assert "8192" in err.detail
    huge = "a" * 10_000_000 + ".b.c"
    start = time.perf_counter()
    rejects(auth, huge, ErrorCode.MALFORMED_TOKEN)
    assert time.perf_counter() - start < 0.05
    assert auth.misses == 0  # neither reached the cache nor the parser


def test_token_of_exactly_the_limit_is_parsed(hs: Key, clock: FakeClock) -> None:
    token = signed(hs)
    auth = Authenticator(KeyRing([hs]), clock=clock, max_token_bytes=len(token))
    auth.verify(token)
    rejects(
        Authenticator(KeyRing([hs]), max_token_bytes=len(token) - 1),
        token,
        ErrorCode.MALFORMED_TOKEN,
    )


def test_error_details_never_echo_the_token_or_secret(auth: Authenticator, hs: Key) -> None:
    for token in (signed(hs, exp=NOW - 999), forge({"alg": "none"}, claims()), "x.y.z"):
        with pytest.raises(AuthError) as info:
            auth.verify(token)
        text = f"{info.value} {info.value.detail} {info.value.www_authenticate}"
        assert token not in text
        assert "ssss" not in text


# --- the verified-token cache -----------------------------------------------------------


def test_cache_hit_returns_the_same_principal(auth: Authenticator, hs: Key) -> None:
    token = signed(hs)
    first = auth.verify(token)
    second = auth.verify(token)
    assert second is first
    assert (auth.hits, auth.misses, auth.cached) == (1, 1, 1)


def test_cached_token_fails_after_it_expires(hs: Key, clock: FakeClock) -> None:
    auth = Authenticator(KeyRing([hs]), leeway_s=30, cache_ttl_s=3600, clock=clock)
    token = signed(hs, exp=NOW + 10)
    auth.verify(token)
    clock.advance(5)
    auth.verify(token)
    assert auth.hits == 1
    clock.advance(10)  # past exp: the entry is dropped, full check passes within leeway
    auth.verify(token)
    assert (auth.hits, auth.misses) == (1, 2)
    assert auth.cached == 0  # a token past exp is not cached again
    clock.advance(30)
    rejects(auth, token, ErrorCode.TOKEN_EXPIRED)


def test_cache_entry_lives_at_most_cache_ttl(hs: Key, clock: FakeClock) -> None:
    auth = Authenticator(KeyRing([hs]), cache_ttl_s=30, clock=clock)
    token = signed(hs)
    auth.verify(token)
    clock.advance(29.9)
    auth.verify(token)
    clock.advance(0.2)
    auth.verify(token)
    assert (auth.hits, auth.misses) == (1, 2)


def test_cache_is_bounded_and_evicts_least_recently_used(hs: Key, clock: FakeClock) -> None:
    auth = Authenticator(KeyRing([hs]), cache_size=2, clock=clock)
    a, b, c = (signed(hs, jti=j) for j in "abc")
    auth.verify(a)
    auth.verify(b)
    auth.verify(a)  # a is now the most recently used
    auth.verify(c)  # evicts b
    assert auth.cached == 2
    hits = auth.hits
    auth.verify(a)
    assert auth.hits == hits + 1
    auth.verify(b)
    assert auth.hits == hits + 1


def test_cache_can_be_disabled(hs: Key, clock: FakeClock) -> None:
    auth = Authenticator(KeyRing([hs]), cache_size=0, clock=clock)
    token = signed(hs)
    auth.verify(token)
    auth.verify(token)
    assert (auth.hits, auth.misses, auth.cached) == (0, 2, 0)


def test_failures_are_not_cached(auth: Authenticator, hs: Key) -> None:
    token = signed(hs, exp=NOW - 100)
    for _ in range(3):
        rejects(auth, token, ErrorCode.TOKEN_EXPIRED)
    assert auth.cached == 0


def test_replacing_the_keyring_drops_cached_verifications(
    auth: Authenticator, hs: Key, ed: Key
) -> None:
    token = signed(hs)
    auth.verify(token)
    auth.replace_keyring(KeyRing([ed]))
    assert auth.cached == 0
    rejects(auth, token, ErrorCode.UNKNOWN_KID)


# --- the Authorization header -----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  a.b.c ", "a.b.c"), ("BEARER x", "x")],
)
def test_bearer_token(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, ErrorCode.MISSING_TOKEN),
        ("", ErrorCode.MISSING_TOKEN),
        ("   ", ErrorCode.MISSING_TOKEN),
        ("Basic dXNlcjpwYXNz", ErrorCode.MALFORMED_TOKEN),
        ("Bearer", ErrorCode.MALFORMED_TOKEN),
        ("Bearer a b", ErrorCode.MALFORMED_TOKEN),
        ("Bearera.b.c", ErrorCode.MALFORMED_TOKEN),
    ],
)
def test_bad_authorization_headers(header: str | None, code: ErrorCode) -> None:
    with pytest.raises(AuthError) as info:
        bearer_token(header)
    assert info.value.code is code
    assert info.value.status == 401


def test_authenticator_from_settings(ring: KeyRing) -> None:
    settings = AuthSettings(leeway_s=5, cache_ttl_s=1.5, cache_size=7, max_token_bytes=4096)
    auth = Authenticator.from_settings(settings, ring)
    assert (auth.leeway_s, auth.cache_ttl_s, auth.cache_size, auth.max_token_bytes) == (
        5,
        1.5,
        7,
        4096,
    )
    assert auth.keyring is ring
