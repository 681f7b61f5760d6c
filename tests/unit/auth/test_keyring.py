from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, FakeClock
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1
from cryptography.hazmat.primitives.asymmetric.ec import generate_private_key as ec_key
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from jwt_forge import b64, forge

from ccx.auth import Authenticator, Key, KeyRing, KeyRingError, issue
from ccx.auth.keyring import UnsupportedKeyError, parse_algorithms, parse_jwks, parse_key_specs
from ccx.config import AuthSettings

SECRET = b"0123456789abcdef0123456789abcdef"


def uint(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def rsa_jwk(private: RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    numbers = private.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "n": uint(numbers.n), "e": uint(numbers.e), **extra}


def ed_jwk(private: Ed25519PrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(raw), **extra}


def claims() -> dict[str, Any]:
    return {"tid": "acme", "scope": "admin", "exp": NOW + 60}


# --- JWKS -------------------------------------------------------------------------------


def test_jwks_with_rsa_eddsa_and_oct_keys(rsa_private: RSAPrivateKey, clock: FakeClock) -> None:
    ed_private = Ed25519PrivateKey.generate()
    document = {
        "keys": [
            rsa_jwk(rsa_private, "rsa", alg="RS256", use="sig"),
            ed_jwk(ed_private, "ed", alg="EdDSA"),
            {"kty": "oct", "kid": "oct", "k": b64(SECRET)},  # alg inferred: HS256
        ]
    }
    keys = parse_jwks(json.dumps(document))
    assert [(k.kid, k.alg, k.can_sign) for k in keys] == [
        ("rsa", "RS256", False),
        ("ed", "EdDSA", False),
        ("oct", "HS256", True),
    ]
    auth = Authenticator(KeyRing(keys), clock=clock)
    assert auth.verify(forge({"alg": "RS256", "kid": "rsa"}, claims(), rsa_private)).kid == "rsa"
    assert auth.verify(forge({"alg": "EdDSA", "kid": "ed"}, claims(), ed_private)).kid == "ed"
    assert auth.verify(forge({"alg": "HS256", "kid": "oct"}, claims(), SECRET)).kid == "oct"


def test_jwks_skips_keys_ccx_does_not_use(
    rsa_private: RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    ec_public = ec_key(SECP256R1()).public_key().public_numbers()
    ed448 = Ed448PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    document = {
        "keys": [
            {
                "kty": "EC",
                "kid": "ec",
                "crv": "P-256",
                "x": uint(ec_public.x),
                "y": uint(ec_public.y),
            },
            {"kty": "OKP", "kid": "ed448", "crv": "Ed448", "x": b64(ed448)},
            rsa_jwk(rsa_private, "enc", use="enc"),
            rsa_jwk(rsa_private, "rs512", alg="RS512"),
            rsa_jwk(rsa_private, "ok"),
        ]
    }
    with caplog.at_level(logging.WARNING, logger="ccx.auth"):
        keys = parse_jwks(document)
    assert [k.kid for k in keys] == ["ok"]
    assert len(caplog.records) == 4


def test_jwks_skips_keys_outside_the_allow_list(rsa_private: RSAPrivateKey) -> None:
    document = {"keys": [rsa_jwk(rsa_private, "r"), {"kty": "oct", "kid": "h", "k": b64(SECRET)}]}
    keys = parse_jwks(document, algorithms={"HS256"})
    assert [k.kid for k in keys] == ["h"]


@pytest.mark.parametrize(
    ("document", "match"),
    [
        ("{", "not valid JSON"),
        ("[]", "keys"),
        ({"keys": {}}, "keys"),
        ({"keys": [1]}, "not an object"),
        ({"keys": [{"kty": "oct", "k": b64(SECRET)}]}, "kid"),
        ({"keys": [{"kty": "oct", "kid": "short", "k": b64(b"short")}]}, "32 bytes"),
        ({"keys": [{"kty": "oct", "kid": "nok"}]}, "invalid oct JWK"),
        ({"keys": [{"kty": "RSA", "kid": "bad", "n": "AQAB", "e": "AQAB"}]}, "bits|invalid"),
        ({"keys": [{"kty": "RSA", "kid": "hs", "alg": "HS256", "n": "x", "e": "y"}]}, "fit kty"),
    ],
)
def test_bad_jwks(document: Any, match: str) -> None:
    with pytest.raises(KeyRingError, match=match):
        parse_jwks(document)


def test_jwk_errors_never_quote_private_material() -> None:
    secret_d = "c2VjcmV0LXByaXZhdGUtZXhwb25lbnQ"
    broken = {"kty": "RSA", "kid": "r", "n": "!!", "e": "AQAB", "d": secret_d}
    with pytest.raises(KeyRingError) as info:
        Key.from_jwk(broken)
    assert secret_d not in str(info.value)
    assert info.value.__cause__ is None


@pytest.mark.parametrize("alg", ["HS256", "EdDSA", "RS256"])
def test_private_jwk_round_trip(alg: str, clock: FakeClock) -> None:
    key = Key.generate(alg, kid=f"k-{alg}")
    again = Key.from_jwk(key.to_jwk(private=True))
    assert (again.kid, again.alg, again.can_sign) == (key.kid, alg, True)
    ring = KeyRing([again], active_kid=again.kid)
    token = issue(ring, "acme", "admin", 60, clock=clock)
    assert Authenticator(KeyRing([key]), clock=clock).verify(token).kid == key.kid


def test_public_jwks_has_no_private_members(ring: KeyRing) -> None:
    jwks = ring.public_jwks()
    assert {k["kid"] for k in jwks["keys"]} == {"ed-1", "rs-1"}
    for jwk in jwks["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk)
    assert [k.kid for k in parse_jwks(jwks)] == ["ed-1", "rs-1"]


def test_hs256_key_has_no_public_form(hs: Key) -> None:
    with pytest.raises(KeyRingError):
        hs.to_jwk()
    with pytest.raises(KeyRingError):
        Key.from_jwk(Key.generate("EdDSA").to_jwk()).to_jwk(private=True)


# --- keys -------------------------------------------------------------------------------


def test_key_validation(rsa_private: RSAPrivateKey) -> None:
    pem = rsa_private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(KeyRingError, match="32 bytes"):
        Key.from_secret("k", "short")
    with pytest.raises(KeyRingError, match="asymmetric"):
        Key.from_secret("k", pem)
    with pytest.raises(KeyRingError, match="2048"):
        Key.from_private_key("k", generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(KeyRingError, match="Ed25519PublicKey"):
        Key("k", "EdDSA", rsa_private.public_key())
    with pytest.raises(KeyRingError, match="byte secret"):
        Key("k", "HS256", rsa_private.public_key())
    with pytest.raises(KeyRingError, match="do not match"):
        Key("k", "EdDSA", Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate())
    with pytest.raises(KeyRingError, match="signs with"):
        Key("k", "RS256", rsa_private.public_key(), SECRET)
    with pytest.raises(KeyRingError, match="verification secret"):
        Key("k", "HS256", SECRET, SECRET[::-1])
    with pytest.raises(UnsupportedKeyError):
        Key("k", "none", SECRET)
    for kid in ("", "a b", "k" * 129, "é"):
        with pytest.raises(KeyRingError, match="kid"):
            Key.from_secret(kid, SECRET)


def test_key_repr_hides_material(hs: Key, rs: Key) -> None:
    assert "0123" not in repr(Key.from_secret("k", SECRET))
    assert repr(hs) == "Key(kid='hs-1', alg='HS256', not_after=None)"
    assert "RSA" not in repr(rs)


def test_pem_keys(rsa_private: RSAPrivateKey) -> None:
    ed_private = Ed25519PrivateKey.generate()
    ed_pem = ed_private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    rsa_pub = rsa_private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    assert Key.from_pem("e", "EdDSA", ed_pem).can_sign
    assert not Key.from_pem("r", "RS256", rsa_pub.decode()).can_sign
    with pytest.raises(KeyRingError, match="Ed25519PublicKey"):
        Key.from_pem("r", "EdDSA", rsa_pub)
    with pytest.raises(KeyRingError, match="not a readable key"):
        Key.from_pem("r", "RS256", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----")
    with pytest.raises(KeyRingError, match="EdDSA or RS256"):
        Key.from_pem("h", "HS256", rsa_pub)
    ec_pem = ec_key(SECP256R1()).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(KeyRingError, match="type ccx does not use"):
        Key.from_pem("e", "EdDSA", ec_pem)


def test_generate_unknown_alg() -> None:
    with pytest.raises(UnsupportedKeyError):
        Key.generate("ES256")


def test_generated_kids_are_unique_and_sortable() -> None:
    kids = [Key.generate("HS256").kid for _ in range(20)]
    assert len(set(kids)) == 20
    assert all(k.startswith("k") and "T" in k for k in kids)


# --- rings ------------------------------------------------------------------------------


def test_ring_rules(hs: Key, ed: Key, rs: Key) -> None:
    with pytest.raises(KeyRingError, match="duplicate"):
        KeyRing([hs, Key.from_secret("hs-1", SECRET)])
    public_only = Key("pub", "RS256", rs.verify_key)
    with pytest.raises(KeyRingError, match="signing key"):
        KeyRing([public_only], active_kid="pub")
    with pytest.raises(KeyRingError, match="signing key"):
        KeyRing([hs], active_kid="nope")
    with pytest.raises(KeyRingError, match="none"):
        KeyRing([hs], algorithms={"HS256", "none"})
    with pytest.raises(KeyRingError, match="subset"):
        KeyRing([hs], algorithms={"HS256", "ES256"})
    with pytest.raises(KeyRingError, match="subset"):
        KeyRing(algorithms=set())
    ring = KeyRing([hs, ed, rs], active_kid=ed.kid)
    assert (len(ring), "rs-1" in ring, "x" in ring, ring.active) == (3, True, False, ed)
    assert ring.signing_key() is ed
    assert ring.only_key() is None
    assert KeyRing([hs]).only_key() is hs
    assert KeyRing([hs]).active is None
    assert "ssss" not in repr(ring)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("HS256", {"HS256"}), (" EdDSA , RS256 ,", {"EdDSA", "RS256"})],
)
def test_parse_algorithms(text: str, expected: set[str]) -> None:
    assert parse_algorithms(text) == expected


@pytest.mark.parametrize("text", ["", "none", "HS256,None", "HS384", "hs256"])
def test_parse_bad_algorithms(text: str) -> None:
    with pytest.raises(KeyRingError):
        parse_algorithms(text)


# --- settings ---------------------------------------------------------------------------


def test_keyring_from_settings(tmp_path: Path, rsa_private: RSAPrivateKey) -> None:
    ed_private = Ed25519PrivateKey.generate()
    ed_file = tmp_path / "ed.pem"
    ed_file.write_bytes(ed_private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    rsa_pem = rsa_private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [ed_jwk(Ed25519PrivateKey.generate(), "idp-1")]}))
    specs = [
        {"kid": "hs", "alg": "HS256", "secret": SECRET.decode()},
        {"kid": "rs", "alg": "RS256", "pem": rsa_pem.decode()},
        {"kid": "ed", "alg": "EdDSA", "pem_file": str(ed_file)},
        {"kty": "oct", "kid": "jwk", "alg": "HS256", "k": b64(SECRET[::-1])},
    ]
    auth = AuthSettings(keys=json.dumps(specs), jwks_file=str(jwks_file), active_kid="ed")
    ring = KeyRing.from_settings(auth)
    assert sorted(k.kid for k in ring) == ["ed", "hs", "idp-1", "jwk", "rs"]
    assert ring.signing_key().kid == "ed"


def test_empty_settings_give_an_empty_ring() -> None:
    ring = KeyRing.from_settings(AuthSettings())
    assert len(ring) == 0
    assert ring.algorithms == {"HS256", "EdDSA", "RS256"}


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ('{"kid": "a"}', "array of objects"),
        ("[1]", "array of objects"),
        ("[{", "not valid JSON"),
        ('[{"kid": "a", "alg": "HS256", "secret": "x", "extra": 1}]', "unknown field"),
        ('[{"kid": "a", "alg": "HS256"}]', "exactly one"),
        ('[{"kid": "a", "alg": "HS256", "secret": "x", "pem": "y"}]', "exactly one"),
        ('[{"kid": "a", "alg": "HS256", "secret": 5}]', "exactly one"),
        ('[{"alg": "HS256", "secret": "x"}]', "kid"),
        ('[{"kid": "a", "alg": "RS256", "secret": "0123456789abcdef0123456789abcdef"}]', "pem"),
        ('[{"kid": "a", "alg": "RS256", "pem_file": "/nonexistent/k.pem"}]', "cannot read"),
    ],
)
def test_bad_key_specs(keys: str, match: str) -> None:
    with pytest.raises(KeyRingError, match=match):
        parse_key_specs(keys)


def test_settings_errors(tmp_path: Path) -> None:
    hs = json.dumps([{"kid": "hs", "alg": "HS256", "secret": SECRET.decode()}])
    with pytest.raises(KeyRingError, match="allow-list"):
        KeyRing.from_settings(AuthSettings(keys=hs, algorithms="EdDSA"))
    with pytest.raises(KeyRingError, match="none"):
        KeyRing.from_settings(AuthSettings(algorithms="HS256,none"))
    with pytest.raises(KeyRingError, match="cannot read JWKS"):
        KeyRing.from_settings(AuthSettings(jwks_file=str(tmp_path / "missing.json")))
    with pytest.raises(KeyRingError, match="active kid"):
        KeyRing.from_settings(AuthSettings(keys=hs, active_kid="other"))
