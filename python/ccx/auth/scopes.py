"""The scopes a ccx bearer token can carry, and the parsing of the `scope` claim."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    """One permission of the v1 API (ARCHITECTURE.md §3). `admin` implies no other scope."""

    MESSAGES_WRITE = "messages:write"
    MESSAGES_READ = "messages:read"
    TEMPLATES_WRITE = "templates:write"
    WEBHOOKS_WRITE = "webhooks:write"
    WEBHOOKS_READ = "webhooks:read"
    EXPORTS_READ = "exports:read"
    ADMIN = "admin"


_KNOWN = {s.value: s for s in Scope}
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), tokens separated by one space.
_SCOPE_CLAIM = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")
MAX_SCOPE_CLAIM_CHARS = 1024


def parse_scope_claim(claim: object) -> frozenset[Scope]:
    """The ccx scopes in a verified token's `scope` claim; ValueError if the claim is malformed.

    The claim's *syntax* is checked strictly (a string of RFC 6749 scope tokens separated by
    single spaces, at most 1 KiB; a missing claim is the empty set), but well-formed scopes
    that ccx does not know are **ignored**, not rejected: tokens minted by an external issuer
    (a JWKS key) often carry scopes for other services, and dropping an unknown scope can only
    narrow what the token may do, never widen it. Matching is exact and case-sensitive, so a
    typo such as `Messages:Write` grants nothing and surfaces as a 403 `missing_scope`.
    Tokens that ccx issues itself are held to the stricter `parse_scopes`.
    """
    if claim is None:
        return frozenset()
    if not isinstance(claim, str):
        raise ValueError("scope claim must be a space-separated string")
    if claim == "":
        return frozenset()
    if len(claim) > MAX_SCOPE_CLAIM_CHARS or _SCOPE_CLAIM.fullmatch(claim) is None:
        raise ValueError("scope claim is not a list of scope tokens separated by single spaces")
    return frozenset(_KNOWN[t] for t in claim.split(" ") if t in _KNOWN)


def parse_scopes(scopes: str | Iterable[str]) -> frozenset[Scope]:
    """Scopes for a token ccx is about to issue; ValueError names any unknown scope.

    Accepts a space- or comma-separated string (CLI input) or an iterable of names. Unlike
    `parse_scope_claim`, unknown names are rejected so that an operator's typo fails loudly
    at issue time instead of producing a token that is refused later.
    """
    names = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    unknown = sorted({n for n in names if n not in _KNOWN})
    if unknown:
        known = ", ".join(_KNOWN)
        raise ValueError(f"unknown scope(s) {', '.join(unknown)} (known: {known})")
    return frozenset(_KNOWN[n] for n in names)


def format_scopes(scopes: Iterable[Scope]) -> str:
    """The `scope` claim value for a set of scopes (sorted, space-separated)."""
    return " ".join(sorted(str(s) for s in set(scopes)))
