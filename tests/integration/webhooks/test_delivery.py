"""The delivery worker on the real services: signed, ordered, retried, replayable webhooks to a
loopback receiver, every one checked with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from ccx._native import generate_webhook_secret
from ccx.config import Settings
from ccx.ids import new_message_id
from ccx.queue.hooks import HookNotifier
from ccx.security import DataKeys
from ccx.store.messages import Message, MessageRepository, Status, now_ms
from ccx.store.mongo import Document
from ccx.store.names import tenant_db
from ccx.store.transitions import Transitions
from ccx.store.webhooks import (
    DeliveryRepository,
    DeliveryStatus,
    Endpoint,
    EndpointRepository,
    Stream,
    stream_id,
)
from ccx.webhooks.payload import event_id
from ccx.webhooks.worker import DeliveryWorker
from tests.integration.webhooks.conftest import Hooks, hook_settings
from tests.integration.webhooks.receiver import Receiver, receiving

LIFE = [
    (Status.ACCEPTED, Status.QUEUED, {}),
    (Status.QUEUED, Status.DISPATCHING, {"attempt": 1}),
    (Status.DISPATCHING, Status.SENT, {"wamid": "wamid.T1"}),
    (Status.SENT, Status.DELIVERED, {}),
    (Status.DELIVERED, Status.READ, {}),
]


def endpoints(
    settings: Settings, mongo: AsyncMongoClient[Document], tenant: str
) -> EndpointRepository:
    return EndpointRepository(
        mongo[tenant_db(tenant)], tenant, DataKeys.from_settings(settings.security)
    )


async def new_endpoint(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    url: str,
    events: tuple[str, ...] = (),
) -> Endpoint:
    return await endpoints(settings, mongo, tenant).create(url, generate_webhook_secret(), events)


async def live_message(
    mongo: AsyncMongoClient[Document], tenant: str, steps: int = len(LIFE)
) -> tuple[MessageRepository, str]:
    """A message moved through the first `steps` of LIFE, each a recorded event."""
    repo = MessageRepository(mongo[tenant_db(tenant)])
    message = Message(
        id=new_message_id(),
        to="+5511999998888",
        type="text",
        text={"body": "hi"},
        created_at=now_ms(),
        metadata={"order": 42},
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    )
    await repo.insert_many([message])
    await advance(repo, message.id, LIFE[:steps])
    return repo, message.id


async def advance(
    repo: MessageRepository, message_id: str, steps: list[tuple[Status, Status, dict[str, Any]]]
) -> None:
    moves = Transitions(repo)
    for source, target, fields in steps:
        assert await moves.transition(message_id, [source], target, None, **fields) is not None


async def deliveries_of(
    mongo: AsyncMongoClient[Document], tenant: str, message_id: str
) -> list[Any]:
    return await DeliveryRepository(mongo[tenant_db(tenant)]).of_message(message_id)


async def recorded(
    mongo: AsyncMongoClient[Document], tenant: str, message_id: str, count: int
) -> list[Any]:
    """The message's delivery records once there are `count` of them (within 5 s)."""
    for _ in range(50):
        records = await deliveries_of(mongo, tenant, message_id)
        if len(records) >= count:
            return records
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(records)} delivery records of {message_id}, not {count}")


async def test_a_messages_states_arrive_signed_and_in_order(
    hooks: Hooks,
) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    endpoint = await new_endpoint(settings, mongo, tenant, receiver.url)
    _, message_id = await live_message(mongo, tenant)
    await notifier.changed(tenant, [message_id])
    await notifier.changed(tenant, [message_id])  # a duplicate notice changes nothing

    await receiver.wait(3)
    await asyncio.sleep(0.5)
    events = receiver.verified(endpoint.secrets[0].secret)
    assert [e["type"] for e in events] == ["message.sent", "message.delivered", "message.read"]
    assert [e["data"]["seq"] for e in events] == [4, 5, 6]
    assert [e["data"]["previous_status"] for e in events] == ["dispatching", "sent", "delivered"]
    assert all(e["data"]["metadata"] == {"order": 42} for e in events)
    assert events[0]["data"]["wamid"] == "wamid.T1"
    assert [r.headers["webhook-id"] for r in receiver.received] == [
        event_id(message_id, seq) for seq in (4, 5, 6)
    ]
    assert receiver.received[0].headers["traceparent"].split("-")[1] == (
        "4bf92f3577b34da6a3ce929d0e0e4736"
    )
    records = await deliveries_of(mongo, tenant, message_id)
    assert [(d.seq, d.status, d.attempt_count) for d in records] == [
        (4, DeliveryStatus.DELIVERED, 1),
        (5, DeliveryStatus.DELIVERED, 1),
        (6, DeliveryStatus.DELIVERED, 1),
    ]
    assert records[0].attempts[0]["status_code"] == 200
    assert len(receiver.received) == 3


