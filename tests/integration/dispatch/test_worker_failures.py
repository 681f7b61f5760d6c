"""Failure modes of the worker (issue 5 §8): Meta silent, throttling, outages, priority, crash."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from sandbox_it import PNID, WABA_ID, SandboxProcess

from ccx.config import Settings
from ccx.dispatch.breaker import State
from ccx.dispatch.worker import Worker
from ccx.ingest.accept import AcceptItem, GroupCommitter
from ccx.security import DataKeys
from ccx.store.messages import MessageRepository, Status, event, now_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.senders import SenderRepository
from tests.integration.dispatch.worker_it import (
    accept_texts,
    eventually,
    ledger,
    meta_allows,
    set_faults,
    wait_for,
    worker_settings,
)

ROOT = Path(__file__).resolve().parents[3]


async def start_worker(settings: Settings, tenants: list[str]) -> Worker:
    worker = Worker(settings, tenants=tenants)
    await worker.start()
    for tenant in tenants:
        await worker.consume_tenant(tenant)
    return worker


async def test_no_answer_after_the_request_left_is_undetermined(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    # the sandbox records the send, then holds the answer and resets the connection
    await set_faults(sandbox, {"accept_no_answer": 1.0})
    (message_id,) = await accept_texts(committer, tenant, 1)
    repo = MessageRepository(mongo[tenant_db(tenant)])
    done = (await wait_for(repo, [message_id]))[message_id]
    assert done.status is Status.UNDETERMINED
    assert done.extra["error"]["class"] == "ambiguous"
    await asyncio.sleep(2.5)
    assert (await ledger(sandbox))["count"] == 1  # Meta has it once, and ccx did not resend
    again = await repo.get(message_id)
    assert again is not None
    assert (again.status, again.attempt) == (Status.UNDETERMINED, 1)


async def test_a_130429_storm_slows_the_number_down_and_every_message_goes_once(
    settings: Settings,
    sandbox: SandboxProcess,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sender: str,
) -> None:
    # Meta allows this number 20 msg/s; its sender record says tier 80
    await meta_allows(sandbox, PNID, 20)
    worker = await start_worker(worker_settings(settings, sandbox), [tenant])
    try:
        ids = await accept_texts(committer, tenant, 120)
        repo = MessageRepository(mongo[tenant_db(tenant)])
        done = await wait_for(repo, ids, timeout_s=40)
        rate = worker.pacer.rate(PNID)
    finally:
        await worker.close()
    assert {m.status for m in done.values()} == {Status.SENT}
    book = await ledger(sandbox)
    throttled = book["requests"]["responses"].get("130429", 0)
    assert throttled > 0
    assert rate is not None
    assert rate < 80
    assert book["count"] == 120  # each message accepted by Meta exactly once
    assert throttled < 120  # the pacing took effect; not every message was refused


async def test_the_breaker_opens_on_errors_and_closes_when_meta_recovers(
    settings: Settings,
    sandbox: SandboxProcess,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sender: str,
) -> None:
    tuned = worker_settings(
        settings,
        sandbox,
        breaker_min_requests=4,
        breaker_cooldown_s=1.0,
        breaker_half_open_probes=1,
        inflight_initial=4,
    )
    worker = await start_worker(tuned, [tenant])
    try:
        await set_faults(sandbox, {"error_rates": {"131000": 1.0}})
        ids = await accept_texts(committer, tenant, 12)
        repo = MessageRepository(mongo[tenant_db(tenant)])
        assert await eventually(lambda: worker.breaker.state(PNID) is State.OPEN)
        refused = (await ledger(sandbox))["requests"]["total"]
        assert refused < 12  # once open, the rest were held back, not sent into the errors
        await set_faults(sandbox, {})
        done = await wait_for(repo, ids, timeout_s=40)
        assert {m.status for m in done.values()} == {Status.SENT}
        assert worker.breaker.state(PNID) is State.CLOSED
    finally:
        await worker.close()
    assert (await ledger(sandbox))["count"] == 12


@pytest.mark.parametrize("shared_number", [False, True], ids=["own-numbers", "shared-number"])
async def test_a_marketing_batch_of_one_tenant_does_not_delay_another_tenants_otp(
    settings: Settings,
    sandbox: SandboxProcess,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    other_tenant: str,
    shared_number: bool,
) -> None:
    """With a number of its own the OTP passes the batch in the worker's queues, slots and
    writes; sharing the batch's number it must also pass it in that number's pacing line."""
    keys = DataKeys.from_settings(settings.security)
    bulk_number = "200000000000001"
    otp_number = bulk_number if shared_number else "200000000000002"
    await SenderRepository(mongo[tenant_db(tenant)], keys, tenant).put(
        bulk_number, waba_id=WABA_ID, access_token="sandbox", is_default=True
    )  # tier 80: the batch takes about 20 s to go out
    await SenderRepository(mongo[tenant_db(other_tenant)], keys, other_tenant).put(
        otp_number, waba_id=WABA_ID, access_token="sandbox", is_default=True
    )
    await set_faults(sandbox, {"latency": "fixed:20"})
    worker = await start_worker(worker_settings(settings, sandbox), [tenant, other_tenant])
    try:
        bulk = await accept_texts(committer, tenant, 1500, priority="low")
        repo_b = MessageRepository(mongo[tenant_db(other_tenant)])

        # the batch is flowing: Meta has taken 50 of it
        async def flowing() -> bool:
            return int((await ledger(sandbox))["count"]) >= 50

        assert await eventually(flowing, timeout_s=30)
        latencies = []
        for i, priority in enumerate(["critical", "high"]):
            started = time.monotonic()
            otp = await committer.submit(
                AcceptItem(
                    other_tenant,
                    {"to": f"+551199999888{i}", "type": "text", "text": {"body": "123456"}},
                    priority=priority,
                )
            )
            await wait_for(repo_b, [otp.id], {Status.SENT}, timeout_s=10, poll_s=0.02)
            latencies.append(time.monotonic() - started)
        backlog = len(bulk) + 2 - (await ledger(sandbox))["count"]
    finally:
        await worker.close()
    assert backlog > 100, f"the batch was nearly done ({backlog} left): this proves nothing"
    assert max(latencies) < 1.0, f"critical, high took {latencies} s behind the batch"


def _worker_process(
    settings_env: dict[str, str], tenant: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings_env}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ccx", "worker", "--tenant", tenant],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_kill_9_in_the_middle_of_a_batch_sends_nothing_twice_and_loses_nothing(
    settings: Settings,
    sandbox: SandboxProcess,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sender: str,
    tmp_path: Path,
) -> None:
    await set_faults(sandbox, {"latency": "uniform:50:150"})
    env = {
        "CCX_DISPATCH_META_BASE_URL": sandbox.url,
        "CCX_DISPATCH_LEASE_S": "3",
        "CCX_DISPATCH_INFLIGHT_INITIAL": "16",
    }
    victim = _worker_process(env, tenant, tmp_path / "victim.log")
    try:
        ids = await accept_texts(committer, tenant, 300)
        deadline = time.monotonic() + 30
        while (await ledger(sandbox))["count"] < 40 and time.monotonic() < deadline:
            assert victim.poll() is None, (tmp_path / "victim.log").read_text()
            await asyncio.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
    sent_before = (await ledger(sandbox))["count"]
    assert sent_before < 300, "the worker finished before it was killed"

    tuned = dataclasses.replace(
        worker_settings(settings, sandbox),
        dispatch=dataclasses.replace(
            worker_settings(settings, sandbox).dispatch, lease_s=3.0, sweep_interval_s=1.0
        ),
    )
    survivor = await start_worker(tuned, [tenant])
    try:
        repo = MessageRepository(mongo[tenant_db(tenant)])
        done = await wait_for(repo, ids, timeout_s=60)
    finally:
        await survivor.close()

    book = await ledger(sandbox)
    per_message: dict[str, int] = {}
    for entry in book["entries"]:
        message_id = str(entry["biz_opaque_callback_data"]).rsplit(".", 1)[0]
        per_message[message_id] = per_message.get(message_id, 0) + 1
    assert max(per_message.values()) == 1, "a message reached Meta twice"
    statuses = {m.status for m in done.values()}
    assert statuses <= {Status.SENT, Status.UNDETERMINED}, statuses
    sent = {i for i, m in done.items() if m.status is Status.SENT}
    assert sent <= set(per_message)  # every `sent` is in Meta's ledger
    assert len(per_message) >= len(sent)
    # the killed worker's claims in flight were swept to undetermined, not resent
    undetermined = [m for m in done.values() if m.status is Status.UNDETERMINED]
    assert all(m.extra["error"]["reason"] == "lease_expired" for m in undetermined)


async def test_a_claim_whose_worker_died_before_its_projection_is_swept_not_lost(
    settings: Settings,
    sandbox: SandboxProcess,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sender: str,
) -> None:
    # A worker inserted the claim event and died before copying it onto the message: the
    # document still says `queued` while the event log says `dispatching` (lease over).
    (message_id,) = await accept_texts(committer, tenant, 1)
    repo = MessageRepository(mongo[tenant_db(tenant)])
    lease = {"owner": "wk_dead", "until": now_ms() - timedelta(seconds=5)}
    claim = event(
        message_id, 3, Status.QUEUED, Status.DISPATCHING, now_ms(), None, attempt=1, lease=lease
    )
    await repo.append_events([claim])
    tuned = worker_settings(settings, sandbox, sweep_interval_s=0.5)
    worker = await start_worker(tuned, [tenant])  # gets the redelivered envelope
    try:
        done = (await wait_for(repo, [message_id], timeout_s=15))[message_id]
    finally:
        await worker.close()
    assert done.status is Status.UNDETERMINED  # the request may have left: never resent
    assert done.extra["error"]["reason"] == "lease_expired"
    assert (await ledger(sandbox))["count"] == 0
