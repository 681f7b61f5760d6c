"""The stack under `ccx bench ingest`: the local services, one server process per target, and
the bench tenant with its token (created fresh for every run).

Targets:

- `ccx`: `ccx serve` (granian, RSGI) with its group-committing accept path; ready on /readyz.
- `reference`: `python -m ccx.bench.reference_app` (FastAPI on uvicorn, one request at a time);
  ready on /healthz.

Both get the same generated HS256 signing key through `CCX_AUTH_KEYS` (the key store is off),
so `ccx token issue` signs a token both accept, and ccx a generated data key
(`CCX_SECURITY_DATA_KEYS`) for the bench sender's access token.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from ccx.config import Settings, load_settings
from ccx.health import check_dependencies
from ccx.queue.names import Tier, tier_queue
from ccx.store.names import MESSAGES, PLATFORM_TENANTS, tenant_db

TARGETS = ("ccx", "reference")
#: Sender registered for the ccx tenant (the accept path may need a default sender).
BENCH_SENDER = "109000000000001"
BENCH_WABA = "100000000000001"


class SetupError(Exception):
    """The stack could not be brought up for a target; the message says which step failed."""


def bench_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every bench process: a fresh HS256 signing key (the key store
    off) and a fresh data key."""
    env = dict(os.environ if base is None else base)
    kid = "bench-" + secrets.token_hex(4)
    keys = [{"kid": kid, "alg": "HS256", "secret": secrets.token_hex(32)}]
    env["CCX_AUTH_KEYS"] = orjson.dumps(keys).decode()
    env["CCX_AUTH_ACTIVE_KID"] = kid
    env["CCX_AUTH_USE_KEY_STORE"] = "false"
    # The data key that encrypts the sender's access token (else a key file under var/).
    env["CCX_SECURITY_DATA_KEYS"] = "bench:" + base64.b64encode(secrets.token_bytes(32)).decode()
    env["CCX_SECURITY_ACTIVE_DATA_KEY"] = "bench"
    env.setdefault("CCX_LOG_LEVEL", "WARNING")
    # A platform database of its own: the bench server's outbox relay then scans the bench
    # tenants only, not every tenant other work left in the shared MongoDB.
    env.setdefault("CCX_MONGO_PLATFORM_DB", "ccx_bench")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(target: str, port: int, workers: int) -> list[str]:
    """The command that serves `target` on 127.0.0.1:`port`."""
    where = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if target == "ccx":
        return [sys.executable, "-m", "ccx.cli", "serve", *where]
    if target == "reference":
        return [sys.executable, "-m", "ccx.bench.reference_app", *where]
    raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")


READY_PATH = {"ccx": "/readyz", "reference": "/healthz"}
#: Dependency name in ccx.health → service name in scripts/services.sh.
SCRIPT_NAMES = {"mongo": "ferretdb", "redis": "redis", "rabbitmq": "rabbitmq"}


async def ensure_services(settings: Settings, script: Path | None) -> dict[str, str]:
    """The version of each service, starting them with `scripts/services.sh start` when one
    does not answer. SetupError when they still do not."""
    health = await check_dependencies(settings)
    if not all(h.ok for h in health.values()) and script is not None:
        down = [SCRIPT_NAMES[n] for n, h in health.items() if not h.ok]
        print(f"ccx bench: running {script} start {' '.join(down)}", file=sys.stderr)
        start = await asyncio.create_subprocess_exec(str(script), "start", *down, stdout=sys.stderr)
        await start.wait()
        health = await check_dependencies(settings)
    problems = {n: h.detail for n, h in health.items() if not h.ok}
    if problems:
        raise SetupError(f"services not reachable: {problems}")
    return {n: h.version or "unknown" for n, h in health.items()}


@dataclass
class Server:
    """A server process started by the bench, in its own session so it stops as a group."""

    target: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def start_server(
    target: str, workers: int, env: Mapping[str, str], log_dir: Path, timeout_s: float = 60.0
) -> Server:
    """Start `target` on a free port and wait until its readiness route answers 200."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{target}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            server_command(target, port, workers),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(target, port, process, log_path)
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(
                f"{target} server exited with {process.returncode} during start-up:\n"
                + server.log_tail()
            )
        try:
            answer = httpx.get(server.base_url + READY_PATH[target], timeout=2.0)
            if answer.status_code == 200:
                return server
            last = f"{answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.25)
    server.stop()
    raise SetupError(f"{target} not ready within {timeout_s:g} s (last answer: {last})")


def ccx_cli(args: list[str], env: Mapping[str, str]) -> str:
    """Run `ccx ARGS` in a subprocess; its stdout, or SetupError with its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "ccx.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise SetupError(f"`ccx {' '.join(args[:2])}` failed ({done.returncode}): {done.stderr}")
    return done.stdout.strip()


@dataclass
class TenantSetup:
    """What the bench made for one target: its tenant, token and setup notes."""

    tenant: str
    token: str
    notes: list[str] = field(default_factory=list)