async def test_an_endpoint_gets_only_the_events_it_subscribes_to(
    hooks: Hooks,
) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    endpoint = await new_endpoint(settings, mongo, tenant, receiver.url, ("message.read",))
    _, message_id = await live_message(mongo, tenant)
    await notifier.changed(tenant, [message_id])
    await receiver.wait(1)
    await asyncio.sleep(0.5)
    assert [e["type"] for e in receiver.verified(endpoint.secrets[0].secret)] == ["message.read"]


async def test_a_failed_event_holds_back_the_next_until_it_is_delivered(
    hooks: Hooks,
) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    endpoint = await new_endpoint(settings, mongo, tenant, receiver.url)
    receiver.script = [(503, {}), (500, {})]
    repo, message_id = await live_message(mongo, tenant, steps=3)  # up to sent
    other_repo, other_id = await live_message(mongo, tenant, steps=3)
    await notifier.changed(tenant, [message_id])
    await receiver.wait(1)
    await advance(repo, message_id, LIFE[3:])  # delivered and read happen meanwhile
    await notifier.changed(tenant, [message_id])
    await notifier.changed(tenant, [other_id])  # another message is not held up
    await receiver.wait(2)
    await asyncio.sleep(1.0)
    assert [r.event["data"]["message_id"] for r in receiver.received] == [message_id, other_id]
    assert receiver.received[1].headers["x-answered"] == "500"  # the other one's turn to fail

    # the first retry comes after 4-5 s, then the rest in order
    await receiver.wait(6, timeout_s=30)
    await asyncio.sleep(1.0)
    mine = [r for r in receiver.received if r.event["data"]["message_id"] == message_id]
    assert [(r.event["type"], r.headers["x-answered"]) for r in mine] == [
        ("message.sent", "503"),
        ("message.sent", "200"),
        ("message.delivered", "200"),
        ("message.read", "200"),
    ]
    receiver.verified(endpoint.secrets[0].secret)
    records = await deliveries_of(mongo, tenant, message_id)
    first = records[0]
    assert (first.status, first.attempt_count) == (DeliveryStatus.DELIVERED, 2)
    assert [a["status_code"] for a in first.attempts] == [503, 200]
    gap = first.attempts[1]["at"] - first.attempts[0]["at"]
    assert timedelta(seconds=3.9) <= gap <= timedelta(seconds=10)
    assert other_repo is not None


async def test_retry_after_is_honoured_and_410_disables_the_endpoint(
    hooks: Hooks,
) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    await new_endpoint(settings, mongo, tenant, receiver.url)
    receiver.script = [(429, {"Retry-After": "20"})]
    _, slow = await live_message(mongo, tenant, steps=3)
    await notifier.changed(tenant, [slow])
    await receiver.wait(1)
    await asyncio.sleep(0.5)
    (record,) = await deliveries_of(mongo, tenant, slow)
    assert record.status is DeliveryStatus.PENDING
    assert record.next_at is not None
    waits = (record.next_at - record.attempts[0]["at"]).total_seconds()
    assert 20 <= waits <= 30  # Retry-After 20 s → the 30 s wait queue, jittered, never sooner

    receiver.script = [(410, {})]
    _, gone = await live_message(mongo, tenant, steps=4)
    await notifier.changed(tenant, [gone])
    await receiver.wait(2)
    await asyncio.sleep(0.5)
    (stored,) = await endpoints(settings, mongo, tenant).list()
    assert not stored.enabled
    assert stored.disabled_reason is not None
    count = len(receiver.received)
    await notifier.changed(tenant, [gone])
    await asyncio.sleep(1.0)
    assert len(receiver.received) == count  # nothing more to a disabled endpoint

    # re-enabled (the API sends this notice for messages with a pending delivery): the held
    # events go out in order, without waiting for the endpoint cache to expire
    await endpoints(settings, mongo, tenant).update(stored.id, enabled=True)
    await notifier.resume(tenant, stored.id, [gone])
    await receiver.wait(count + 2)
    await asyncio.sleep(0.5)
    resumed = [r.event["type"] for r in receiver.received[count:]]
    assert resumed == ["message.sent", "message.delivered"]


