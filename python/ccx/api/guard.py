"""Authentication of v1 requests and the mapping of domain errors to problem+json."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from pymongo.errors import PyMongoError

from ccx.api.http import ProblemError, Request
from ccx.api.services import Services
from ccx.auth import AuthError, ErrorCode, Principal, Scope, bearer_token, keystore, require
from ccx.ingest.errors import AcceptError, ConflictError, DependencyUnavailable, InProgress
from ccx.telemetry.metrics import dependency_errors_total

log = logging.getLogger(__name__)

#: An unknown `kid` reloads the key ring at most this often (a rotation done a moment ago).
UNKNOWN_KID_REFRESH_S = 2.0


def auth_problem(exc: AuthError) -> ProblemError:
    """401/403 problem with the RFC 6750 `WWW-Authenticate` header and the stable code."""
    title = "Forbidden" if exc.status == 403 else "Unauthorized"
    problem = ProblemError(
        exc.status,
        title,
        exc.detail,
        kind=exc.code.value.replace("_", "-"),
        headers=[("www-authenticate", exc.www_authenticate)],
    )
    problem.extra["code"] = exc.code.value
    return problem


def unavailable(dependency: str, retry_after_s: int = 1, detail: str = "") -> ProblemError:
    """503 with `Retry-After` naming the dependency that is down."""
    dependency_errors_total.labels(dependency).inc()
    text = f"{dependency} is unavailable; nothing was written. Retry after {retry_after_s} s."
    problem = ProblemError(
        503,
        "Service Unavailable",
        text + (f" ({detail})" if detail else ""),
        kind="dependency-unavailable",
        headers=[("retry-after", str(retry_after_s))],
    )
    problem.extra["dependency"] = dependency
    return problem


@contextlib.contextmanager
def mongo_errors(what: str) -> Iterator[None]:
    """MongoDB failures inside become 503 (only the error's type is logged: messages may
    quote documents)."""
    try:
        yield
    except PyMongoError as exc:
        logging.getLogger(__name__).warning("%s unavailable: %s", what, type(exc).__name__)
        raise unavailable("mongodb") from None


def accept_problem(exc: AcceptError) -> ProblemError:
    """The problem document for an error of the accept path."""
    if isinstance(exc, InProgress):
        problem = ProblemError(
            409,
            "Conflict",
            str(exc),
            kind="idempotency-in-progress",
            headers=[("retry-after", "1")],
        )
        return problem
    if isinstance(exc, ConflictError):
        return ProblemError(409, "Conflict", str(exc), kind="idempotency-conflict")
    if isinstance(exc, DependencyUnavailable):
        problem = ProblemError(
            503,
            "Service Unavailable",
            f"{exc}; nothing was accepted.",
            kind="dependency-unavailable",
            headers=[("retry-after", str(exc.retry_after_s))],
        )
        problem.extra["dependency"] = exc.dependency
        return problem
    log.error("unmapped accept error: %r", exc)
    return ProblemError(
        500, "Internal Server Error", "An unexpected error occurred; it was logged."
    )


class Guard:
    """Checks the bearer token, the scopes and that the token's tenant exists."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._last_refresh = 0.0

    async def __call__(self, request: Request, *scopes: Scope) -> Principal:
        try:
            token = bearer_token(request.header("authorization"))
            principal = await self._verify(token)
            require(principal, *scopes)
        except AuthError as exc:
            raise auth_problem(exc) from None
        try:
            exists = await self.services.tenant_exists(principal.tenant)
        except Exception as exc:
            log.warning("tenant lookup failed: %r", exc)
            raise unavailable("mongodb") from None
        if not exists:
            raise ProblemError(
                403,
                "Forbidden",
                f"tenant {principal.tenant!r} does not exist or is disabled; "
                "create it with `ccx tenant create`.",
                kind="unknown-tenant",
            )
        return principal

    async def _verify(self, token: str) -> Principal:
        authenticator = self.services.authenticator
        try:
            return authenticator.verify(token)
        except AuthError as exc:
            if exc.code is not ErrorCode.UNKNOWN_KID or not self._may_refresh():
                raise
        settings = self.services.settings
        try:
            await keystore.refresh(
                self.services.mongo[settings.mongo.platform_db],
                authenticator,
                self.services.configured_keys,
            )
        except Exception as exc:
            log.warning("key ring refresh after an unknown kid failed: %r", exc)
        return authenticator.verify(token)

    def _may_refresh(self) -> bool:
        if not self.services.settings.auth.use_key_store:
            return False
        now = time.monotonic()
        if now - self._last_refresh < UNKNOWN_KID_REFRESH_S:
            return False
        self._last_refresh = now
        return True
