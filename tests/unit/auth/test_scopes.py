from __future__ import annotations

import pytest

from ccx.auth.scopes import Scope, format_scopes, parse_scope_claim, parse_scopes


def test_the_seven_scopes() -> None:
    assert {str(s) for s in Scope} == {
        "messages:write",
        "messages:read",
        "templates:write",
        "webhooks:write",
        "webhooks:read",
        "exports:read",
        "admin",
    }


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        (None, set()),
        ("", set()),
        ("admin", {Scope.ADMIN}),
        ("messages:read exports:read", {Scope.MESSAGES_READ, Scope.EXPORTS_READ}),
        ("admin admin", {Scope.ADMIN}),
        ("openid profile webhooks:read", {Scope.WEBHOOKS_READ}),
        ("ADMIN Messages:Read", set()),
    ],
)
def test_scope_claim(claim: str | None, expected: set[Scope]) -> None:
    assert parse_scope_claim(claim) == expected


@pytest.mark.parametrize(
    "claim",
    [
        ["admin"],
        42,
        {"admin": True},
        " admin",
        "admin ",
        "admin  exports:read",
        "admin\texports:read",
        "admin\nexports:read",
        'ad"min',
        "ad\\min",
        "admín",
        "a" * 1025,
    ],
)
def test_malformed_scope_claims(claim: object) -> None:
    with pytest.raises(ValueError, match="scope"):
        parse_scope_claim(claim)


def test_parse_scopes_is_strict() -> None:
    assert parse_scopes("messages:write, messages:read") == {
        Scope.MESSAGES_WRITE,
        Scope.MESSAGES_READ,
    }
    assert parse_scopes(["admin"]) == {Scope.ADMIN}
    assert parse_scopes([Scope.ADMIN, "exports:read"]) == {Scope.ADMIN, Scope.EXPORTS_READ}
    assert parse_scopes("") == frozenset()
    with pytest.raises(ValueError, match="messages:wrte"):
        parse_scopes("messages:wrte admin")


def test_format_scopes_is_sorted_and_round_trips() -> None:
    text = format_scopes([Scope.WEBHOOKS_READ, Scope.ADMIN, Scope.ADMIN])
    assert text == "admin webhooks:read"
    assert parse_scope_claim(text) == {Scope.ADMIN, Scope.WEBHOOKS_READ}
    assert parse_scope_claim(format_scopes(Scope)) == set(Scope)
