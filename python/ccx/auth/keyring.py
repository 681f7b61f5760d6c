"""Verification and signing keys selected by `kid`, each bound to exactly one algorithm.

A key's `kid` decides its algorithm: the verifier never lets a token's `alg` header choose
how a key is used. That binding, plus typed key objects (an HS256 key holds bytes, an RS256
key an RSA public key), is what defeats HS/RS confusion, where an attacker signs HS256 with
a server's public RSA key as the HMAC secret.

Sources: settings (`[auth] keys`, a JSON array), a JWKS file (RFC 7517) and the MongoDB key
store (`ccx.auth.keystore`). At most one key is the active signing key.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import (
    RSAPrivateKey,
    RSAPublicKey,
    generate_private_key,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

if TYPE_CHECKING:
    from ccx.config import AuthSettings

log = logging.getLogger("ccx.auth")

HS256: Final = "HS256"
EDDSA: Final = "EdDSA"
RS256: Final = "RS256"
#: Every algorithm ccx can verify; `none` and everything else is refused outright.
SUPPORTED_ALGORITHMS: Final = frozenset({HS256, EDDSA, RS256})
DEFAULT_ALGORITHMS: Final = SUPPORTED_ALGORITHMS
#: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_HS256_SECRET_BYTES: Final = 32
MIN_RSA_BITS: Final = 2048
#: RSA size used when ccx generates a key (`ccx keys rotate --alg RS256`).
RSA_GENERATE_BITS: Final = 2048

_KTY: Final = {HS256: "oct", EDDSA: "OKP", RS256: "RSA"}
_KID = re.compile(r"[\x21-\x7e]{1,128}")
_SPEC_FIELDS: Final = frozenset({"kid", "alg", "secret", "pem", "pem_file"})

VerifyKey = bytes | Ed25519PublicKey | RSAPublicKey
SignKey = bytes | Ed25519PrivateKey | RSAPrivateKey


class KeyRingError(ValueError):
    """A key or key set is invalid (bad material, wrong type for its alg, duplicate kid...)."""


class UnsupportedKeyError(KeyRingError):
    """A well-formed key that ccx does not use (other kty/alg, `use: enc`); JWKS skips it."""


def _public_bytes(key: Ed25519PublicKey | RSAPublicKey) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True, slots=True)
class Key:
    """One key: `kid`, its single algorithm, verification material and optional signing material.

    `not_after` (Unix seconds) is when a rotated-out key stops verifying; None while active.
    Key material is excluded from `repr`.
    """

    kid: str
    alg: str
    verify_key: VerifyKey = field(repr=False)
    sign_key: SignKey | None = field(default=None, repr=False)
    not_after: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or _KID.fullmatch(self.kid) is None:
            raise KeyRingError("kid must be 1-128 printable ASCII characters without spaces")
        if self.alg not in SUPPORTED_ALGORITHMS:
            raise UnsupportedKeyError(f"key {self.kid}: unsupported algorithm {self.alg!r}")
        if self.alg == HS256:
            self._check_hmac()
        elif self.alg == EDDSA:
            self._check_pair(Ed25519PublicKey, Ed25519PrivateKey)
        else:
            self._check_pair(RSAPublicKey, RSAPrivateKey)
            assert isinstance(self.verify_key, RSAPublicKey)
            if self.verify_key.key_size < MIN_RSA_BITS:
                raise KeyRingError(f"key {self.kid}: RSA keys need at least {MIN_RSA_BITS} bits")

    def _check_hmac(self) -> None:
        secret = self.verify_key
        if not isinstance(secret, bytes):
            raise KeyRingError(f"key {self.kid}: an HS256 key is a byte secret")
        if len(secret) < MIN_HS256_SECRET_BYTES:
            raise KeyRingError(
                f"key {self.kid}: HS256 secrets need at least {MIN_HS256_SECRET_BYTES} bytes"
            )
        if self.sign_key is not None and self.sign_key != secret:
            raise KeyRingError(f"key {self.kid}: HS256 signs with its verification secret")
        try:
            jwt.get_algorithm_by_name(HS256).prepare_key(secret)
        except jwt.InvalidKeyError:
            raise KeyRingError(
                f"key {self.kid}: an asymmetric key is not a valid HS256 secret"
            ) from None

    def _check_pair(self, public: type[Any], private: type[Any]) -> None:
        if not isinstance(self.verify_key, public):
            raise KeyRingError(f"key {self.kid}: {self.alg} needs a {public.__name__}")
        if self.sign_key is None:
            return
        if not isinstance(self.sign_key, private):
            raise KeyRingError(f"key {self.kid}: {self.alg} signs with a {private.__name__}")
        if _public_bytes(self.sign_key.public_key()) != _public_bytes(self.verify_key):
            raise KeyRingError(f"key {self.kid}: private and public key do not match")

    @property
    def can_sign(self) -> bool:
        """Whether ccx holds the secret or private key, and so can issue tokens with it."""
        return self.sign_key is not None

    @classmethod
    def from_secret(cls, kid: str, secret: bytes | str, *, not_after: float | None = None) -> Key:
        """An HS256 key (strings are UTF-8 encoded); it both signs and verifies."""
        raw = secret.encode() if isinstance(secret, str) else secret
        return cls(kid, HS256, raw, raw, not_after)

    @classmethod
    def from_private_key(
        cls,
        kid: str,
        private: Ed25519PrivateKey | RSAPrivateKey,
        *,
        not_after: float | None = None,
    ) -> Key:
        """An EdDSA or RS256 key that signs (the algorithm follows from the key type)."""
        alg = EDDSA if isinstance(private, Ed25519PrivateKey) else RS256
        return cls(kid, alg, private.public_key(), private, not_after)

    @classmethod
    def from_pem(
        cls, kid: str, alg: str, pem: bytes | str, *, not_after: float | None = None
    ) -> Key:
        """An EdDSA or RS256 key from a PEM public key (verify only) or PKCS#8 private key."""
        data = pem.encode() if isinstance(pem, str) else pem
        if alg not in (EDDSA, RS256):
            raise KeyRingError(f"key {kid}: PEM keys are for EdDSA or RS256, not {alg!r}")
        try:
            loaded = (
                load_pem_private_key(data, password=None)
                if b"PRIVATE KEY" in data
                else load_pem_public_key(data)
            )
        except (ValueError, TypeError):
            raise KeyRingError(f"key {kid}: PEM data is not a readable key") from None
        if isinstance(loaded, Ed25519PrivateKey | RSAPrivateKey):
            return cls(kid, alg, loaded.public_key(), loaded, not_after)
        if isinstance(loaded, Ed25519PublicKey | RSAPublicKey):
            return cls(kid, alg, loaded, None, not_after)
        raise KeyRingError(f"key {kid}: PEM holds a key type ccx does not use")

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, not_after: float | None = None) -> Key:
        """A key from an RFC 7517 JWK (`oct`, `RSA`, `OKP`/Ed25519; public or private).

        A missing `alg` is inferred from `kty` (oct→HS256, RSA→RS256, OKP→EdDSA): with the
        supported set that mapping is one-to-one, so the kid→alg binding still holds.
        """
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            raise KeyRingError("JWK has no string kid")
        kty, alg, use = jwk.get("kty"), jwk.get("alg"), jwk.get("use")
        if use is not None and use != "sig":
            raise UnsupportedKeyError(f"key {kid}: use {use!r} is not a signature key")
        if alg is None:
            alg = next((a for a, t in _KTY.items() if t == kty), None)
        if alg not in SUPPORTED_ALGORITHMS or kty not in _KTY.values():
            raise UnsupportedKeyError(f"key {kid}: kty {kty!r} / alg {alg!r} is not supported")
        if _KTY[alg] != kty:
            raise KeyRingError(f"key {kid}: alg {alg} does not fit kty {kty!r}")
        if alg == EDDSA and jwk.get("crv") != "Ed25519":
            raise UnsupportedKeyError(f"key {kid}: only the Ed25519 curve is supported")
        try:
            material = jwt.PyJWK(dict(jwk), algorithm=alg).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            # PyJWT's messages can quote the JWK, private members included: never pass them on.
            raise KeyRingError(f"key {kid}: invalid {kty} JWK") from None
        if isinstance(material, bytes):
            return cls(kid, alg, material, material, not_after)
        if isinstance(material, Ed25519PrivateKey | RSAPrivateKey):
            return cls(kid, alg, material.public_key(), material, not_after)
        return cls(kid, alg, material, None, not_after)

    @classmethod
    def generate(cls, alg: str = HS256, kid: str | None = None) -> Key:
        """A fresh signing key; the default kid sorts by creation time (`k20250101T120000Z-…`)."""
        kid = kid or datetime.now(UTC).strftime("k%Y%m%dT%H%M%SZ-") + secrets.token_hex(4)
        if alg == HS256:
            return cls.from_secret(kid, secrets.token_bytes(MIN_HS256_SECRET_BYTES))
        if alg == EDDSA:
            return cls.from_private_key(kid, Ed25519PrivateKey.generate())
        if alg == RS256:
            return cls.from_private_key(
                kid, generate_private_key(public_exponent=65537, key_size=RSA_GENERATE_BITS)
            )
        raise UnsupportedKeyError(f"cannot generate a key for algorithm {alg!r}")

    def to_jwk(self, *, private: bool = False) -> dict[str, Any]:
        """The key as a JWK; `private=True` includes the secret or private members."""
        if private:
            if self.sign_key is None:
                raise KeyRingError(f"key {self.kid}: no private material to export")
            material: Any = self.sign_key
        elif self.alg == HS256:
            raise KeyRingError(f"key {self.kid}: an HS256 key has no public form")
        else:
            material = self.verify_key
        jwk = dict(jwt.get_algorithm_by_name(self.alg).to_jwk(material, as_dict=True))
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk


