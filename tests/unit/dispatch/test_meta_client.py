"""Request building of MetaClient, against a tiny in-process aiohttp server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from ccx.config import DispatchSettings
from ccx.dispatch.meta_client import MetaClient, _reason, messages_url, request_headers
from ccx.dispatch.outcomes import Kind


def test_messages_url() -> None:
    assert messages_url("https://graph.facebook.com/", "v23.0", "106540352242922") == (
        "https://graph.facebook.com/v23.0/106540352242922/messages"
    )
    with pytest.raises(ValueError, match="numeric"):
        messages_url("http://x", "v23.0", "../admin")


def test_headers() -> None:
    assert request_headers("tok") == {
        "authorization": "Bearer tok",
        "content-type": "application/json",
    }


def test_reason_names() -> None:
    assert _reason(ConnectionResetError()) == "connection_reset_error"


def test_from_settings() -> None:
    client = MetaClient.from_settings(
        DispatchSettings(meta_base_url="http://h:1/", timeout_s=3, connect_timeout_s=5)
    )
    assert (client.base_url, client.version, client.timeout_s) == ("http://h:1", "v23.0", 3)
    assert client.connect_timeout_s == 3  # never longer than the total


@pytest_asyncio.fixture(loop_scope="function")
async def server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(
            {
                "path": request.path,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        return web.json_response({"messages": [{"id": f"wamid.{len(seen)}"}]})

    app = web.Application()
    app.router.add_post("/{version}/{pnid}/messages", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/", seen
    await runner.cleanup()


@pytest.mark.asyncio(loop_scope="function")
async def test_request_and_success(server: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = server
    body = {"messaging_product": "whatsapp", "to": "+1", "type": "text", "text": {"body": "é"}}
    async with MetaClient(url, "v24.0") as client:
        out = await client.send("123", "tok-1", body)
        out2 = await client.send("456", "tok-2", orjson.dumps(body))
    assert (out.kind, out.wamid) == (Kind.SENT, "wamid.1")
    assert (out2.kind, out2.wamid) == (Kind.SENT, "wamid.2")
    first, second = seen
    assert first["path"] == "/v24.0/123/messages"
    assert second["path"] == "/v24.0/456/messages"
    assert first["headers"]["Authorization"] == "Bearer tok-1"
    assert second["headers"]["Authorization"] == "Bearer tok-2"  # token per call
    assert first["headers"]["Content-Type"] == "application/json"
    assert orjson.loads(first["body"]) == body
    assert first["body"] == second["body"]


@pytest.mark.asyncio(loop_scope="function")
async def test_refused_connection_is_retry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        async with MetaClient(f"http://127.0.0.1:{port}") as client:
            out = await client.send("1", "t", {})
    assert out.kind is Kind.RETRY
    assert out.reason == "client_connector_error"


@pytest.mark.asyncio(loop_scope="function")
async def test_dns_failure_is_retry() -> None:
    async with MetaClient("http://no-such-host.invalid", timeout_s=1.0) as client:
        out = await client.send("1", "t", {})
    assert out.kind is Kind.RETRY, out


async def _raw_server(
    behaviour: str, handlers: list[asyncio.Task[Any]]
) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        await reader.readuntil(b"\r\n\r\n")
        if behaviour == "garbage":
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        elif behaviour == "hang":
            await reader.read()  # until the client gives up and closes
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("behaviour", ["close", "garbage", "hang"])
@pytest.mark.asyncio(loop_scope="function")
async def test_failures_after_the_request_was_written_are_ambiguous(behaviour: str) -> None:
    handlers: list[asyncio.Task[Any]] = []
    server, url = await _raw_server(behaviour, handlers)
    async with server, MetaClient(url, timeout_s=0.3) as client:
        out = await client.send("1", "t", {"to": "+1"})
    await asyncio.wait_for(asyncio.gather(*handlers), 2)
    assert out.kind is Kind.AMBIGUOUS, out
    assert not out.definitely_not_sent
