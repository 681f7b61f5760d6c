"""MetaClient against a real `ccx sandbox`: each kind of outcome, from real HTTP exchanges."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest
from sandbox_it import HANG_S, PNID, SandboxProcess, text

from ccx.dispatch.breaker import CircuitBreaker, State
from ccx.dispatch.meta_client import MetaClient
from ccx.dispatch.outcomes import Kind

pytestmark = pytest.mark.e2e


def faults(admin: httpx.Client, spec: dict[str, object]) -> None:
    admin.put("/faults/default", json=spec).raise_for_status()


def limits(admin: httpx.Client, spec: dict[str, object]) -> None:
    admin.put("/limits", json=spec).raise_for_status()


def ledger(admin: httpx.Client, **query: str) -> dict[str, Any]:
    result: dict[str, Any] = admin.get("/ledger", params=query).json()
    return result


async def test_send_returns_a_wamid_the_ledger_knows(
    sandbox: SandboxProcess, admin: httpx.Client
) -> None:
    async with MetaClient(sandbox.url) as client:
        out = await client.send(PNID, "sandbox", text(opaque="msg-1.1"))
    assert out.kind is Kind.SENT, out
    assert out.http_status == 200
    assert out.wamid is not None
    assert out.wamid.startswith("wamid.")
    assert out.message_status == "accepted"
    found = ledger(admin, wamid=out.wamid)
    assert found["count"] == 1
    (entry,) = found["entries"]
    assert (entry["wamid"], entry["biz_opaque_callback_data"]) == (out.wamid, "msg-1.1")
    assert entry["phone_number_id"] == PNID


async def test_keep_alive_many_sends(sandbox: SandboxProcess, admin: httpx.Client) -> None:
    async with MetaClient(sandbox.url, max_connections=4) as client:
        outs = [await client.send(PNID, "sandbox", text(body=f"m{i}")) for i in range(20)]
    assert all(o.kind is Kind.SENT for o in outs)
    assert len({o.wamid for o in outs}) == 20
    assert ledger(admin, entries="0")["count"] == 20


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (131000, 500, Kind.RETRY),
        (133004, 503, Kind.RETRY),
        (2, 503, Kind.RETRY),
        (130429, 400, Kind.THROTTLE),
        (131056, 400, Kind.THROTTLE),
        (80007, 400, Kind.THROTTLE),
        (131026, 400, Kind.TERMINAL),
        (132001, 404, Kind.TERMINAL),
        (131042, 400, Kind.HOLD),
        (368, 403, Kind.HOLD),
    ],
)
async def test_injected_meta_errors(
    sandbox: SandboxProcess, admin: httpx.Client, code: int, status: int, kind: Kind
) -> None:
    faults(admin, {"error_rates": {str(code): 1.0}})
    async with MetaClient(sandbox.url) as client:
        out = await client.send(PNID, "sandbox", text())
    assert (out.kind, out.code, out.http_status) == (kind, code, status), out
    assert out.fbtrace_id
    assert ledger(admin, entries="0")["count"] == 0


async def test_real_validation_errors(sandbox: SandboxProcess) -> None:
    async with MetaClient(sandbox.url) as client:
        bad_token = await client.send(PNID, "wrong", text())
        bad_template = await client.send(
            PNID,
            "sandbox",
            {
                "messaging_product": "whatsapp",
                "to": "+14085550001",
                "type": "template",
                "template": {"name": "no_such_template", "language": {"code": "en_US"}},
            },
        )
        paused = await client.send(
            PNID,
            "sandbox",
            {
                "messaging_product": "whatsapp",
                "to": "+14085550001",
                "type": "template",
                "template": {"name": "old_notice", "language": {"code": "en_US"}},
            },
        )
    assert (bad_token.kind, bad_token.code, bad_token.http_status) == (Kind.HOLD, 190, 401)
    assert (bad_template.kind, bad_template.code) == (Kind.TERMINAL, 132001)
    assert (paused.kind, paused.code) == (Kind.TERMINAL, 132016)


async def test_real_pair_limit_is_throttle(sandbox: SandboxProcess, admin: httpx.Client) -> None:
    limits(admin, {"pair_enabled": True, "pair_burst": 1})
    async with MetaClient(sandbox.url) as client:
        first = await client.send(PNID, "sandbox", text())
        second = await client.send(PNID, "sandbox", text())
    assert first.kind is Kind.SENT
    assert (second.kind, second.code) == (Kind.THROTTLE, 131056)


async def test_empty_5xx_is_ambiguous(sandbox: SandboxProcess, admin: httpx.Client) -> None:
    faults(admin, {"empty_5xx": 1.0, "empty_5xx_status": 502})
    async with MetaClient(sandbox.url) as client:
        out = await client.send(PNID, "sandbox", text())
    assert (out.kind, out.http_status, out.code) == (Kind.AMBIGUOUS, 502, None)


async def test_hang_beyond_timeout_is_ambiguous(
    sandbox: SandboxProcess, admin: httpx.Client
) -> None:
    faults(admin, {"timeout": 1.0})
    async with MetaClient(sandbox.url, timeout_s=0.3) as client:
        start = time.monotonic()
        out = await client.send(PNID, "sandbox", text())
        elapsed = time.monotonic() - start
    assert out.kind is Kind.AMBIGUOUS, out
    assert out.reason == "timeout"
    assert elapsed < HANG_S  # the client's timeout, not the sandbox's reset


async def test_accepted_but_never_answered_is_ambiguous(
    sandbox: SandboxProcess, admin: httpx.Client
) -> None:
    """The case never-send-twice exists for: Meta has the message, the client has no answer."""
    faults(admin, {"accept_no_answer": 1.0})
    async with MetaClient(sandbox.url, timeout_s=0.3) as client:
        out = await client.send(PNID, "sandbox", text(opaque="msg-7.1"))
    assert out.kind is Kind.AMBIGUOUS
    found = ledger(admin, biz_opaque_callback_data="msg-7.1")
    assert found["count"] == 1
    assert found["entries"][0]["answered"] is False


async def test_reset_after_the_request_is_ambiguous(
    sandbox: SandboxProcess, admin: httpx.Client
) -> None:
    faults(admin, {"reset": 1.0})
    async with MetaClient(sandbox.url) as client:
        out = await client.send(PNID, "sandbox", text())
    assert out.kind is Kind.AMBIGUOUS, out


async def test_refused_connection_is_retry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound but not listening: connect is refused
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        async with MetaClient(url) as client:
            out = await client.send(PNID, "sandbox", text())
    assert out.kind is Kind.RETRY
    assert out.reason == "client_connector_error"


async def test_connect_timeout_is_retry() -> None:
    """A listening socket whose accept queue is full never completes the handshake."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        fillers = []
        try:
            for _ in range(8):  # fill the backlog so further SYNs are dropped
                f = socket.socket()
                f.setblocking(False)
                f.connect_ex(s.getsockname())
                fillers.append(f)
            async with MetaClient(url, timeout_s=1.0, connect_timeout_s=0.2) as client:
                out = await client.send(PNID, "sandbox", text())
        finally:
            for f in fillers:
                f.close()
    assert out.kind is Kind.RETRY, out
    assert out.reason in {"connection_timeout_error", "timeout"}, out


async def test_breaker_opens_on_a_failing_sandbox(
    sandbox: SandboxProcess, admin: httpx.Client
) -> None:
    faults(admin, {"error_rates": {"131016": 1.0}})
    breaker = CircuitBreaker()
    async with MetaClient(sandbox.url) as client:
        while breaker.allow(PNID):
            breaker.record(PNID, (await client.send(PNID, "sandbox", text())).kind)
    assert breaker.state(PNID) is State.OPEN
    assert ledger(admin, entries="0")["requests"]["total"] == breaker.settings.min_requests
