"""AES-256-GCM envelopes under named data keys (ARCHITECTURE §6: key id beside the ciphertext).

A token is `v1.<kid>.<nonce>.<ciphertext+tag>` (base64url without padding). The version and
kid are part of the associated data, so neither can be swapped without failing the tag check.
Only the active key encrypts; every known key decrypts. Rotation: add a new key, make it
active, keep the old one until nothing encrypted under it is left.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from ccx.config import SecuritySettings

log = logging.getLogger(__name__)

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
#: Key ids appear inside tokens, which use `.` as the separator.
KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DataKeyError(ValueError):
    """The data key configuration or key file is invalid."""


class DecryptError(DataKeyError):
    """A token cannot be decrypted: malformed, unknown key id, altered, or other associated data."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64 (standard or url-safe alphabet, padding optional)."""
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _associated(kid: str, aad: bytes) -> bytes:
    return f"{VERSION}.{kid}.".encode() + aad


class DataKeys:
    """Data keys by id and the id of the one that encrypts. Immutable; never shows key bytes."""

    __slots__ = ("_active", "_ciphers")

    def __init__(self, keys: Mapping[str, bytes], active_kid: str | None = None) -> None:
        if not keys:
            raise DataKeyError("no data keys configured")
        for kid, key in keys.items():
            if not KID.match(kid):
                raise DataKeyError(f"data key id {kid!r} must match {KID.pattern}")
            if len(key) != KEY_BYTES:
                raise DataKeyError(f"data key {kid}: needs {KEY_BYTES} bytes, got {len(key)}")
        active = active_kid or list(keys)[-1]
        if active not in keys:
            raise DataKeyError(f"active data key {active!r} is not among {sorted(keys)}")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active

    @property
    def active_kid(self) -> str:
        return self._active

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def __repr__(self) -> str:
        return f"DataKeys(kids={list(self._ciphers)}, active={self._active!r})"

    @classmethod
    def generate(cls, kid: str = "k1") -> DataKeys:
        """One new random key (tests and local development)."""
        return cls({kid: os.urandom(KEY_BYTES)})

    @classmethod
    def from_settings(cls, security: SecuritySettings) -> DataKeys:
        """`security.data_keys`, or when empty the key file (created on first use)."""
        if security.data_keys.strip():
            keys = parse_data_keys(security.data_keys)
            return cls(keys, security.active_data_key or None)
        keys, active = load_key_file(Path(security.data_key_file))
        return cls(keys, security.active_data_key or active)

    def encrypt(self, plaintext: bytes, aad: bytes) -> str:
        """Seal `plaintext` under the active key, bound to `aad` (which is not stored)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(
            nonce, plaintext, _associated(self._active, aad)
        )
        return f"{VERSION}.{self._active}.{_b64(nonce)}.{_b64(sealed)}"

    def decrypt(self, token: str, aad: bytes) -> bytes:
        """Open a token made by `encrypt` under any known key; DecryptError says why not."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION or not KID.match(parts[1]):
            raise DecryptError(f"not a {VERSION} data-key token")
        kid = parts[1]
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptError(f"unknown data key id {kid!r}; is it missing from data_keys?")
        try:
            nonce, sealed = _unb64(parts[2]), _unb64(parts[3])
        except (ValueError, binascii.Error):
            raise DecryptError("malformed token: bad base64") from None
        if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
            raise DecryptError("malformed token: wrong nonce or ciphertext length")
        try:
            return cipher.decrypt(nonce, sealed, _associated(kid, aad))
        except InvalidTag:
            raise DecryptError(
                "authentication failed: the token was altered or belongs to other data"
            ) from None


def parse_data_keys(text: str) -> dict[str, bytes]:
    """`kid:base64key,kid:base64key` → {kid: key}. Errors never quote key material."""
    keys: dict[str, bytes] = {}
    for n, item in enumerate(filter(None, (i.strip() for i in text.split(","))), start=1):
        kid, sep, encoded = item.partition(":")
        if not sep or not kid.strip():
            raise DataKeyError(f"data key #{n}: expected `kid:base64key`")
        _add_key(keys, kid.strip(), encoded)
    if not keys:
        raise DataKeyError("no data keys in the setting")
    return keys


def _add_key(keys: dict[str, bytes], kid: str, encoded: str) -> None:
    if not KID.match(kid):
        raise DataKeyError(f"data key id {kid!r} must match {KID.pattern}")
    if kid in keys:
        raise DataKeyError(f"duplicate data key id {kid!r}")
    try:
        key = _unb64(encoded)
    except (ValueError, binascii.Error):
        raise DataKeyError(f"data key {kid}: not valid base64") from None
    if len(key) != KEY_BYTES:
        raise DataKeyError(f"data key {kid}: needs {KEY_BYTES} bytes, got {len(key)}")
    keys[kid] = key


def load_key_file(path: Path) -> tuple[dict[str, bytes], str | None]:
    """Keys and active kid of a key file `{"keys": {kid: base64}, "active": kid}`; a missing
    file is created with one random key (mode 0600) and a warning."""
    if not path.exists():
        _create_key_file(path)
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DataKeyError(f"cannot read data key file {path}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
        raise DataKeyError(f"data key file {path}: expected {{'keys': {{kid: base64}}}}")
    active = doc.get("active")
    if active is not None and not isinstance(active, str):
        raise DataKeyError(f"data key file {path}: `active` must be a string")
    keys: dict[str, bytes] = {}
    for kid, encoded in doc["keys"].items():
        if not isinstance(encoded, str):
            raise DataKeyError(f"data key file {path}: key {kid!r} must be a base64 string")
        _add_key(keys, kid, encoded)
    return keys, active


def _create_key_file(path: Path) -> None:
    kid = f"local-{secrets.token_hex(3)}"
    body = orjson.dumps({"active": kid, "keys": {kid: _b64(os.urandom(KEY_BYTES))}})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        # link() fails if the name exists: of several processes starting at once, one wins
        # and the others read its key instead of each writing their own.
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
    finally:
        tmp.unlink(missing_ok=True)
    log.warning(
        "created data key file %s with a new random key; it is for local development only, "
        "production must set CCX_SECURITY_DATA_KEYS",
        path,
    )
