"""`/webhooks/meta` on the real services: the handshake, the signature check before anything
else, and a signed callback durably queued on `ccx.callbacks` before the 200."""

from __future__ import annotations

import asyncio
import uuid

import orjson
from aio_pika.abc import AbstractRobustConnection

from ccx._native import hub_signature
from ccx.queue.names import CALLBACKS_QUEUE
from tests.integration.api.conftest import Client

SECRET = b"sandbox-app-secret"  # MetaSettings.app_secret's default


def callback(marker: str) -> bytes:
    status = {"id": f"wamid.{marker}", "status": "sent", "timestamp": "1750857384"}
    value = {"metadata": {"phone_number_id": "1"}, "statuses": [status]}
    return orjson.dumps(
        {"entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}
    )


async def queued_bodies(rabbit: AbstractRobustConnection, seconds: float = 3.0) -> list[bytes]:
    """Drain `ccx.callbacks` (tests run one at a time: nothing else consumes it)."""
    bodies: list[bytes] = []
    channel = await rabbit.channel()
    try:
        queue = await channel.get_queue(CALLBACKS_QUEUE, ensure=False)
        for _ in range(int(seconds / 0.05)):
            message = await queue.get(fail=False)
            if message is None:
                if bodies:
                    break
                await asyncio.sleep(0.05)
                continue
            bodies.append(message.body)
            await message.ack()
    finally:
        await channel.close()
    return bodies


async def test_handshake_echoes_the_challenge_for_the_right_token(client: Client) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "ccx-verify-token", "hub.challenge": "42"}
    reply = await client.get("/webhooks/meta", query=query, token=None)
    assert (reply.status, reply.body) == (200, b"42")
    wrong = await client.get(
        "/webhooks/meta", query={**query, "hub.verify_token": "guess"}, token=None
    )
    assert wrong.status == 403


async def test_a_signed_callback_is_queued_before_the_200(
    client: Client, rabbit: AbstractRobustConnection
) -> None:
    await queued_bodies(rabbit, 0.2)  # leftovers of earlier runs
    body = callback(uuid.uuid4().hex)
    reply = await client.post(
        "/webhooks/meta",
        body=body,
        headers={"x-hub-signature-256": hub_signature(SECRET, body)},
        token=None,
    )
    assert reply.status == 200
    assert body in await queued_bodies(rabbit)


async def test_a_forged_or_missing_signature_is_refused_and_nothing_is_queued(
    client: Client, rabbit: AbstractRobustConnection
) -> None:
    await queued_bodies(rabbit, 0.2)
    body = callback(uuid.uuid4().hex)
    forged = hub_signature(b"not-the-secret", body)
    for headers in ({"x-hub-signature-256": forged}, {}):
        reply = await client.post("/webhooks/meta", body=body, headers=headers, token=None)
        assert reply.status == 401
        assert reply.json()["type"].endswith("bad-signature")
    # a signature over other bytes does not carry over either
    other = hub_signature(SECRET, body + b" ")
    reply = await client.post(
        "/webhooks/meta", body=body, headers={"x-hub-signature-256": other}, token=None
    )
    assert reply.status == 401
    assert await queued_bodies(rabbit, 0.5) == []
