"""What every scenario's user shares: a tenant of the run (round robin), its bearer token,
a random source, and the check that turns an unexpected answer into a locust failure."""

from __future__ import annotations

import itertools
import random
from typing import Any

from locust import FastHttpUser
from locust.contrib.fasthttp import ResponseContextManager

from loadtest.context import RunContext, Tenant, from_environment
from loadtest.scenarios.answers import unexpected
from loadtest.scenarios.tally import TALLY

_context: RunContext | None = None
_turn = itertools.count()


def next_tenant() -> Tenant:
    """The tenants of the run in turn, so K tenants share the users evenly."""
    global _context
    if _context is None:
        _context = from_environment()
    return _context.tenants[next(_turn) % len(_context.tenants)]


def expect(reply: ResponseContextManager, status: int) -> dict[str, Any] | None:
    """The answer's JSON object when its status is `status` (the request counts as a
    success); otherwise the request is marked failed with the reason, and None."""
    if reply.status_code != status:
        reason = unexpected(status, reply.status_code, reply.text, getattr(reply, "error", None))
        reply.failure(reason)
        return None
    try:
        data: Any = reply.json()
    except ValueError:
        reply.failure(f"{status} without a JSON body")
        return None
    if not isinstance(data, dict):
        reply.failure(f"{status} with a JSON {type(data).__name__}, not an object")
        return None
    reply.success()
    return data


def accepted_id(reply: ResponseContextManager, data: dict[str, Any] | None) -> str | None:
    """The message id of a 202 body (`{id, status, created_at}`), else the request fails."""
    if data is None:
        return None
    message_id = data.get("id")
    if not isinstance(message_id, str) or not message_id.startswith("msg_"):
        reply.failure(f"202 without a message id: {str(data)[:80]}")
        return None
    return message_id


class CcxUser(FastHttpUser):
    """A client backend of one tenant."""

    abstract = True

    def on_start(self) -> None:
        tenant = next_tenant()
        self.tenant = tenant.id
        self.auth = {"authorization": f"Bearer {tenant.token}"}
        self.rng = random.Random()

    def post_json(
        self, path: str, body: dict[str, Any], name: str, headers: dict[str, str] | None = None
    ) -> ResponseContextManager:
        return self.client.post(
            path, json=body, headers={**self.auth, **(headers or {})}, name=name,
            catch_response=True,
        )  # fmt: skip

    def accepted(self, count: int = 1) -> None:
        TALLY.accept(self.tenant, count)

    def flow(self, name: str, took_ms: float, failure: str | None = None) -> None:
        """A pseudo-request (type FLOW) in locust's statistics: how long something that
        spans several requests took, e.g. a message from accepted to read."""
        self.environment.events.request.fire(
            request_type="FLOW",
            name=name,
            response_time=took_ms,
            response_length=0,
            exception=RuntimeError(failure) if failure else None,
            context={},
        )
