"""Meta's callbacks end to end (issue 5 §8): a send that times out after the request left is
`undetermined`, never resent, and Meta's signed callbacks, received by a real `ccx serve` and
applied by the status consumer, then resolve it to sent, delivered and read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from sandbox_it import SandboxProcess

from ccx.dispatch.worker import Worker
from ccx.ingest.accept import GroupCommitter
from ccx.status.consumer import StatusConsumer
from ccx.store.messages import MessageRepository, Status
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from tests.e2e.serving import serve
from tests.integration.dispatch.worker_it import (
    accept_texts,
    admin_call,
    ledger,
    sends_of,
    set_faults,
    wait_for,
)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    """`ccx serve` with the default Meta app secret, which is the sandbox's."""
    with serve(tmp_path) as base:
        yield base


async def test_an_undetermined_send_is_resolved_by_metas_callbacks(
    api: str,
    worker: Worker,
    statuses: StatusConsumer,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    # Meta takes the message but never answers (the connection is reset after 1.5 s); its
    # callbacks come later, after the worker has given the send up as undetermined
    callbacks = {"sent_delay_s": 3.0, "delivered_delay_s": 0.2, "read_delay_s": 0.2}
    await admin_call(
        sandbox, "PUT", "/callbacks", json={"url": api + "/webhooks/meta", **callbacks}
    )
    try:
        await set_faults(sandbox, {"accept_no_answer": 1.0})
        (message_id,) = await accept_texts(committer, tenant, 1)
        repo = MessageRepository(mongo[tenant_db(tenant)])
        await wait_for(repo, [message_id], {Status.UNDETERMINED}, timeout_s=10)
        done = (await wait_for(repo, [message_id], {Status.READ}, timeout_s=20))[message_id]
    finally:
        await admin_call(sandbox, "PUT", "/callbacks", json={"url": ""})
    (sent,) = await sends_of(sandbox, message_id)  # sent once, never again
    assert done.wamid == sent["wamid"]
    steps = [e["to"] for e in await repo.history(done)]
    assert steps == [
        "accepted",
        "queued",
        "dispatching",
        "undetermined",
        "sent",
        "delivered",
        "read",
    ]
    await asyncio.sleep(0.5)
    assert (await ledger(sandbox))["count"] == 1
