from __future__ import annotations

from ccx.auth.errors import AuthError, ErrorCode


def test_invalid_token_header() -> None:
    err = AuthError(ErrorCode.TOKEN_EXPIRED, "the token has expired")
    assert err.status == 401
    assert err.code == "token_expired"
    assert err.www_authenticate == (
        'Bearer error="invalid_token", error_description="the token has expired"'
    )


def test_missing_token_header_has_no_error_code() -> None:
    assert AuthError(ErrorCode.MISSING_TOKEN, "x").www_authenticate == "Bearer"


def test_insufficient_scope_header() -> None:
    err = AuthError(ErrorCode.MISSING_SCOPE, "needs admin", status=403, scope="admin")
    assert err.www_authenticate == (
        'Bearer error="insufficient_scope", error_description="needs admin", scope="admin"'
    )


def test_description_is_kept_to_the_rfc_6750_characters() -> None:
    err = AuthError(ErrorCode.INVALID_CLAIMS, 'bad "tid"\\\n\u00e9' + "x" * 500)
    value = err.www_authenticate
    inner = value.split('error_description="', 1)[1][:-1]
    assert '"' not in inner
    assert "\\" not in inner
    assert all(0x20 <= ord(c) <= 0x7E for c in inner)
    assert len(inner) <= 200


def test_repr_and_str() -> None:
    err = AuthError(ErrorCode.UNKNOWN_KID, "no such key")
    assert str(err) == "unknown_kid: no such key"
    assert "unknown_kid" in repr(err)
