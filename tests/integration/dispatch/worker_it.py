"""Fixtures and helpers of the worker tests: a sender, an accept path, a worker, the sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
from sandbox_it import SandboxProcess

from ccx.config import Settings
from ccx.ingest.accept import AcceptItem, GroupCommitter
from ccx.store.messages import Message, MessageRepository, Status, from_document

OTP_TEMPLATE = {
    "name": "otp_code",
    "language": "en_US",
    "category": "AUTHENTICATION",
    "components": [
        {"type": "BODY", "text": "{{1}} is your verification code."},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]},
    ],
}
FINAL = {
    Status.SENT,
    Status.FAILED,
    Status.UNDETERMINED,
    Status.RECONCILING,
    Status.EXPIRED,
    Status.CANCELLED,
}


def worker_settings(settings: Settings, sandbox: SandboxProcess, **dispatch: Any) -> Settings:
    changes = {"meta_base_url": sandbox.url, "sweep_interval_s": 3600.0, **dispatch}
    return dataclasses.replace(settings, dispatch=dataclasses.replace(settings.dispatch, **changes))


async def accept_texts(
    committer: GroupCommitter, tenant: str, count: int, start: int = 0, **extra: Any
) -> list[str]:
    accepted = await asyncio.gather(
        *(
            committer.submit(
                AcceptItem(
                    tenant,
                    {"to": f"+1650555{i:04d}", "type": "text", "text": {"body": f"m{i}"}, **extra},
                )
            )
            for i in range(start, start + count)
        )
    )
    return [a.id for a in accepted]


async def wait_for(
    repo: MessageRepository,
    ids: Iterable[str],
    states: set[Status] = FINAL,
    timeout_s: float = 20.0,
    poll_s: float = 0.2,
) -> dict[str, Message]:
    """Poll until every message is in one of `states`. One query per poll: on FerretDB an
    `$in` scans the (small) test collection once, where a `find_one` per id would keep
    the server busy."""
    pending = set(ids)
    seen: dict[str, Message] = {}
    wanted = [str(s) for s in states]
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        found = repo.messages.find({"_id": {"$in": list(pending)}, "status": {"$in": wanted}})
        async for doc in found:
            seen[doc["_id"]] = from_document(doc)
            pending.discard(doc["_id"])
        if pending:
            await asyncio.sleep(poll_s)
    if pending:
        left = repo.messages.find({"_id": {"$in": list(pending)[:5]}})
        raise AssertionError(
            f"{len(pending)} messages not in {wanted}: "
            + str({d["_id"]: d["status"] async for d in left})
        )
    return seen


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout_s: float = 10.0) -> bool:
    """Poll `check` (plain or async) every 50 ms until it holds (True) or `timeout_s` passed
    (False)."""

    async def holds() -> bool:
        result = check()
        return await result if inspect.isawaitable(result) else result

    for _ in range(int(timeout_s / 0.05)):
        if await holds():
            return True
        await asyncio.sleep(0.05)
    return await holds()


async def admin_call(sandbox: SandboxProcess, method: str, path: str, **kw: Any) -> Any:
    async with httpx.AsyncClient(base_url=sandbox.url + "/_admin", trust_env=False) as c:
        reply = await c.request(method, path, **kw)
        reply.raise_for_status()
        return reply.json()


async def set_faults(sandbox: SandboxProcess, faults: dict[str, Any]) -> None:
    await admin_call(sandbox, "PUT", "/faults/default", json=faults)


async def meta_allows(sandbox: SandboxProcess, number: str, rate: int) -> None:
    """Turn the sandbox's throughput limit on: `number` may send `rate` msg/s."""
    limits = {"throughput_enabled": True, "throughput_by_number": {number: rate}}
    await admin_call(sandbox, "PUT", "/limits", json=limits)


async def ledger(sandbox: SandboxProcess) -> dict[str, Any]:
    data: dict[str, Any] = await admin_call(sandbox, "GET", "/ledger", params={"limit": "100000"})
    return data


async def sends_of(sandbox: SandboxProcess, message_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in (await ledger(sandbox))["entries"]
        if str(e.get("biz_opaque_callback_data", "")).startswith(message_id + ".")
    ]