async def reset_tenant_data(settings: Settings, tenant: str) -> None:
    """Drop the bench tenant's database and purge its queues (left over from an earlier run)."""
    from ccx.queue.connection import connect
    from ccx.store.mongo import make_client

    client = make_client(settings.mongo)
    try:
        await client.drop_database(tenant_db(tenant))
    finally:
        await client.close()
    connection = await connect(settings.rabbitmq, name="ccx-bench")
    try:
        for tier in Tier:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(tier_queue(tenant, tier), passive=True)
                await queue.purge()
            except Exception:  # not declared yet: `ccx tenant create` makes it
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
    finally:
        await connection.close()


async def drop_tenant(settings: Settings, tenant: str) -> None:
    """Remove everything the bench made for `tenant`: its database, its registry entry (so no
    relay scans it) and its tier queues."""
    from ccx.queue.connection import connect
    from ccx.store.mongo import make_client

    client = make_client(settings.mongo)
    try:
        await client.drop_database(tenant_db(tenant))
        await client[settings.mongo.platform_db][PLATFORM_TENANTS].delete_one({"_id": tenant})
    finally:
        await client.close()
    connection = await connect(settings.rabbitmq, name="ccx-bench")
    try:
        channel = await connection.channel()
        for tier in Tier:
            queue = await channel.get_queue(tier_queue(tenant, tier), ensure=False)
            await queue.delete(if_unused=False, if_empty=False)
        await channel.close()
    finally:
        await connection.close()


def prepare_tenant(tenant: str, env: Mapping[str, str]) -> TenantSetup:
    """Fresh tenant data, `ccx tenant create` and a `messages:write` token."""
    settings = load_settings(env=env)
    asyncio.run(reset_tenant_data(settings, tenant))
    ccx_cli(["tenant", "create", tenant, "--name", "ccx bench ingest"], env)
    token = ccx_cli(
        ["token", "issue", "--tenant", tenant, "--scope", "messages:write", "--ttl", "7200"], env
    )
    return TenantSetup(tenant, token)


def register_sender(server: Server, setup: TenantSetup, env: Mapping[str, str]) -> None:
    """PUT the bench sender as the tenant's default. A missing route (404/405) is noted,
    not fatal: the sanity message that follows decides whether setup worked."""
    admin = ccx_cli(
        ["token", "issue", "--tenant", setup.tenant, "--scope", "admin", "--ttl", "600"], env
    )
    body = {"waba_id": BENCH_WABA, "access_token": "sandbox", "is_default": True}
    try:
        answer = httpx.put(
            f"{server.base_url}/v1/senders/{BENCH_SENDER}",
            json=body,
            headers={"authorization": f"Bearer {admin}"},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        setup.notes.append(f"sender registration failed: {type(exc).__name__}")
        return
    if answer.status_code in (404, 405):
        setup.notes.append(f"sender registration skipped: PUT /v1/senders → {answer.status_code}")
    elif answer.status_code >= 300:
        setup.notes.append(
            f"sender registration answered {answer.status_code}: {answer.text[:200]}"
        )
    else:
        setup.notes.append(f"sender {BENCH_SENDER} registered as default")


def post_sanity_message(server: Server, setup: TenantSetup, body: bytes) -> dict[str, Any]:
    """One request before the load; SetupError unless it is a 202 with an id."""
    try:
        answer = httpx.post(
            f"{server.base_url}/v1/messages",
            content=body,
            headers={
                "authorization": f"Bearer {setup.token}",
                "content-type": "application/json",
            },
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        raise SetupError(f"{server.target}: sanity POST failed: {exc!r}") from exc
    if answer.status_code != 202 or "id" not in answer.text:
        raise SetupError(
            f"{server.target}: sanity POST /v1/messages answered {answer.status_code}: "
            f"{answer.text[:400]}"
        )
    data: dict[str, Any] = answer.json()
    return data


async def count_persisted(
    settings: Settings, tenant: str, settle_s: float = 10.0
) -> dict[str, int]:
    """Messages stored for the tenant and envelopes waiting in its tier queues, polled until
    both stop changing (ccx publishes after the 202) or `settle_s` passes."""
    from ccx.queue.connection import connect
    from ccx.store.mongo import make_client

    # A count is a full scan on FerretDB v1 (tens of thousands of documents after a sweep).
    client = make_client(dataclasses.replace(settings.mongo, timeout_ms=60_000))
    connection = await connect(settings.rabbitmq, name="ccx-bench")
    try:
        previous: dict[str, int] = {}
        deadline = time.monotonic() + settle_s
        while True:
            stored = await client[tenant_db(tenant)][MESSAGES].count_documents({})
            queued = 0
            channel = await connection.channel()
            for tier in Tier:
                queue = await channel.declare_queue(tier_queue(tenant, tier), passive=True)
                queued += queue.declaration_result.message_count or 0
            await channel.close()
            # Envelopes, not messages: ccx packs up to 256 messages of a tier into one.
            counts = {"mongo_messages": stored, "queued_envelopes": queued}
            if counts == previous or time.monotonic() > deadline:
                return counts
            previous = counts
            await asyncio.sleep(1.0)
    finally:
        await connection.close()
        await client.close()
