"""Typed failures of the accept path; the HTTP layer maps them to problem+json responses."""

from __future__ import annotations


class AcceptError(Exception):
    """Base of every error `GroupCommitter.submit` raises on purpose."""


class ConflictError(AcceptError):
    """409: the idempotency key was used for a different request body."""

    def __init__(self, key: str, message_id: str, detail: str | None = None) -> None:
        super().__init__(
            detail or f"idempotency key {key!r} was already used for a different request"
        )
        self.key = key
        self.message_id = message_id


class InProgress(ConflictError):
    """409: the original request with this key is still being written by another process;
    retrying shortly gives its answer."""

    def __init__(self, key: str, message_id: str) -> None:
        super().__init__(
            key, message_id, f"a request with idempotency key {key!r} is still in progress"
        )


class DependencyUnavailable(AcceptError):
    """503 with `Retry-After`: a service the accept path needs is down; nothing was accepted."""

    def __init__(self, dependency: str, retry_after_s: int = 1, detail: str = "") -> None:
        super().__init__(f"{dependency} is unavailable" + (f": {detail}" if detail else ""))
        self.dependency = dependency
        self.retry_after_s = retry_after_s