@pytest.mark.parametrize("delivery_settings", [{"retry_for_s": 1.0}], indirect=True)
async def test_a_delivery_out_of_time_fails_and_the_next_event_goes_on(
    hooks: Hooks,
) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    await new_endpoint(settings, mongo, tenant, receiver.url)
    receiver.script = [(500, {})]
    _, message_id = await live_message(mongo, tenant, steps=4)
    await notifier.changed(tenant, [message_id])
    await receiver.wait(2)
    await asyncio.sleep(0.5)
    records = await deliveries_of(mongo, tenant, message_id)
    assert [(d.type, d.status) for d in records] == [
        ("message.sent", DeliveryStatus.FAILED),
        ("message.delivered", DeliveryStatus.DELIVERED),
    ]


async def test_during_a_rotation_both_secrets_sign(
    hooks: Hooks,
) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    repo = endpoints(settings, mongo, tenant)
    endpoint = await repo.create(receiver.url, generate_webhook_secret())
    old = endpoint.secrets[0].secret
    rotated = await repo.rotate(endpoint.id, generate_webhook_secret(), overlap_s=3600)
    assert rotated is not None
    new = rotated.secrets[0].secret
    _, message_id = await live_message(mongo, tenant, steps=3)
    await notifier.changed(tenant, [message_id])
    await receiver.wait(1)
    assert receiver.verified(old)[0]["type"] == "message.sent"
    assert receiver.verified(new)[0]["type"] == "message.sent"
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2

    ended = await repo.rotate(endpoint.id, generate_webhook_secret(), overlap_s=0)
    assert ended is not None
    assert len(ended.secrets) == 1


async def test_a_replay_sends_the_same_event_again(
    hooks: Hooks,
) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    endpoint = await new_endpoint(settings, mongo, tenant, receiver.url)
    _, message_id = await live_message(mongo, tenant, steps=3)
    await notifier.changed(tenant, [message_id])
    await receiver.wait(1)
    (record,) = await recorded(mongo, tenant, message_id, 1)  # written right after the POST
    await notifier.replay(tenant, [record.id])
    await receiver.wait(2)
    first, again = receiver.received
    assert first.body == again.body
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert len(receiver.verified(endpoint.secrets[0].secret)) == 2
    await asyncio.sleep(0.5)
    (replayed,) = await deliveries_of(mongo, tenant, message_id)
    assert (replayed.status, replayed.attempt_count) == (DeliveryStatus.DELIVERED, 2)


async def test_a_private_destination_is_refused_without_the_allow_list(
    notifier: HookNotifier,
    receiver: Receiver,
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    redis: Any,
    rabbit: Any,
    tenant: str,
) -> None:
    strict = hook_settings(settings, allow_networks="")
    worker = DeliveryWorker(strict, mongo, redis)
    await worker.start(rabbit)
    try:
        await new_endpoint(settings, mongo, tenant, receiver.url)
        named = receiver.url.replace("127.0.0.1", "localhost")
        await new_endpoint(settings, mongo, tenant, named)  # refused at connect time
        _, message_id = await live_message(mongo, tenant, steps=3)
        await notifier.changed(tenant, [message_id])
        for _ in range(50):
            records = await deliveries_of(mongo, tenant, message_id)
            if len(records) == 2 and all(r.status is DeliveryStatus.FAILED for r in records):
                break
            await asyncio.sleep(0.2)
        assert [r.status for r in records] == [DeliveryStatus.FAILED] * 2
        assert all("blocked" in (r.attempts[0]["error"] or "") for r in records)
        assert receiver.received == []
    finally:
        await worker.close()


async def test_a_redirect_is_not_followed(
    hooks: Hooks,
) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    await new_endpoint(settings, mongo, tenant, receiver.url)
    receiver.script = [(307, {"Location": "http://169.254.169.254/latest/meta-data/"})]
    _, message_id = await live_message(mongo, tenant, steps=3)
    await notifier.changed(tenant, [message_id])
    await receiver.wait(1)
    await asyncio.sleep(0.5)
    (record,) = await deliveries_of(mongo, tenant, message_id)
    assert record.status is DeliveryStatus.PENDING
    assert record.attempts[0]["status_code"] == 307
    assert len(receiver.received) == 1


