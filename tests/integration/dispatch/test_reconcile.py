"""Reconciliation (issue 5 §6): out of retries, a message waits in the reconcile queue, is tried
again every interval, and expires when the window ends; it can be cancelled while it waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from pymongo import AsyncMongoClient
from sandbox_it import SandboxProcess

from ccx.config import Settings
from ccx.dispatch.worker import Worker
from ccx.ingest.accept import GroupCommitter
from ccx.store.messages import MessageRepository, Status
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.transitions import Transitions
from tests.integration.dispatch.worker_it import (
    accept_texts,
    admin_call,
    sends_of,
    set_faults,
    wait_for,
    worker_settings,
)


@pytest_asyncio.fixture
async def reconciler(
    settings: Settings, sandbox: SandboxProcess, tenant: str, sender: str
) -> AsyncIterator[Worker]:
    """A worker with one attempt before reconciliation, a 1 s interval and a 3.5 s window."""
    tuned = worker_settings(
        settings, sandbox, max_attempts=1, reconcile_interval_s=1.0, reconcile_for_s=3.5
    )
    w = Worker(tuned, tenants=[tenant])
    await w.start()
    await w.consume_tenant(tenant)
    yield w
    await w.close()


async def never_sendable(
    sandbox: SandboxProcess,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
) -> tuple[MessageRepository, str]:
    """One message accepted while Meta refuses every send with a retryable error."""
    await set_faults(sandbox, {"error_rates": {"131000": 1.0}})
    (message_id,) = await accept_texts(committer, tenant, 1)
    return MessageRepository(mongo[tenant_db(tenant)]), message_id


async def requests_total(sandbox: SandboxProcess) -> int:
    data = await admin_call(sandbox, "GET", "/ledger", params={"entries": "0"})
    return int(data["requests"]["total"])


async def test_reconciliation_tries_every_interval_then_expires(
    reconciler: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    repo, message_id = await never_sendable(sandbox, committer, mongo, tenant)
    done = (await wait_for(repo, [message_id], {Status.EXPIRED}, timeout_s=20))[message_id]

    steps = [e["to"] for e in await repo.history(done)]
    assert steps[:5] == ["accepted", "queued", "dispatching", "reconciling", "dispatching"]
    assert steps[-1] == "expired"
    tries = steps.count("dispatching")
    # one attempt, then one a second for the 3.5 s window: about four, never a burst
    assert 3 <= tries <= 6, steps
    assert steps.count("reconciling") == tries
    assert done.attempt == tries
    assert await sends_of(sandbox, message_id) == []  # every try failed before sending
    requests = await requests_total(sandbox)
    await asyncio.sleep(1.5)
    assert await requests_total(sandbox) == requests, "an expired message was tried again"


async def test_a_reconciling_message_can_be_cancelled_and_is_not_tried_again(
    reconciler: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    repo, message_id = await never_sendable(sandbox, committer, mongo, tenant)
    await wait_for(repo, [message_id], {Status.RECONCILING})
    await set_faults(sandbox, {})  # Meta is fine again: only the cancel keeps it unsent

    moved = await Transitions(repo).transition(message_id, (Status.RECONCILING,), Status.CANCELLED)
    assert moved is not None
    assert moved.status is Status.CANCELLED
    await asyncio.sleep(2.5)  # past the interval: the envelope came back
    message = await repo.get(message_id)
    assert message is not None
    assert message.status is Status.CANCELLED
    assert await sends_of(sandbox, message_id) == []
