"""The demo `ccx up` runs on the live stack: a sender, templates and a webhook endpoint for a
local receiver (which prints every event it verifies), a few messages of each priority, and
each message's life from `accepted` to `read`, with timings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import orjson
from aiohttp import web

from ccx._native import WebhookSigner

SENDER = "15550001111"
WABA = "100000000000001"
FINAL = {"read", "failed", "expired", "cancelled", "undetermined", "reconciling"}

TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "otp_code",
        "language": "en_US",
        "category": "AUTHENTICATION",
        "components": [
            {"type": "BODY", "text": "{{1}} is your verification code."},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}],
            },
        ],
    },
    {
        "name": "hello_world",
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Hello World"}],
    },
]


def messages(per_priority: int) -> list[dict[str, Any]]:
    """`per_priority` messages of each tier: an OTP (critical by its category), a utility
    template sent as high, a text (default) and the utility template again as low."""
    out: list[dict[str, Any]] = []
    for i in range(per_priority):
        to = f"+44770090{i:04d}"
        out += [
            {
                "to": to,
                "type": "template",
                "template": {
                    "name": "otp_code",
                    "language": "en_US",
                    "variables": {"body": [f"{123456 + i}"], "buttons": [f"{123456 + i}"]},
                },
                "metadata": {"demo": "otp", "n": i},
            },
            {
                "to": to,
                "type": "template",
                "priority": "high",
                "template": {"name": "hello_world", "language": "en_US", "variables": {}},
                "metadata": {"demo": "utility", "n": i},
            },
            {"to": to, "type": "text", "text": {"body": f"Hi, message {i}"}, "metadata": {"n": i}},
            {
                "to": to,
                "type": "template",
                "priority": "low",
                "template": {"name": "hello_world", "language": "en_US", "variables": {}},
                "metadata": {"demo": "campaign", "n": i},
            },
        ]
    return out


class Receiver:
    """A client's webhook endpoint on loopback that checks every signature; it prints each
    event through `say` and hands it, with its arrival time, to `on_event`."""

    def __init__(
        self,
        say: Callable[[str], None] | None,
        on_event: Callable[[dict[str, Any], float], None] | None = None,
    ) -> None:
        self.say = say
        self.on_event = on_event
        self.signer: WebhookSigner | None = None  # set once the endpoint's secret is known
        self.events: list[dict[str, Any]] = []
        self.rejected = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, port: int) -> None:
        """Listen on 127.0.0.1:`port` (0: any free port; `url` says which)."""
        app = web.Application()
        app.router.add_post("/webhooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}/webhooks"

    def trust(self, secret: str) -> None:
        self.signer = WebhookSigner([secret])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        received = time.time()
        headers = request.headers
        ok = self.signer is not None and self.signer.verify(
            headers.get("webhook-id", ""),
            int(headers.get("webhook-timestamp", "0") or 0),
            body,
            headers.get("webhook-signature", ""),
        )
        if not ok:
            self.rejected += 1
            if self.say:
                self.say("receiver: REFUSED a webhook with a bad signature")
            return web.Response(status=401)
        event = orjson.loads(body)
        self.events.append(event)
        if self.on_event:
            self.on_event(event, received)
        if self.say:
            data = event["data"]
            self.say(
                f"receiver: verified {event['type']:<22} {data['message_id']} seq {data['seq']}"
            )
        return web.Response(status=204)


async def prepare(client: httpx.AsyncClient, receiver_url: str) -> str:
    """Sender, templates and the webhook endpoint; returns the endpoint's secret."""
    sender = {"waba_id": WABA, "access_token": "sandbox", "is_default": True}
    reply = await client.put(f"/v1/senders/{SENDER}", json=sender)
    reply.raise_for_status()
    for template in TEMPLATES:
        reply = await client.post("/v1/templates", json=template)
        if reply.status_code not in (200, 201):
            raise RuntimeError(f"template {template['name']}: {reply.text}")
    # one endpoint for the receiver, kept across runs (a new one each time would leave the
    # old ones failing against this receiver's new secret)
    listed = await client.get("/v1/webhook-endpoints")
    listed.raise_for_status()
    for endpoint in listed.json()["data"]:
        if endpoint["url"] == receiver_url:
            if not endpoint["enabled"]:
                on = {"enabled": True}
                (
                    await client.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json=on)
                ).raise_for_status()
            reply = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/secret")
            reply.raise_for_status()
            return str(reply.json()["secret"])
    reply = await client.post("/v1/webhook-endpoints", json={"url": receiver_url})
    if reply.status_code != 201:
        raise RuntimeError(f"webhook endpoint: {reply.text}")
    return str(reply.json()["secret"])


async def send(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[str]:
    ids = []
    for body in bodies:
        reply = await client.post("/v1/messages", json=body)
        if reply.status_code != 202:
            raise RuntimeError(f"message refused: {reply.status_code} {reply.text}")
        ids.append(str(reply.json()["id"]))
    return ids


def _ms(start: str, at: str) -> int:
    return round(
        (datetime.fromisoformat(at) - datetime.fromisoformat(start)).total_seconds() * 1000
    )


async def follow(
    client: httpx.AsyncClient, ids: list[str], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """Poll until every message is final (or the time is up); returns their last views."""
    views: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for message_id in list(pending):
            reply = await client.get(f"/v1/messages/{message_id}")
            if reply.status_code == 200:
                views[message_id] = reply.json()
                if views[message_id]["status"] in FINAL:
                    pending.discard(message_id)
        if pending:
            await asyncio.sleep(0.25)
    return views


def life(view: dict[str, Any]) -> str:
    """One line: priority, id, and each state with ms since accepted."""
    events = view.get("events", [])
    start = events[0]["at"] if events else view["created_at"]
    steps = " → ".join(f"{e['to']} +{_ms(start, e['at'])} ms" for e in events)
    return f"{view['priority']:<8} {view['id']}  {steps}"
