"""The dispatch worker against real RabbitMQ, FerretDB, Redis and the sandbox."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from sandbox_it import SandboxProcess

from ccx.config import Settings
from ccx.dispatch.worker import Worker
from ccx.ingest.accept import AcceptItem, GroupCommitter
from ccx.queue.names import DLQ, WORK_EXCHANGE, tier_routing_key
from ccx.queue.publisher import Dispatch, Publisher
from ccx.store.messages import MessageRepository, Status, now_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.suppressions import SuppressionRepository
from ccx.store.templates import TemplateRepository
from ccx.store.tenants import TenantRepository
from tests.integration.dispatch.worker_it import (
    OTP_TEMPLATE,
    accept_texts,
    eventually,
    ledger,
    sends_of,
    set_faults,
    wait_for,
    worker_settings,
)


async def test_messages_are_sent_once_with_their_history(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    ids = await accept_texts(committer, tenant, 20)
    repo = MessageRepository(mongo[tenant_db(tenant)])
    done = await wait_for(repo, ids)
    assert {m.status for m in done.values()} == {Status.SENT}
    assert all(m.wamid and m.wamid.startswith("wamid.") for m in done.values())
    entries = (await ledger(sandbox))["entries"]
    assert sorted(e["biz_opaque_callback_data"] for e in entries) == sorted(f"{i}.1" for i in ids)
    history = await repo.history(done[ids[0]])
    assert [(e["seq"], e["to"]) for e in history] == [
        (1, "accepted"),
        (2, "queued"),
        (3, "dispatching"),
        (4, "sent"),
    ]
    assert history[2]["attempt"] == 1
    assert history[2]["lease"]["owner"] == worker.id
    assert history[3]["wamid"] == done[ids[0]].wamid
    assert all(e["trace_id"] == done[ids[0]].trace_id for e in history)


async def test_template_messages_are_rendered_for_meta(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    # the sandbox knows otp_code (en_US) with one body parameter and an OTP button
    await TemplateRepository(mongo[tenant_db(tenant)]).put(OTP_TEMPLATE, "APPROVED")
    request = {
        "to": "+14085551234",
        "type": "template",
        "template": {
            "name": "otp_code",
            "language": "en_US",
            "variables": {"body": ["123456"], "buttons": ["123456"]},
        },
    }
    accepted = await committer.submit(AcceptItem(tenant, request))
    repo = MessageRepository(mongo[tenant_db(tenant)])
    done = await wait_for(repo, [accepted.id])
    assert done[accepted.id].status is Status.SENT, done[accepted.id].extra
    (entry,) = await sends_of(sandbox, accepted.id)
    assert entry["type"] == "template"


async def test_retryable_error_is_retried_after_the_delay(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    await set_faults(sandbox, {"error_rates": {"131000": 1.0}})
    (message_id,) = await accept_texts(committer, tenant, 1)
    repo = MessageRepository(mongo[tenant_db(tenant)])
    first = (await wait_for(repo, [message_id], {Status.RETRYING}))[message_id]
    assert first.attempt == 1
    assert first.extra["error"]["code"] == 131000
    await set_faults(sandbox, {})
    done = (await wait_for(repo, [message_id], timeout_s=15))[message_id]
    assert (done.status, done.attempt) == (Status.SENT, 2)
    assert [e["biz_opaque_callback_data"] for e in await sends_of(sandbox, message_id)] == [
        f"{message_id}.2"
    ]
    steps = [(e["to"], e.get("attempt")) for e in await repo.history(done)]
    assert steps[2:] == [
        ("dispatching", 1),
        ("retrying", 1),
        ("dispatching", 2),
        ("sent", None),
    ]


@pytest.mark.parametrize(
    ("faults", "status"),
    [
        ({"empty_5xx": 1.0}, Status.UNDETERMINED),  # may have reached Meta: never resent
        ({"error_rates": {"131026": 1.0}}, Status.FAILED),  # undeliverable: terminal
    ],
)
async def test_ambiguous_and_terminal_outcomes_are_not_retried(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
    faults: dict[str, Any],
    status: Status,
) -> None:
    await set_faults(sandbox, faults)
    (message_id,) = await accept_texts(committer, tenant, 1)
    repo = MessageRepository(mongo[tenant_db(tenant)])
    done = (await wait_for(repo, [message_id]))[message_id]
    assert (done.status, done.attempt) == (status, 1)
    await asyncio.sleep(2.5)  # longer than the first retry delay
    again = await repo.get(message_id)
    assert again is not None
    assert (again.status, again.attempt, again.seq) == (status, 1, 4)
    assert (await ledger(sandbox))["requests"]["total"] == 1


async def test_a_duplicate_envelope_is_dropped_by_the_claim(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    rabbit: AbstractRobustConnection,
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    ids = await accept_texts(committer, tenant, 5)
    publisher = Publisher(rabbit)
    # the relay or a redelivery can put the same messages on the queue again
    assert (
        await publisher.publish_batch([Dispatch(i, tenant, "default") for i in ids]) == [True] * 5
    )
    await publisher.close()
    repo = MessageRepository(mongo[tenant_db(tenant)])
    await wait_for(repo, ids)
    await asyncio.sleep(1.0)
    assert (await ledger(sandbox))["count"] == 5
    for message_id in ids:
        assert len(await sends_of(sandbox, message_id)) == 1


async def test_a_poison_envelope_goes_to_the_dlq(
    worker: Worker, rabbit: AbstractRobustConnection, tenant: str
) -> None:
    marker = f"poison-{tenant}".encode()
    channel = await rabbit.channel()
    exchange = await channel.get_exchange(WORK_EXCHANGE)
    await exchange.publish(
        aio_pika.Message(b"{not json " + marker), tier_routing_key(tenant, "low")
    )
    dlq = await channel.get_queue(DLQ, ensure=False)
    found = False
    deadline = time.monotonic() + 10
    while not found and time.monotonic() < deadline:
        message = await dlq.get(fail=False)
        if message is None:
            await asyncio.sleep(0.1)
            continue
        if marker in message.body:
            found = True
            await message.ack()
        else:
            await message.nack(requeue=True)
            await asyncio.sleep(0.05)
    await channel.close()
    assert found


async def test_cancel_and_claim_race_for_the_same_state_change(
    mongo: AsyncMongoClient[Document], committer: GroupCommitter, tenant: str
) -> None:
    from ccx.store.transitions import Change, Transitions

    (message_id,) = await accept_texts(committer, tenant, 1)
    repo = MessageRepository(mongo[tenant_db(tenant)])
    moves = Transitions(repo)
    claim = Change(message_id, 2, Status.QUEUED, Status.DISPATCHING, None, {"attempt": 1})
    cancel = moves.transition(message_id, [Status.QUEUED], Status.CANCELLED)
    claimed, cancelled = await asyncio.gather(moves.claim([claim]), cancel)
    assert (claimed[0] is None) != (cancelled is None)  # exactly one of them
    final = await repo.get(message_id)
    assert final is not None
    assert final.status is (Status.CANCELLED if cancelled else Status.DISPATCHING)
    assert final.seq == 3
    body = orjson.dumps(await repo.list_events(message_id), default=str)
    assert body.count(b'"seq":3') == 1


async def test_a_recipient_who_opted_out_is_failed_not_sent(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    await SuppressionRepository(mongo[tenant_db(tenant)]).put("16505550000", "STOP")
    worker.suppressions.invalidate(tenant)  # else up to suppression_refresh_s later
    opted_out, other = await accept_texts(committer, tenant, 2)  # +16505550000, +16505550001
    repo = MessageRepository(mongo[tenant_db(tenant)])
    done = await wait_for(repo, [opted_out, other])
    assert done[other].status is Status.SENT
    assert done[opted_out].status is Status.FAILED
    assert done[opted_out].extra["error"]["reason"] == "suppressed"
    assert await sends_of(sandbox, opted_out) == []
    steps = [e["to"] for e in await repo.history(done[opted_out])]
    assert steps == ["accepted", "queued", "failed"]  # never claimed, never sent


async def resend_worker(settings: Settings, sandbox: SandboxProcess, tenant: str) -> Worker:
    w = Worker(worker_settings(settings, sandbox, ambiguous_window_s=1.0), tenants=[tenant])
    await w.start()
    await w.consume_tenant(tenant)
    return w


async def test_an_undetermined_message_that_opted_in_is_resent_once_after_the_window(
    settings: Settings,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sender: str,
    sandbox: SandboxProcess,
) -> None:
    worker = await resend_worker(settings, sandbox, tenant)
    try:
        await set_faults(sandbox, {"accept_no_answer": 1.0})  # Meta takes it, never answers
        (message_id,) = await accept_texts(committer, tenant, 1, on_ambiguous="resend")
        repo = MessageRepository(mongo[tenant_db(tenant)])
        await wait_for(repo, [message_id], {Status.UNDETERMINED}, timeout_s=10)
        await set_faults(sandbox, {})
        done = (await wait_for(repo, [message_id], {Status.SENT}, timeout_s=15))[message_id]
    finally:
        await worker.close()
    assert done.attempt == 2
    # the opt-in accepts this: Meta may now have it twice (the first was taken, unanswered)
    sends = [e["biz_opaque_callback_data"] for e in await sends_of(sandbox, message_id)]
    assert sends == [f"{message_id}.1", f"{message_id}.2"]
    steps = [e["to"] for e in await repo.history(done)]
    assert steps[2:] == ["dispatching", "undetermined", "dispatching", "sent"]


async def test_the_resend_happens_once_even_when_it_is_ambiguous_too(
    settings: Settings,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sender: str,
    sandbox: SandboxProcess,
) -> None:
    worker = await resend_worker(settings, sandbox, tenant)
    try:
        await set_faults(sandbox, {"accept_no_answer": 1.0})
        (message_id,) = await accept_texts(committer, tenant, 1, on_ambiguous="resend")
        repo = MessageRepository(mongo[tenant_db(tenant)])

        async def resent_and_settled() -> bool:
            message = await repo.get(message_id)
            assert message is not None
            return message.attempt == 2 and message.status is Status.UNDETERMINED

        assert await eventually(resent_and_settled, timeout_s=15)
        await asyncio.sleep(3.0)  # two more windows: no third send
    finally:
        await worker.close()
    assert len(await sends_of(sandbox, message_id)) == 2


async def test_without_the_opt_in_an_undetermined_message_is_never_resent(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    await set_faults(sandbox, {"accept_no_answer": 1.0})
    (message_id,) = await accept_texts(committer, tenant, 1)
    repo = MessageRepository(mongo[tenant_db(tenant)])
    await wait_for(repo, [message_id], {Status.UNDETERMINED}, timeout_s=10)
    await set_faults(sandbox, {})
    await asyncio.sleep(2.0)
    message = await repo.get(message_id)
    assert message is not None
    assert (message.status, message.attempt) == (Status.UNDETERMINED, 1)
    assert len(await sends_of(sandbox, message_id)) == 1


async def test_a_blocked_country_is_failed_not_sent(
    worker: Worker,
    settings: Settings,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    sandbox: SandboxProcess,
) -> None:
    tenants = TenantRepository(mongo, settings.mongo.platform_db)
    updated = await tenants.block_countries(tenant, ["44"])
    assert updated is not None
    assert updated.blocked_countries == ("44",)
    worker.country_rules.invalidate(tenant)  # else up to tenant_refresh_s later
    text = {"type": "text", "text": {"body": "hi"}}
    uk = await committer.submit(AcceptItem(tenant, {"to": "+447700900001", **text}))
    us = await committer.submit(AcceptItem(tenant, {"to": "+16505550123", **text}))
    repo = MessageRepository(mongo[tenant_db(tenant)])
    done = await wait_for(repo, [uk.id, us.id])
    assert done[us.id].status is Status.SENT
    assert done[uk.id].status is Status.FAILED
    assert done[uk.id].extra["error"]["reason"] == "country_blocked"
    assert await sends_of(sandbox, uk.id) == []


async def test_events_past_retention_are_deleted_and_the_message_keeps_its_state(
    worker: Worker,
    committer: GroupCommitter,
    mongo: AsyncMongoClient[Document],
    tenant: str,
) -> None:
    old, new = await accept_texts(committer, tenant, 2)
    repo = MessageRepository(mongo[tenant_db(tenant)])
    await wait_for(repo, [old, new])
    month_ago = now_ms() - timedelta(days=31)
    await repo.events.update_many({"message_id": old}, {"$set": {"at": month_ago}})
    assert await worker.purge_events() == 2  # its dispatching and sent events
    assert await repo.list_events(old) == []
    assert [e["to"] for e in await repo.list_events(new)] == ["dispatching", "sent"]
    kept = await repo.get(old)
    assert kept is not None
    assert kept.status is Status.SENT
