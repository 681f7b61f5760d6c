"""POST/GET /v1/messages and friends on the real services (FerretDB, Redis, RabbitMQ)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from ccx.queue.names import tier_queue
from ccx.store.mongo import Document
from ccx.store.names import MESSAGES, tenant_db
from tests.integration.api.conftest import SENDER, Client

TEXT = {"to": "+5511999998888", "type": "text", "text": {"body": "hello"}}
OTP = {
    "to": "+5511999998888",
    "type": "template",
    "template": {
        "name": "otp_code",
        "language": "en_US",
        "variables": {"body": ["123456"], "buttons": ["123456"]},
    },
}


async def queued_envelopes(rabbit: AbstractRobustConnection, queue_name: str) -> list[Any]:
    channel = await rabbit.channel()
    queue = await channel.get_queue(queue_name, ensure=False)
    found = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        data = orjson.loads(message.body)
        found += [{**data, "message_id": m["id"]} for m in data["messages"]]
    await channel.close()
    return found


async def test_post_message_is_durable_and_queued(
    client: Client, mongo: AsyncMongoClient[Document], rabbit: AbstractRobustConnection
) -> None:
    reply = await client.post(
        "/v1/messages", TEXT, headers={"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"}
    )
    assert reply.status == 202, reply.json()
    body = reply.json()
    assert body["id"].startswith("msg_")
    assert body["status"] == "accepted"
    assert reply.headers["location"] == f"/v1/messages/{body['id']}"
    assert "idempotent-replayed" not in reply.headers
    doc = await mongo[tenant_db(client.tenant)][MESSAGES].find_one({"_id": body["id"]})
    assert doc is not None
    assert doc["to"] == TEXT["to"]
    assert doc["from"] == SENDER
    assert doc["trace_id"] == "ab" * 16
    await client.app.services.committer.settle()  # type: ignore[union-attr]
    envelopes = await queued_envelopes(rabbit, tier_queue(client.tenant, "default"))
    assert [e["message_id"] for e in envelopes] == [body["id"]]
    assert "to" not in envelopes[0]  # ids and routing only, no PII
    assert envelopes[0]["messages"][0]["traceparent"].split("-")[1] == "ab" * 16

    read = await client.get(f"/v1/messages/{body['id']}")
    assert read.status == 200
    view = read.json()
    assert view["status"] == "queued"
    assert view["from"] == SENDER
    assert [(e["seq"], e["to"]) for e in view["events"]] == [(1, "accepted"), (2, "queued")]


async def test_priority_follows_template_category_unless_set(
    client: Client, rabbit: AbstractRobustConnection
) -> None:
    otp = await client.post("/v1/messages", OTP)
    promo = await client.post(
        "/v1/messages",
        {
            "to": "+5511999998888",
            "type": "template",
            "template": {
                "name": "promo",
                "language": "en_US",
                "variables": {"body": ["Ann", "20%"]},
            },
        },
    )
    forced = await client.post("/v1/messages", {**OTP, "priority": "high"})
    assert {otp.status, promo.status, forced.status} == {202}, (otp.json(), promo.json())
    await client.app.services.committer.settle()  # type: ignore[union-attr]
    for tier, reply in (("critical", otp), ("low", promo), ("high", forced)):
        envelopes = await queued_envelopes(rabbit, tier_queue(client.tenant, tier))
        assert [e["message_id"] for e in envelopes] == [reply.json()["id"]], tier


async def test_template_checks_refuse_before_anything_is_queued(
    client: Client, mongo: AsyncMongoClient[Document]
) -> None:
    unknown = await client.post(
        "/v1/messages", {**OTP, "template": {**OTP["template"], "name": "nope"}}
    )
    assert unknown.status == 422
    assert unknown.json()["errors"][0]["path"] == "/template/name"
    wrong_vars = await client.post(
        "/v1/messages",
        {**OTP, "template": {**OTP["template"], "variables": {"body": []}}},
    )
    assert wrong_vars.status == 422
    paths = {e["path"] for e in wrong_vars.json()["errors"]}
    assert paths == {"/template/variables/body/0", "/template/variables/buttons/0"}
    pending = {**(await client.get("/v1/templates/promo/en_US")).json()["definition"]}
    reply = await client.post("/v1/templates", {**pending, "status": "PAUSED"})
    assert reply.status == 200
    assert reply.json()["status"] == "PAUSED"
    paused = await client.post(
        "/v1/messages",
        {
            "to": "+5511999998888",
            "type": "template",
            "template": {"name": "promo", "language": "en_US", "variables": {"body": ["a", "b"]}},
        },
    )
    assert paused.status == 422
    assert "PAUSED" in paused.json()["errors"][0]["message"]
    unknown_sender = await client.post("/v1/messages", {**TEXT, "from": "999"})
    assert unknown_sender.status == 422
    assert unknown_sender.json()["errors"][0]["path"] == "/from"
    assert await mongo[tenant_db(client.tenant)][MESSAGES].count_documents({}) == 0


async def test_bad_input_is_a_problem_with_paths(client: Client) -> None:
    bad_json = await client.post("/v1/messages", body=b'{"to": ')
    assert bad_json.status == 400
    assert bad_json.headers["content-type"] == "application/problem+json"
    invalid = await client.post("/v1/messages", {"to": "12", "type": "fax", "extra": 1})
    assert invalid.status == 422
    paths = {e["path"] for e in invalid.json()["errors"]}
    assert {"/to", "/type"} <= paths
    big = await client.post("/v1/messages", {**TEXT, "metadata": {"blob": "x" * 5000}})
    assert big.status == 422
    assert big.json()["errors"][0]["path"] == "/metadata"
    empty = await client.post("/v1/messages", body=b"")
    assert empty.status == 400
    key = await client.post("/v1/messages", TEXT, headers={"idempotency-key": ""})
    assert key.status == 400


async def test_auth_failures(client: Client) -> None:
    missing = await client.post("/v1/messages", TEXT, token=None)
    assert missing.status == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    garbage = await client.post("/v1/messages", TEXT, token="a.b.c")
    assert garbage.status == 401
    assert garbage.json()["code"] == "malformed_token"
    read_only = await client.post("/v1/messages", TEXT, token=client.token_for("messages:read"))
    assert read_only.status == 403
    assert read_only.json()["code"] == "missing_scope"
    ghost = client.token_for("messages:write", tenant="no-such-tenant")
    assert (await client.post("/v1/messages", TEXT, token=ghost)).status == 403


async def test_idempotency_replay_conflict_and_redis_flush(
    client: Client, redis: Redis, mongo: AsyncMongoClient[Document]
) -> None:
    headers = {"idempotency-key": "order-42"}
    first = await client.post("/v1/messages", TEXT, headers=headers)
    again = await client.post("/v1/messages", TEXT, headers=headers)
    assert first.status == again.status == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/messages", {**TEXT, "to": "+5511888887777"}, headers=headers)
    assert other.status == 409
    assert other.json()["type"].endswith("idempotency-conflict")
    in_body = await client.post("/v1/messages", {**TEXT, "idempotency_key": "order-42"})
    assert in_body.json()["id"] == first.json()["id"]  # the field is the same key
    await redis.delete(f"ccx:idem:{client.tenant}:order-42")  # Redis lost it: Mongo decides
    after_flush = await client.post("/v1/messages", TEXT, headers=headers)
    assert after_flush.status == 202
    assert after_flush.json()["id"] == first.json()["id"]
    assert after_flush.headers["idempotent-replayed"] == "true"
    count = await mongo[tenant_db(client.tenant)][MESSAGES].count_documents({})
    assert count == 1


async def test_fifty_concurrent_requests_with_one_key_make_one_message(
    client: Client, mongo: AsyncMongoClient[Document]
) -> None:
    replies = await asyncio.gather(
        *(client.post("/v1/messages", TEXT, headers={"idempotency-key": "race"}) for _ in range(50))
    )
    assert {r.status for r in replies} == {202}
    assert len({r.json()["id"] for r in replies}) == 1
    assert sum(1 for r in replies if "idempotent-replayed" not in r.headers) == 1
    assert await mongo[tenant_db(client.tenant)][MESSAGES].count_documents({}) == 1


async def test_other_tenants_message_is_404_like_a_missing_one(client: Client, tenant: str) -> None:
    created = (await client.post("/v1/messages", TEXT)).json()["id"]
    from ccx.ids import new_message_id

    never = new_message_id()
    stranger = client.token_for("messages:read", tenant="ccx-test-stranger")
    # The stranger tenant does not exist: create it through the registry for this check.
    await client.app.services.tenants.create("ccx-test-stranger")
    theirs = await client.get(f"/v1/messages/{created}", token=stranger)
    missing = await client.get(f"/v1/messages/{never}", token=stranger)
    assert theirs.status == missing.status == 404
    assert orjson.loads(theirs.body.replace(created.encode(), b"X")) == orjson.loads(
        missing.body.replace(never.encode(), b"X")
    )
    assert (await client.get("/v1/messages/not-an-id")).status == 404
    await client.app.services.mongo.drop_database(tenant_db("ccx-test-stranger"))


async def test_list_filters_and_cursor_pagination(client: Client) -> None:
    ids = []
    for i in range(5):
        reply = await client.post("/v1/messages", {**TEXT, "metadata": {"i": i}})
        ids.append(reply.json()["id"])
    await client.app.services.committer.settle()  # type: ignore[union-attr]
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/messages", query=query)).json()
        seen += [m["id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    queued = (await client.get("/v1/messages", query={"status": "queued"})).json()["data"]
    assert len(queued) == 5
    assert (await client.get("/v1/messages", query={"status": "sent"})).json()["data"] == []
    bad = await client.get("/v1/messages", query={"status": "nope", "limit": "0"})
    assert bad.status == 422
    bad_cursor = await client.get("/v1/messages", query={"cursor": "abc"})
    assert bad_cursor.status == 422
    assert bad_cursor.json()["errors"][0]["path"] == "?cursor"
    future = await client.get("/v1/messages", query={"from": "2999-01-01T00:00:00Z"})
    assert future.json()["data"] == []


async def test_cancel_only_before_dispatch(
    client: Client, mongo: AsyncMongoClient[Document]
) -> None:
    message_id = (await client.post("/v1/messages", TEXT)).json()["id"]
    await client.app.services.committer.settle()  # type: ignore[union-attr]
    cancelled = await client.post(f"/v1/messages/{message_id}/cancel")
    assert cancelled.status == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/v1/messages/{message_id}/cancel")
    assert again.status == 200
    events = (await client.get(f"/v1/messages/{message_id}")).json()["events"]
    assert [(e["seq"], e["from"], e["to"]) for e in events][-1] == (3, "queued", "cancelled")

    sent_id = (await client.post("/v1/messages", TEXT)).json()["id"]
    await client.app.services.committer.settle()  # type: ignore[union-attr]
    await mongo[tenant_db(client.tenant)][MESSAGES].update_one(
        {"_id": sent_id}, {"$set": {"status": "sent"}}
    )
    refused = await client.post(f"/v1/messages/{sent_id}/cancel")
    assert refused.status == 409
    assert refused.json()["status"] == "sent"
    from ccx.ids import new_message_id

    assert (await client.post(f"/v1/messages/{new_message_id()}/cancel")).status == 404


async def test_batch_has_per_item_results(
    client: Client, mongo: AsyncMongoClient[Document]
) -> None:
    items = [
        TEXT,
        {**TEXT, "to": "bad"},
        OTP,
        {**OTP, "template": {**OTP["template"], "name": "x"}},
    ]
    reply = await client.post(
        "/v1/messages/batch", {"messages": items}, headers={"idempotency-key": "b1"}
    )
    assert reply.status == 207
    body = reply.json()
    assert body["accepted"] == 2, body
    assert body["rejected"] == 2
    statuses = [r["http_status"] for r in body["results"]]
    assert statuses == [202, 422, 202, 422]
    assert body["results"][1]["errors"][0]["path"] == "/messages/1/to"
    assert body["results"][3]["errors"][0]["path"] == "/messages/3/template/name"
    again = (
        await client.post(
            "/v1/messages/batch", {"messages": items}, headers={"idempotency-key": "b1"}
        )
    ).json()
    assert [r.get("id") for r in again["results"]] == [r.get("id") for r in body["results"]]
    assert again["results"][0]["replayed"] is True
    assert await mongo[tenant_db(client.tenant)][MESSAGES].count_documents({}) == 2
    too_many = await client.post("/v1/messages/batch", {"messages": [TEXT] * 1001})
    assert too_many.status in (413, 422)
    empty = await client.post("/v1/messages/batch", {"messages": []})
    assert empty.status == 422
