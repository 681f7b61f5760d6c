"""/v1/webhook-endpoints, /v1/webhook-deliveries and the replays on the real services:
endpoints made, read, changed, rotated and deleted; delivery records listed, filtered and
read; replays land on `ccx.hooks` as notices for the delivery worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import orjson
import pytest_asyncio
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from ccx.ids import new_message_id
from ccx.queue.names import HOOKS_ROUTING_KEY, WORK_EXCHANGE
from ccx.queue.topology import declare_shared
from ccx.store.messages import now_ms
from ccx.store.names import WEBHOOK_DELIVERIES
from ccx.store.webhooks import Attempt, Delivery, DeliveryRepository, DeliveryStatus
from tests.integration.api.conftest import Client

HOOK = "https://hooks.example.invalid/ccx"  # never resolves: nothing is POSTed
OTP = {
    "to": "+5511999998888",
    "type": "template",
    "template": {
        "name": "otp_code",
        "language": "en_US",
        "variables": {"body": ["123456"], "buttons": ["123456"]},
    },
}


async def new_endpoint(client: Client, **fields: Any) -> dict[str, Any]:
    reply = await client.post("/v1/webhook-endpoints", {"url": HOOK, **fields})
    assert reply.status == 201, reply.json()
    body: dict[str, Any] = reply.json()
    return body


def repository(client: Client) -> DeliveryRepository:
    return DeliveryRepository(client.app.services.database(client.tenant))


async def open_delivery(client: Client, endpoint_id: str, message_id: str, seq: int) -> Delivery:
    body = orjson.dumps({"type": "message.sent", "id": f"evt_{seq}", "data": {"seq": seq}})
    return await repository(client).open(
        endpoint_id, message_id, seq, f"evt_{message_id[4:]}_{seq}", "message.sent", body
    )


@pytest_asyncio.fixture
async def notices(rabbit: AbstractRobustConnection) -> AsyncIterator[AbstractQueue]:
    """A private copy of every notice published to `ccx.hooks` (a delivery worker of another
    test run may be consuming that queue itself)."""
    await declare_shared(rabbit)
    channel = await rabbit.channel()
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(WORK_EXCHANGE, routing_key=HOOKS_ROUTING_KEY)
    yield queue
    await channel.close()


async def notices_of(
    queue: AbstractQueue, tenant: str, kind: str, seconds: float = 3.0
) -> list[dict[str, Any]]:
    """Each notice of `kind` for `tenant` that reached `queue` so far (waiting up to
    `seconds` for the first)."""
    found: list[dict[str, Any]] = []
    for _ in range(int(seconds / 0.05)):
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            if found:
                break
            await asyncio.sleep(0.05)
            continue
        notice = orjson.loads(message.body)
        if notice["tenant"] == tenant and notice["kind"] == kind:
            found.append(notice)
    return found


async def replay_notices(queue: AbstractQueue, tenant: str, seconds: float = 3.0) -> list[Any]:
    """The delivery ids of each replay notice for `tenant` that reached `queue` so far."""
    return [n["deliveries"] for n in await notices_of(queue, tenant, "replay", seconds)]


async def test_endpoint_lifecycle(client: Client) -> None:
    created = await client.post(
        "/v1/webhook-endpoints",
        {"url": HOOK, "events": ["message.delivered", "message.failed"], "description": "ops"},
    )
    assert created.status == 201, created.json()
    endpoint = created.json()
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    assert endpoint["id"].startswith("ep_")
    assert created.headers["location"] == f"/v1/webhook-endpoints/{endpoint['id']}"
    assert endpoint["events"] == ["message.delivered", "message.failed"]
    assert (endpoint["description"], endpoint["enabled"]) == ("ops", True)
    assert endpoint["disabled_reason"] is None
    assert [s["expires_at"] for s in endpoint["secrets"]] == [None]
    path = f"/v1/webhook-endpoints/{endpoint['id']}"

    one = await client.get(path)
    assert one.status == 200
    assert "secret" not in one.json()
    assert secret.encode() not in one.body
    listed = await client.get("/v1/webhook-endpoints")
    assert [e["id"] for e in listed.json()["data"]] == [endpoint["id"]]
    assert secret.encode() not in listed.body
    assert (await client.get(path + "/secret")).json() == {"secret": secret}

    patched = await client.request(
        "PATCH", path, {"events": [], "description": "", "enabled": False}
    )
    assert patched.status == 200, patched.json()
    assert (patched.json()["events"], patched.json()["description"]) == ([], None)
    assert patched.json()["enabled"] is False
    moved = await client.request("PATCH", path, {"url": "https://other.example.invalid/h"})
    assert moved.json()["url"] == "https://other.example.invalid/h"

    rotated = await client.post(path + "/rotate-secret", {"overlap_s": 3600})
    assert rotated.status == 200, rotated.json()
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != secret
    assert [s["expires_at"] is None for s in rotated.json()["secrets"]] == [True, False]
    assert (await client.get(path + "/secret")).json() == {"secret": new_secret}
    default = await client.post(path + "/rotate-secret")
    assert default.status == 200
    assert len(default.json()["secrets"]) == 2  # the previous one overlaps (default 24 h)
    at_once = await client.post(path + "/rotate-secret", {"overlap_s": 0})
    assert len(at_once.json()["secrets"]) == 1

    assert (await client.request("DELETE", path)).status == 204
    assert (await client.get(path)).status == 404
    assert (await client.request("DELETE", path)).status == 404
    assert (await client.post(path + "/rotate-secret")).status == 404


async def test_bad_endpoints_are_refused_with_the_field(client: Client) -> None:
    async def refused(body: Any, path: str = "/v1/webhook-endpoints", method: str = "POST") -> str:
        reply = await client.request(method, path, body)
        assert reply.status == 422, reply.json()
        where: str = reply.json()["errors"][0]["path"]
        return where

    assert await refused({"url": "http://127.0.0.1:9000/hook"}) == "/url"
    assert await refused({"url": "http://10.1.2.3/hook"}) == "/url"
    assert await refused({"url": "http://[::1]/hook"}) == "/url"
    assert await refused({"url": "https://"}) == "/url"
    assert await refused({"url": "ftp://example.com/"}) == "/url"
    assert await refused({"url": HOOK, "events": ["message.sent", "message.bogus"]}) == "/events/1"
    assert await refused({"url": HOOK, "events": ["message.sent", "message.sent"]}) == "/events"
    assert await refused({"url": HOOK, "description": "x" * 257}) == "/description"
    assert await refused({"events": []}) == ""
    blocked = await client.post("/v1/webhook-endpoints", {"url": "http://192.168.1.10/"})
    assert "private" in blocked.json()["errors"][0]["message"]

    endpoint = await new_endpoint(client)
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    assert await refused({}, path, "PATCH") == ""
    assert await refused({"url": "http://169.254.169.254/latest"}, path, "PATCH") == "/url"
    assert await refused({"secret": "whsec_x"}, path, "PATCH") == ""
    rotate = path + "/rotate-secret"
    assert await refused({"overlap_s": 604801}, rotate) == "/overlap_s"
    assert await refused({"overlap_s": -1}, rotate) == "/overlap_s"
    assert (await client.get(path)).json()["url"] == HOOK


async def test_unknown_and_other_tenants_endpoints_are_404(
    client: Client, other_tenant: str
) -> None:
    endpoint = await new_endpoint(client)
    other = client.token_for("webhooks:read webhooks:write", other_tenant)
    for path in (
        f"/v1/webhook-endpoints/{endpoint['id']}",
        "/v1/webhook-endpoints/ep_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "/v1/webhook-endpoints/nonsense",
    ):
        assert (await client.get(path, token=other)).status == 404
        assert (await client.get(path + "/secret", token=other)).status == 404
        assert (await client.request("PATCH", path, {"enabled": False}, token=other)).status == 404
        assert (await client.request("DELETE", path, token=other)).status == 404
    assert (await client.get("/v1/webhook-endpoints", token=other)).json() == {"data": []}
    assert (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()["enabled"]


async def test_reading_needs_webhooks_read_and_writing_webhooks_write(client: Client) -> None:
    endpoint = await new_endpoint(client)
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    reader = client.token_for("webhooks:read")
    assert (await client.get(path, token=reader)).status == 200
    assert (await client.get("/v1/webhook-deliveries", token=reader)).status == 200
    assert (await client.get(path + "/secret", token=reader)).status == 403
    assert (await client.post("/v1/webhook-endpoints", {"url": HOOK}, token=reader)).status == 403
    writer = client.token_for("webhooks:write")
    assert (await client.get(path, token=writer)).status == 403
    assert (await client.get(path + "/secret", token=writer)).status == 200
    messages = client.token_for("messages:read messages:write")
    assert (await client.get("/v1/webhook-endpoints", token=messages)).status == 403


async def test_deliveries_are_listed_filtered_and_read(client: Client) -> None:
    first, second = (await new_endpoint(client))["id"], (await new_endpoint(client))["id"]
    older, newer = new_message_id(), new_message_id()
    made = [
        await open_delivery(client, first, older, 1),
        await open_delivery(client, second, older, 1),
        await open_delivery(client, first, older, 2),
        await open_delivery(client, first, newer, 1),
    ]
    attempt = Attempt(now_ms(), 200, 12.5, None, "thanks")
    await repository(client).record(made[0], attempt, DeliveryStatus.DELIVERED, None)
    failing = Attempt(now_ms(), 500, 40.0, "HTTP 500", "oops")
    await repository(client).record(made[1], failing, DeliveryStatus.PENDING, now_ms())

    everything = await client.get("/v1/webhook-deliveries")
    assert everything.status == 200, everything.json()
    ids = [d["id"] for d in everything.json()["data"]]
    assert ids == sorted((d.id for d in made), reverse=True)
    assert ids[0] == made[3].id  # the newer message first
    assert everything.json()["next_before"] is None
    listed = {d["id"]: d for d in everything.json()["data"]}
    (tried,) = listed[made[1].id]["attempts"]
    assert (tried["status_code"], tried["latency_ms"], tried["error"]) == (500, 40.0, "HTTP 500")
    assert "body" not in tried  # response bodies only on a single delivery

    async def ids_for(**query: str) -> list[str]:
        reply = await client.get("/v1/webhook-deliveries", query=query)
        assert reply.status == 200, reply.json()
        return [d["id"] for d in reply.json()["data"]]

    assert set(await ids_for(message_id=older)) == {d.id for d in made[:3]}
    assert set(await ids_for(endpoint_id=second)) == {made[1].id}
    assert await ids_for(status="delivered") == [made[0].id]
    assert set(await ids_for(status="pending")) == {d.id for d in made[1:]}
    assert await ids_for(status="failed") == []
    assert await ids_for(message_id=older, endpoint_id=first, status="pending") == [made[2].id]
    hour = timedelta(hours=1)
    assert len(await ids_for(**{"from": (now_ms() - hour).isoformat()})) == 4
    assert await ids_for(to=(now_ms() - hour).isoformat()) == []

    page = await client.get("/v1/webhook-deliveries", query={"limit": "3"})
    assert [d["id"] for d in page.json()["data"]] == ids[:3]
    assert page.json()["next_before"] == ids[2]
    rest = await ids_for(limit="3", before=ids[2])
    assert rest == ids[3:]

    one = await client.get(f"/v1/webhook-deliveries/{made[0].id}")
    assert one.status == 200
    view = one.json()
    assert (view["status"], view["attempt_count"], view["seq"]) == ("delivered", 1, 1)
    assert (view["endpoint_id"], view["message_id"]) == (first, older)
    assert view["delivered_at"] is not None
    assert view["payload"] == {"type": "message.sent", "id": "evt_1", "data": {"seq": 1}}
    assert view["attempts"][0]["body"] == "thanks"
    assert view["attempts"][0]["status_code"] == 200


async def test_bad_delivery_queries_are_422_and_unknown_ids_404(client: Client) -> None:
    for query, where in (
        ({"stauts": "failed"}, "?stauts"),
        ({"status": "lost"}, "?status"),
        ({"message_id": "12"}, "?message_id"),
        ({"endpoint_id": "ep_x"}, "?endpoint_id"),
        ({"before": "whd_"}, "?before"),
        ({"limit": "0"}, "?limit"),
        ({"from": "yesterday"}, "?from"),
    ):
        reply = await client.get("/v1/webhook-deliveries", query=query)
        assert reply.status == 422, (query, reply.json())
        assert reply.json()["errors"][0]["path"] == where
    unknown = f"whd_{new_message_id()[4:]}_1_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert (await client.get(f"/v1/webhook-deliveries/{unknown}")).status == 404
    assert (await client.get("/v1/webhook-deliveries/whd_nope")).status == 404
    assert (await client.post(f"/v1/webhook-deliveries/{unknown}/replay")).status == 404


async def test_replay_of_a_delivery_queues_a_notice(client: Client, notices: AbstractQueue) -> None:
    endpoint = (await new_endpoint(client))["id"]
    delivery = await open_delivery(client, endpoint, new_message_id(), 1)
    reply = await client.post(f"/v1/webhook-deliveries/{delivery.id}/replay")
    assert reply.status == 202, reply.json()
    assert reply.json() == {"id": delivery.id, "status": "replay_queued"}
    assert await replay_notices(notices, client.tenant) == [[delivery.id]]

    disabled = await client.request(
        "PATCH", f"/v1/webhook-endpoints/{endpoint}", {"enabled": False}
    )
    assert disabled.status == 200
    refused = await client.post(f"/v1/webhook-deliveries/{delivery.id}/replay")
    assert refused.status == 409
    assert "disabled" in refused.json()["detail"]
    await client.request("PATCH", f"/v1/webhook-endpoints/{endpoint}", {"enabled": True})

    deliveries = client.app.services.database(client.tenant)[WEBHOOK_DELIVERIES]
    await deliveries.update_one(
        {"_id": delivery.id}, {"$set": {"at": now_ms() - timedelta(days=31)}}
    )
    old = await client.post(f"/v1/webhook-deliveries/{delivery.id}/replay")
    assert old.status == 404
    assert "30 days" in old.json()["detail"]
    assert (await client.get(f"/v1/webhook-deliveries/{delivery.id}")).status == 200
    assert await replay_notices(notices, client.tenant, seconds=0.5) == []


async def test_replay_of_a_message_queues_its_deliveries(
    client: Client, other_tenant: str, notices: AbstractQueue
) -> None:
    accepted = await client.post("/v1/messages", OTP)
    assert accepted.status == 202, accepted.json()
    message_id = accepted.json()["id"]
    path = f"/v1/messages/{message_id}/replay-webhooks"

    empty = await client.post(path)
    assert empty.status == 202, empty.json()
    assert empty.json() == {"message_id": message_id, "deliveries": []}

    first, second = (await new_endpoint(client))["id"], (await new_endpoint(client))["id"]
    made = [
        await open_delivery(client, first, message_id, 1),
        await open_delivery(client, second, message_id, 1),
        await open_delivery(client, first, message_id, 2),
    ]
    await open_delivery(client, first, new_message_id(), 1)  # another message's
    every = await client.post(path)
    assert every.status == 202, every.json()
    assert sorted(every.json()["deliveries"]) == sorted(d.id for d in made)
    assert [sorted(ids) for ids in await replay_notices(notices, client.tenant)] == [
        sorted(d.id for d in made)
    ]

    only = await client.post(path, {"endpoint_id": second})
    assert only.json()["deliveries"] == [made[1].id]
    assert await replay_notices(notices, client.tenant) == [[made[1].id]]

    unknown_endpoint = await client.post(path, {"endpoint_id": "ep_01ARZ3NDEKTSV4RRFFQ69G5FAV"})
    assert unknown_endpoint.status == 404
    bad_body = await client.post(path, {"endpoint_id": "nope"})
    assert (bad_body.status, bad_body.json()["errors"][0]["path"]) == (422, "/endpoint_id")

    missing = f"/v1/messages/{new_message_id()}/replay-webhooks"
    assert (await client.post(missing)).status == 404
    assert (await client.post("/v1/messages/garbage/replay-webhooks")).status == 404
    other = client.token_for("webhooks:write", other_tenant)
    foreign = await client.post(path, token=other)
    assert foreign.status == 404
    assert foreign.json()["detail"] == f"No message {message_id!r}."


async def test_re_enabling_an_endpoint_resumes_its_pending_messages(
    client: Client, notices: AbstractQueue
) -> None:
    endpoint = (await new_endpoint(client))["id"]
    waiting, done = new_message_id(), new_message_id()
    await open_delivery(client, endpoint, waiting, 4)  # pending
    finished = await open_delivery(client, endpoint, done, 4)
    await repository(client).deliveries.update_one(
        {"_id": finished.id}, {"$set": {"status": "delivered"}}
    )
    off = await client.request("PATCH", f"/v1/webhook-endpoints/{endpoint}", {"enabled": False})
    assert off.status == 200
    on = await client.request("PATCH", f"/v1/webhook-endpoints/{endpoint}", {"enabled": True})
    assert on.status == 200
    resumed = await notices_of(notices, client.tenant, "resume")
    assert [(n["endpoint"], n["messages"]) for n in resumed] == [(endpoint, [waiting])]
