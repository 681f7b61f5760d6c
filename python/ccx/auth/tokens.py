"""Bearer JWT verification (with a short verified-token cache) and issuance.

PyJWT checks the JWS signature; everything that decides *which* key and *which* algorithm is
used, and every claim check, happens here explicitly, against an injectable clock.
Header parameters that point at keys (`jwk`, `jku`, `x5u`, `x5c`) are ignored: keys come
only from the key ring. `typ` is not checked (issuers differ); `aud`/`iss` are not part of
the ccx contract yet and are ignored.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import jwt
import orjson

from ccx.auth.errors import AuthError, ErrorCode
from ccx.auth.keyring import Key, KeyRing
from ccx.auth.scopes import Scope, format_scopes, parse_scope_claim, parse_scopes

if TYPE_CHECKING:
    from ccx.config import AuthSettings

Clock = Callable[[], float]

#: Tenant ids become database and queue names (`ccx_t_<tenant>`, `ccx.t.<tenant>.high`).
TENANT_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MAX_TOKEN_BYTES: Final = 8192
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([\x21-\x7e]+) *")


def is_valid_tenant(tenant: object) -> bool:
    """Whether `tenant` is a usable tenant id (`^[a-z0-9][a-z0-9_-]{0,62}$`)."""
    return isinstance(tenant, str) and TENANT_RE.fullmatch(tenant) is not None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for. `expires_at` is the `exp` claim (Unix seconds)."""

    tenant: str
    scopes: frozenset[Scope]
    kid: str
    subject: str | None
    expires_at: float
    token_id: str | None

    def has(self, scope: Scope) -> bool:
        """Whether the token carries `scope`."""
        return scope in self.scopes


