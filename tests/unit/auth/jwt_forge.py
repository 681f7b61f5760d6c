"""Hand-made JWTs for the auth tests: any header, any payload, any (or no) signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def forge(header: Any, claims: Any, key: Any = None, alg: str | None = None) -> str:
    """`header.claims.signature`; `key=None` leaves the signature empty.

    With bytes and HS256 the signature is a plain HMAC (so any bytes work as the secret,
    PEM included: PyJWT itself refuses that); otherwise PyJWT's algorithm signs.
    """
    signing_input = f"{segment(header)}.{segment(claims)}"
    if key is None:
        return signing_input + "."
    alg = alg or header["alg"]
    if isinstance(key, bytes) and alg == "HS256":
        sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    else:
        sig = jwt.get_algorithm_by_name(alg).sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(sig)}"


def sign_raw(payload: bytes, header: dict[str, Any], key: Any, alg: str) -> str:
    """A correctly signed token over arbitrary payload bytes (not necessarily JSON)."""
    signing_input = f"{segment(header)}.{b64(payload)}"
    sig = jwt.get_algorithm_by_name(alg).sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(sig)}"
