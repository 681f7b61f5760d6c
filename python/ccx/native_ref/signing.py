"""Reference of the signing functions of `ccx._native`: stdlib hmac/hashlib/base64."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time
from collections.abc import Sequence
from typing import final

HUB_PREFIX = "sha256="
SECRET_PREFIX = "whsec_"
_HEX = frozenset(string.hexdigits)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")


def hub_signature(app_secret: bytes, body: bytes) -> str:
    return HUB_PREFIX + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def verify_hub_signature(app_secret: bytes, body: bytes, header: str | None) -> bool:
    if header is None or not header.startswith(HUB_PREFIX):
        return False
    hex_tag = header[len(HUB_PREFIX) :]
    if len(hex_tag) != 64 or not _HEX.issuperset(hex_tag):
        return False
    return hmac.compare_digest(bytes.fromhex(hex_tag), hmac_sha256(app_secret, body))


def verify_hub_signature_batch(
    app_secret: bytes, items: Sequence[tuple[bytes, str | None]]
) -> list[bool]:
    return [verify_hub_signature(app_secret, body, header) for body, header in items]


def generate_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def decode_b64(text: str) -> bytes | None:
    """Standard base64, padding optional, other characters refused; None when invalid."""
    stripped = text.rstrip("=")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return None


@final
class WebhookSigner:
    """Same contract as `ccx._native.WebhookSigner`, in pure Python."""

    def __init__(self, secrets: Sequence[str | bytes]) -> None:
        if isinstance(secrets, str | bytes):
            raise TypeError("secrets must be a sequence of str | bytes, not a single secret")
        keys: list[bytes] = []
        for i, secret in enumerate(secrets):
            if isinstance(secret, str):
                key = decode_b64(secret.removeprefix(SECRET_PREFIX))
                if key is None:
                    raise ValueError(f"webhook secret #{i} is not valid base64")
            else:
                key = secret
            if not key:
                raise ValueError(f"webhook secret #{i} is empty")
            keys.append(key)
        if not keys:
            raise ValueError("at least one webhook secret is required")
        self._keys = keys

    def _tags(self, msg_id: str, timestamp: int, body: bytes) -> list[bytes]:
        content = f"{msg_id}.{timestamp}.".encode() + body
        return [hmac_sha256(key, content) for key in self._keys]

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        tags = self._tags(msg_id, timestamp, body)
        return " ".join("v1," + base64.b64encode(tag).decode() for tag in tags)

    def verify(
        self,
        msg_id: str,
        timestamp: int,
        body: bytes,
        signature_header: str,
        *,
        now: int | None = None,
        tolerance_s: int = 300,
    ) -> bool:
        if tolerance_s < 0:
            raise ValueError("tolerance_s must be >= 0")
        now = int(time.time()) if now is None else now
        if abs(now - timestamp) > tolerance_s:
            return False
        given = []
        for entry in signature_header.split(" "):
            version, comma, sig = entry.partition(",")
            tag = decode_b64(sig) if comma and version == "v1" else None
            if tag is not None:
                given.append(tag)
        if not given:
            return False
        expected = self._tags(msg_id, timestamp, body)
        return any(hmac.compare_digest(g, e) for g in given for e in expected)

    def sign_batch(self, items: Sequence[tuple[str, int, bytes]]) -> list[str]:
        return [self.sign(msg_id, ts, body) for msg_id, ts, body in items]