class KeyRing:
    """The keys a process accepts, by `kid`, with the algorithm allow-list and the signing key.

    `algorithms` must be a subset of HS256, EdDSA, RS256; `none` is refused in any spelling.
    Every key's algorithm must be on the list, kids are unique, and `active_kid` (if given)
    names a key that can sign. Immutable: build a new ring to change it.
    """

    __slots__ = ("_active", "_keys", "algorithms")

    def __init__(
        self,
        keys: Iterable[Key] = (),
        *,
        active_kid: str | None = None,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
    ) -> None:
        algs = frozenset(algorithms)
        if any(a.strip().lower() == "none" for a in algs):
            raise KeyRingError("algorithm 'none' is never allowed")
        if not algs or not algs <= SUPPORTED_ALGORITHMS:
            raise KeyRingError(
                f"algorithms must be a non-empty subset of {sorted(SUPPORTED_ALGORITHMS)}"
            )
        self.algorithms: frozenset[str] = algs
        self._keys: dict[str, Key] = {}
        for key in keys:
            if key.kid in self._keys:
                raise KeyRingError(f"duplicate kid {key.kid!r}")
            if key.alg not in algs:
                raise KeyRingError(f"key {key.kid}: {key.alg} is not on the allow-list")
            self._keys[key.kid] = key
        self._active: Key | None = None
        if active_kid:
            active = self._keys.get(active_kid)
            if active is None or not active.can_sign:
                raise KeyRingError(f"active kid {active_kid!r} is not a known signing key")
            self._active = active

    def get(self, kid: str) -> Key | None:
        """The key with this kid, or None."""
        return self._keys.get(kid)

    def only_key(self) -> Key | None:
        """The key when the ring holds exactly one (a token without `kid` may then use it)."""
        if len(self._keys) != 1:
            return None
        return next(iter(self._keys.values()))

    @property
    def active(self) -> Key | None:
        """The key that signs new tokens, if any."""
        return self._active

    def signing_key(self) -> Key:
        """The active signing key; KeyRingError if there is none."""
        if self._active is None:
            raise KeyRingError(
                "no active signing key (run `ccx keys rotate` or set auth.active_kid)"
            )
        return self._active

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys.values())

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __repr__(self) -> str:
        active = self._active.kid if self._active else None
        return f"KeyRing(kids={sorted(self._keys)}, active={active!r})"

    def public_jwks(self) -> dict[str, Any]:
        """A JWKS with the public half of every EdDSA and RS256 key (HS256 keys are secret)."""
        return {"keys": [k.to_jwk() for k in self if k.alg != HS256]}

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> KeyRing:
        """The ring configured in `[auth]`: `keys` JSON, `jwks_file`, `algorithms`, `active_kid`."""
        algorithms = parse_algorithms(auth.algorithms)
        keys = parse_key_specs(auth.keys)
        if auth.jwks_file:
            try:
                document = Path(auth.jwks_file).read_bytes()
            except OSError as exc:
                raise KeyRingError(f"cannot read JWKS file {auth.jwks_file}: {exc}") from exc
            keys += parse_jwks(document, algorithms=algorithms)
        return cls(keys, active_kid=auth.active_kid or None, algorithms=algorithms)


