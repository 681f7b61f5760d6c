"""Before the load: one message per tenant, followed until the worker has handed it to
Meta (the sandbox). So a run starts once the worker serves its tenants (it looks for new
ones every few seconds) and is no longer busy with what an earlier run left, and it fails
early when no worker runs at all."""

from __future__ import annotations

import random
import time

import httpx

from ccx.bench.stack import SetupError
from loadtest import bodies
from loadtest.context import Tenant

#: States in which a message still waits for the worker.
WAITING = frozenset({"accepted", "queued", "dispatching", "retrying"})


def settle(host: str, tenants: list[Tenant], timeout_s: float = 120.0) -> float:
    """Seconds until every tenant's probe left the worker; SetupError after `timeout_s`."""
    start = time.monotonic()
    rng = random.Random()
    pending: dict[str, tuple[Tenant, str]] = {}
    with httpx.Client(base_url=host, timeout=10, trust_env=False) as api:
        for tenant in tenants:
            body = {**bodies.notice(rng), "metadata": {"loadtest": "probe"}}
            answer = api.post("/v1/messages", json=body, headers=_auth(tenant))
            if answer.status_code != 202:
                raise SetupError(f"probe for {tenant.id}: {answer.status_code} {answer.text}")
            pending[tenant.id] = (tenant, str(answer.json()["id"]))
        status = "?"
        while pending:
            if time.monotonic() - start > timeout_s:
                raise SetupError(
                    f"the worker did not send a probe of {', '.join(pending)} within "
                    f"{timeout_s:g} s (still {status}); is `ccx worker` running?"
                )
            time.sleep(0.2)
            for tenant_id, (tenant, message_id) in list(pending.items()):
                view = api.get(f"/v1/messages/{message_id}", headers=_auth(tenant))
                status = view.json().get("status", "?") if view.status_code == 200 else status
                if status not in WAITING:
                    del pending[tenant_id]
    return time.monotonic() - start


def _auth(tenant: Tenant) -> dict[str, str]:
    return {"authorization": f"Bearer {tenant.token}"}
