"""A client's webhook receiver on loopback: records every request and answers as told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from standardwebhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.body)
        return data


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    #: Answers to give, first to last: (status, headers); then 200.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every received event, each checked by the `standardwebhooks` library (raises on a
        bad signature or stale timestamp)."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.received]

    async def wait(self, count: int, timeout_s: float = 20.0) -> list[Received]:
        async def enough() -> None:
            async with self.arrived:
                await self.arrived.wait_for(lambda: len(self.received) >= count)

        await asyncio.wait_for(enough(), timeout_s)
        return self.received

    def ok(self) -> list[Received]:
        """The requests answered 2xx."""
        return [r for r in self.received if r.headers.get("x-answered", "200").startswith("2")]


@asynccontextmanager
async def receiving(path: str = "/hooks", port: int = 0) -> AsyncIterator[Receiver]:
    receiver = Receiver(url="")

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        status, headers = receiver.script.pop(0) if receiver.script else (200, {})
        seen = dict(request.headers)
        seen["x-answered"] = str(status)
        async with receiver.arrived:
            receiver.received.append(Received(seen, body))
            receiver.arrived.notify_all()
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "no")

    app = web.Application()
    app.router.add_post(path, handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