def parse_algorithms(text: str) -> frozenset[str]:
    """The allow-list from a comma-separated string (`"HS256,EdDSA"`)."""
    algs = frozenset(a.strip() for a in text.split(",") if a.strip())
    if any(a.lower() == "none" for a in algs):
        raise KeyRingError("algorithm 'none' is never allowed")
    unknown = algs - SUPPORTED_ALGORITHMS
    if unknown or not algs:
        raise KeyRingError(
            f"algorithms must be a non-empty subset of {sorted(SUPPORTED_ALGORITHMS)}"
            + (f"; unknown: {sorted(unknown)}" if unknown else "")
        )
    return algs


def _loads(document: str | bytes | Mapping[str, Any] | list[Any], what: str) -> Any:
    if isinstance(document, Mapping | list):
        return document
    try:
        return orjson.loads(document)
    except orjson.JSONDecodeError as exc:
        raise KeyRingError(f"{what} is not valid JSON: {exc}") from None


def parse_jwks(
    document: str | bytes | Mapping[str, Any],
    *,
    algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
) -> list[Key]:
    """The usable keys of a JWKS document `{"keys": [...]}`.

    Keys ccx cannot use (other kty or curve, `use: enc`, an algorithm outside the
    allow-list) are skipped with a warning, since identity providers publish mixed sets;
    a usable key with broken material, or one without `kid`, is an error.
    """
    allowed = frozenset(algorithms)
    data = _loads(document, "JWKS")
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise KeyRingError('a JWKS is an object with a "keys" array')
    keys: list[Key] = []
    for index, jwk in enumerate(data["keys"]):
        if not isinstance(jwk, Mapping):
            raise KeyRingError(f"JWKS key #{index} is not an object")
        try:
            key = Key.from_jwk(jwk)
        except UnsupportedKeyError as exc:
            log.warning("JWKS key skipped: %s", exc)
            continue
        if key.alg not in allowed:
            log.warning("JWKS key skipped: key %s uses %s, not on the allow-list", key.kid, key.alg)
            continue
        keys.append(key)
    return keys