async def test_an_endpoint_down_then_up_gets_everything_in_order_per_message(
    deliverer: DeliveryWorker,
    notifier: HookNotifier,
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    tenant: str,
) -> None:
    # nothing listens on the port at first: connections are refused
    async with receiving() as probe:
        url = probe.url
    await new_endpoint(settings, mongo, tenant, url)
    messages = [(await live_message(mongo, tenant))[1] for _ in range(3)]
    await notifier.changed(tenant, messages)
    await asyncio.sleep(1.0)
    records = [r for m in messages for r in await deliveries_of(mongo, tenant, m)]
    assert [r.status for r in records] == [DeliveryStatus.PENDING] * 3  # one per message
    assert all(r.attempts[0]["status_code"] is None for r in records)

    port = int(url.rsplit(":", 1)[1].split("/")[0])
    async with receiving(port=port) as receiver:
        await receiver.wait(9, timeout_s=30)
        await asyncio.sleep(1.0)
        assert len(receiver.received) == 9
        for message_id in messages:
            mine = [
                r.event for r in receiver.received if r.event["data"]["message_id"] == message_id
            ]
            assert [e["type"] for e in mine] == [
                "message.sent",
                "message.delivered",
                "message.read",
            ]


async def test_delivery_records_past_retention_are_deleted(
    deliverer: DeliveryWorker,
    mongo: AsyncMongoClient[Document],
    tenant: str,
) -> None:
    deliveries = DeliveryRepository(mongo[tenant_db(tenant)])
    old = await deliveries.open("ep_OLD", "msg_01OLD", 4, "evt_OLD_4", "message.sent", b"{}")
    new = await deliveries.open("ep_NEW", "msg_01NEW", 4, "evt_NEW_4", "message.sent", b"{}")
    await deliveries.deliveries.update_one(
        {"_id": old.id}, {"$set": {"at": now_ms() - timedelta(days=31)}}
    )
    await deliveries.save_stream("msg_01OLD", "ep_OLD", Stream(4))
    await deliveries.save_stream("msg_01NEW", "ep_NEW", Stream(4))
    await deliveries.streams.update_one(
        {"_id": stream_id("msg_01OLD", "ep_OLD")},
        {"$set": {"updated_at": now_ms() - timedelta(days=31)}},
    )
    assert await deliverer.purge() >= 1
    assert await deliveries.get(old.id) is None
    assert await deliveries.get(new.id) is not None
    assert await deliveries.stream("msg_01OLD", "ep_OLD") == Stream()  # gone
    assert await deliveries.stream("msg_01NEW", "ep_NEW") == Stream(4)


async def test_events_past_retention_are_not_sent_again_when_their_stream_is_gone(
    hooks: Hooks,
) -> None:
    """A message quiet for longer than the retention lost its stream with its records; a
    late event (a `read` weeks later) is delivered alone, not after the message's past."""
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    endpoint = await new_endpoint(settings, mongo, tenant, receiver.url)
    await endpoints(settings, mongo, tenant).collection.update_one(
        {"_id": endpoint.id}, {"$set": {"created_at": now_ms() - timedelta(days=40)}}
    )
    repo, message_id = await live_message(mongo, tenant, steps=4)  # sent and delivered
    await repo.events.update_many(
        {"message_id": message_id}, {"$set": {"at": now_ms() - timedelta(days=31)}}
    )
    await advance(repo, message_id, LIFE[4:])  # read, now
    await notifier.changed(tenant, [message_id])
    await receiver.wait(1)
    await asyncio.sleep(0.5)
    assert [r.event["type"] for r in receiver.received] == ["message.read"]


async def test_a_new_endpoint_hears_only_what_happens_after_it_exists(hooks: Hooks) -> None:
    settings, mongo, tenant, notifier, receiver = hooks.parts()
    repo, message_id = await live_message(mongo, tenant, steps=4)  # sent and delivered before
    await asyncio.sleep(0.01)
    await new_endpoint(settings, mongo, tenant, receiver.url)
    await advance(repo, message_id, LIFE[4:])  # read after
    await notifier.changed(tenant, [message_id])
    await receiver.wait(1)
    await asyncio.sleep(0.5)
    assert [r.event["type"] for r in receiver.received] == ["message.read"]
