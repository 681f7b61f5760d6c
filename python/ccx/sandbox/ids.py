"""Deterministic identifiers: wamids, fbtrace ids, conversation ids (all derived from the seed)."""

from __future__ import annotations

import base64
import functools
import hashlib

_TRACE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _digest(seed: int, *parts: object, size: int = 16) -> bytes:
    text = ":".join(str(p) for p in (seed, *parts))
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def wamid(seed: int, seq: int, wa_id: str) -> str:
    """The `seq`-th message id: same seed and sequence → same wamid.

    Shaped like the ids Meta returns: `wamid.` + base64 of a small record holding the
    recipient's digits and 18 hex characters.
    """
    digits = wa_id.encode()[:255]
    tail = _digest(seed, "wamid", seq, size=9).hex().upper().encode()
    raw = b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x11\x18\x12" + tail + b"\x00"
    return "wamid." + base64.b64encode(raw).decode().rstrip("=")


def fbtrace_id(seed: int, seq: int) -> str:
    """An 11-character trace id like Meta's `fbtrace_id`."""
    raw = _digest(seed, "trace", seq, size=11)
    return "A" + "".join(_TRACE_ALPHABET[b % 64] for b in raw[1:])


@functools.lru_cache(maxsize=65536)
def conversation_id(seed: int, phone_number_id: str, wa_id: str, category: str) -> str:
    """A stable 32-hex conversation id per (sender, user, category)."""
    return _digest(seed, "conversation", phone_number_id, wa_id, category).hex()


def template_id(name: str, language: str) -> str:
    """A stable numeric template id."""
    return str(int.from_bytes(_digest(0, "template", name, language, size=7), "big"))