def require(principal: Principal, *scopes: Scope) -> None:
    """Raise a 403 `missing_scope` AuthError unless `principal` has every one of `scopes`."""
    missing = [s for s in scopes if s not in principal.scopes]
    if missing:
        needed = format_scopes(missing)
        raise AuthError(
            ErrorCode.MISSING_SCOPE,
            f"the token lacks the scope {needed}",
            status=403,
            scope=needed,
        )


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value (RFC 6750 §2.1)."""
    if not authorization or not authorization.strip():
        raise AuthError(ErrorCode.MISSING_TOKEN, "an Authorization: Bearer token is required")
    match = _BEARER.fullmatch(authorization.strip())
    if match is None:
        raise AuthError(
            ErrorCode.MALFORMED_TOKEN, "the Authorization header is not `Bearer <token>`"
        )
    return match.group(1)


def _fail(code: ErrorCode, detail: str) -> AuthError:
    return AuthError(code, detail)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        data = orjson.loads(raw)
    except (ValueError, TypeError):
        raise _fail(ErrorCode.MALFORMED_TOKEN, "a token segment is not base64url JSON") from None
    if not isinstance(data, dict):
        raise _fail(ErrorCode.MALFORMED_TOKEN, "a token segment is not a JSON object")
    return data


class Authenticator:
    """Verifies bearer tokens against a `KeyRing` and caches verified ones briefly.

    A cache entry (keyed by the token's SHA-256, so the cache holds no usable credentials)
    lives until the earliest of now + `cache_ttl_s`, the token's `exp` and its key's
    retirement, so a cached token fails as soon as an uncached one would (except that
    leeway is applied only on a full verification). Failures are never cached. Not
    thread-safe: use one per event loop.
    """

    def __init__(
        self,
        keyring: KeyRing,
        leeway_s: float = 30,
        cache_ttl_s: float = 30,
        cache_size: int = 10_000,
        *,
        clock: Clock = time.time,
        max_token_bytes: int = MAX_TOKEN_BYTES,
    ) -> None:
        self._keyring = keyring
        self.leeway_s = leeway_s
        self.cache_ttl_s = cache_ttl_s
        self.cache_size = cache_size
        self.max_token_bytes = max_token_bytes
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._jws = jwt.PyJWS(algorithms=sorted(keyring.algorithms))
        self.hits = 0
        self.misses = 0

    @classmethod
    def from_settings(cls, auth: AuthSettings, keyring: KeyRing) -> Authenticator:
        """An authenticator with the leeway, cache and size limits of `[auth]`."""
        return cls(
            keyring,
            leeway_s=auth.leeway_s,
            cache_ttl_s=auth.cache_ttl_s,
            cache_size=auth.cache_size,
            max_token_bytes=auth.max_token_bytes,
        )

    @property
    def keyring(self) -> KeyRing:
        """The keys in use."""
        return self._keyring

    @property
    def cached(self) -> int:
        """How many verified tokens the cache holds."""
        return len(self._cache)

    def replace_keyring(self, keyring: KeyRing) -> None:
        """Swap in a reloaded key ring (after a rotation) and drop every cached verification."""
        self._keyring = keyring
        self._jws = jwt.PyJWS(algorithms=sorted(keyring.algorithms))
        self._cache.clear()

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; AuthError (401) for anything else."""
        if not isinstance(token, str):
            raise _fail(ErrorCode.MALFORMED_TOKEN, "the token is not a string")
        if not token:
            raise _fail(ErrorCode.MISSING_TOKEN, "an Authorization: Bearer token is required")
        if len(token) > self.max_token_bytes:
            raise _fail(
                ErrorCode.MALFORMED_TOKEN, f"the token is longer than {self.max_token_bytes} bytes"
            )
        if not token.isascii():
            raise _fail(ErrorCode.MALFORMED_TOKEN, "the token is not ASCII")
        now = self._clock()
        digest = hashlib.sha256(token.encode()).digest()
        entry = self._cache.get(digest)
        if entry is not None:
            if now < entry[1]:
                self._cache.move_to_end(digest)
                self.hits += 1
                return entry[0]
            del self._cache[digest]
        self.misses += 1
        principal, key = self._verify_uncached(token, now)
        until = min(now + self.cache_ttl_s, principal.expires_at)
        if key.not_after is not None:
            until = min(until, key.not_after)
        if until > now and self.cache_size > 0:
            self._cache[digest] = (principal, until)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return principal

    def _select_key(self, header: dict[str, Any], now: float) -> Key:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._keyring.algorithms:
            raise _fail(ErrorCode.ALG_NOT_ALLOWED, "the token's algorithm is not allowed")
        if "crit" in header or "b64" in header:
            raise _fail(ErrorCode.MALFORMED_TOKEN, "the token uses unsupported JWS extensions")
        kid = header.get("kid")
        if kid is None:
            only = self._keyring.only_key()
            if only is None:
                raise _fail(ErrorCode.MISSING_KID, "the token has no kid header")
            key = only
        elif not isinstance(kid, str):
            raise _fail(ErrorCode.MALFORMED_TOKEN, "the token's kid is not a string")
        else:
            found = self._keyring.get(kid)
            if found is None:
                raise _fail(ErrorCode.UNKNOWN_KID, "the token's kid names no known key")
            key = found
        if key.alg != alg:
            raise _fail(ErrorCode.ALG_NOT_ALLOWED, "the token's algorithm does not match its key")
        if key.not_after is not None and now >= key.not_after + self.leeway_s:
            raise _fail(ErrorCode.KEY_RETIRED, "the token's signing key has been retired")
        return key

    def _verify_uncached(self, token: str, now: float) -> tuple[Principal, Key]:
        parts = token.split(".")
        if len(parts) != 3:
            raise _fail(ErrorCode.MALFORMED_TOKEN, "a JWT has three dot-separated parts")
        if any(part and _SEGMENT.fullmatch(part) is None for part in parts):
            raise _fail(ErrorCode.MALFORMED_TOKEN, "a token segment is not base64url")
        key = self._select_key(_json_segment(parts[0]), now)
        if not parts[1] or not parts[2]:
            raise _fail(ErrorCode.MALFORMED_TOKEN, "the token has an empty payload or signature")
        try:
            decoded = self._jws.decode_complete(
                token,
                key.verify_key,
                algorithms=[key.alg],
                options={"verify_signature": True, "enforce_minimum_key_length": True},
            )
        except jwt.InvalidSignatureError:
            raise _fail(ErrorCode.INVALID_SIGNATURE, "the token's signature is invalid") from None
        except jwt.InvalidAlgorithmError:
            raise _fail(ErrorCode.ALG_NOT_ALLOWED, "the token's algorithm is not allowed") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise _fail(ErrorCode.MALFORMED_TOKEN, "the token cannot be decoded") from None
        try:
            claims = orjson.loads(decoded["payload"])
        except orjson.JSONDecodeError:
            raise _fail(ErrorCode.MALFORMED_TOKEN, "the token's payload is not JSON") from None
        if not isinstance(claims, dict):
            raise _fail(ErrorCode.MALFORMED_TOKEN, "the token's payload is not a JSON object")
        return self._principal(claims, key, now), key

    def _principal(self, claims: dict[str, Any], key: Key, now: float) -> Principal:
        leeway = self.leeway_s
        exp = claims.get("exp")
        if exp is None:
            raise _fail(ErrorCode.INVALID_CLAIMS, "the token has no exp claim")
        for name in ("exp", "nbf", "iat"):
            if name in claims and not _is_number(claims[name]):
                raise _fail(ErrorCode.INVALID_CLAIMS, f"the {name} claim is not a number")
        if now >= exp + leeway:
            raise _fail(ErrorCode.TOKEN_EXPIRED, "the token has expired")
        nbf = claims.get("nbf")
        if nbf is not None and now + leeway < nbf:
            raise _fail(ErrorCode.TOKEN_NOT_YET_VALID, "the token is not valid yet (nbf)")
        iat = claims.get("iat")
        if iat is not None and iat > now + leeway:
            raise _fail(ErrorCode.TOKEN_NOT_YET_VALID, "the token was issued in the future (iat)")
        tenant = claims.get("tid")
        if not is_valid_tenant(tenant):
            raise _fail(ErrorCode.INVALID_CLAIMS, "the tid claim is missing or not a tenant id")
        assert isinstance(tenant, str)
        try:
            scopes = parse_scope_claim(claims.get("scope"))
        except ValueError:
            raise _fail(ErrorCode.INVALID_CLAIMS, "the scope claim is malformed") from None
        subject, token_id = claims.get("sub"), claims.get("jti")
        if not isinstance(subject, str | None) or not isinstance(token_id, str | None):
            raise _fail(ErrorCode.INVALID_CLAIMS, "the sub and jti claims must be strings")
        return Principal(tenant, scopes, key.kid, subject, float(exp), token_id)


def issue(
    keyring: KeyRing,
    tenant: str,
    scopes: str | Iterable[str],
    ttl_s: int,
    subject: str | None = None,
    *,
    clock: Clock = time.time,
    token_id: str | None = None,
) -> str:
    """A token for `tenant` signed by the ring's active key (its kid in the header).

    Claims: `tid`, `scope` (space-separated), `iat`, `exp` = iat + `ttl_s`, `jti` (random
    unless given) and `sub` when given. ValueError for a bad tenant, an unknown scope or a
    non-positive ttl; KeyRingError when the ring has no active signing key.
    """
    if not is_valid_tenant(tenant):
        raise ValueError(f"tenant {tenant!r} does not match {TENANT_RE.pattern}")
    scope_set = parse_scopes(scopes)
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s <= 0:
        raise ValueError("ttl_s must be a positive number of seconds")
    key = keyring.signing_key()
    assert key.sign_key is not None
    now = int(clock())
    claims: dict[str, Any] = {
        "tid": tenant,
        "scope": format_scopes(scope_set),
        "iat": now,
        "exp": now + ttl_s,
        "jti": token_id or secrets.token_urlsafe(16),
    }
    if subject is not None:
        claims["sub"] = subject
    return jwt.encode(claims, key.sign_key, algorithm=key.alg, headers={"kid": key.kid})
