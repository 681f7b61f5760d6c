"""Bearer-token authentication: scopes, keys by `kid`, verification, issuance, key rotation.

Independent of the HTTP layer: the API calls `bearer_token(header)`, `Authenticator.verify`
and `require(principal, scope)`, and turns an `AuthError` into a problem+json response.
"""

from ccx.auth.errors import AuthError, ErrorCode
from ccx.auth.keyring import Key, KeyRing, KeyRingError
from ccx.auth.scopes import Scope, parse_scope_claim, parse_scopes
from ccx.auth.tokens import Authenticator, Principal, bearer_token, issue, require

__all__ = [
    "AuthError",
    "Authenticator",
    "ErrorCode",
    "Key",
    "KeyRing",
    "KeyRingError",
    "Principal",
    "Scope",
    "bearer_token",
    "issue",
    "parse_scope_claim",
    "parse_scopes",
    "require",
]
