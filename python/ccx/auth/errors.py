"""The one exception of the auth package; the API turns it into an RFC 9457 problem."""

from __future__ import annotations

import re
from enum import StrEnum


class ErrorCode(StrEnum):
    """Machine-readable reason of an `AuthError` (stable: clients and dashboards key on it)."""

    MISSING_TOKEN = "missing_token"
    MALFORMED_TOKEN = "malformed_token"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    MISSING_KID = "missing_kid"
    UNKNOWN_KID = "unknown_kid"
    KEY_RETIRED = "key_retired"
    INVALID_SIGNATURE = "invalid_signature"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    INVALID_CLAIMS = "invalid_claims"
    MISSING_SCOPE = "missing_scope"


# RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_NOT_DESCRIPTION_CHARS = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _quoted(value: str) -> str:
    return '"' + _NOT_DESCRIPTION_CHARS.sub("'", value)[:200] + '"'


class AuthError(Exception):
    """A request is not authenticated (status 401) or not authorised (status 403).

    `detail` is safe to show to the caller: it never contains key material or the token.
    """

    def __init__(
        self, code: ErrorCode, detail: str, *, status: int = 401, scope: str | None = None
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status
        self.scope = scope

    @property
    def www_authenticate(self) -> str:
        """The `WWW-Authenticate` value for the response (RFC 6750 §3)."""
        if self.code is ErrorCode.MISSING_TOKEN:
            # §3.1: a request without credentials gets no error code.
            return "Bearer"
        if self.status == 403:
            value = f'Bearer error="insufficient_scope", error_description={_quoted(self.detail)}'
            if self.scope:
                value += f", scope={_quoted(self.scope)}"
            return value
        return f'Bearer error="invalid_token", error_description={_quoted(self.detail)}'

    def __repr__(self) -> str:
        return f"AuthError({self.code.value!r}, {self.detail!r}, status={self.status})"