def key_from_spec(spec: Mapping[str, Any]) -> Key:
    """One configured key: a JWK (has `kty`) or `{kid, alg, secret | pem | pem_file}`."""
    if "kty" in spec:
        return Key.from_jwk(spec)
    unknown = set(spec) - _SPEC_FIELDS
    kid, alg = spec.get("kid"), spec.get("alg")
    if unknown:
        raise KeyRingError(f"key {kid}: unknown field(s) {sorted(unknown)}")
    if not isinstance(kid, str) or not isinstance(alg, str):
        raise KeyRingError("a configured key needs string `kid` and `alg`")
    sources = [f for f in ("secret", "pem", "pem_file") if f in spec]
    if len(sources) != 1 or not isinstance(spec[sources[0]], str):
        raise KeyRingError(f"key {kid}: give exactly one of secret, pem, pem_file (a string)")
    value: str = spec[sources[0]]
    if sources[0] == "secret":
        if alg != HS256:
            raise KeyRingError(f"key {kid}: `secret` is for HS256 keys; use pem for {alg}")
        return Key.from_secret(kid, value)
    if sources[0] == "pem_file":
        try:
            return Key.from_pem(kid, alg, Path(value).read_bytes())
        except OSError as exc:
            raise KeyRingError(f"key {kid}: cannot read {value}: {exc}") from exc
    return Key.from_pem(kid, alg, value)


def parse_key_specs(text: str) -> list[Key]:
    """The keys of the `[auth] keys` setting: a JSON array of key specs (empty: none)."""
    if not text.strip():
        return []
    data = _loads(text, "auth.keys")
    if not isinstance(data, list) or not all(isinstance(s, Mapping) for s in data):
        raise KeyRingError("auth.keys must be a JSON array of objects")
    return [key_from_spec(spec) for spec in data]
