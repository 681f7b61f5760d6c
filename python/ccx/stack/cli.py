"""`ccx up`: the local services, the Meta sandbox, `ccx serve` and `ccx worker` (dispatch,
Meta callbacks, client webhooks) as supervised processes, then a demo that shows messages
flowing end to end. Ctrl-C (or `ccx down`) stops everything. Logs: var/log/up/<name>.log."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ccx.stack import demo
from ccx.stack.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[3]
RUN_DIR = ROOT / "var" / "run"
PID_FILE = RUN_DIR / "up.pid"
DEMO_TENANT = "demo"
DEMO_SCOPES = "messages:write messages:read templates:write webhooks:write webhooks:read admin"


def say(text: str) -> None:
    print(text, flush=True)


def ccx(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccx.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=check,
    )


def demo_token() -> str:
    """A token for the demo tenant from the key store (a key is made on first use)."""
    issued = ccx("token", "issue", "--tenant", DEMO_TENANT, "--scope", DEMO_SCOPES, check=False)
    if issued.returncode != 0:
        ccx("keys", "rotate")
        issued = ccx("token", "issue", "--tenant", DEMO_TENANT, "--scope", DEMO_SCOPES)
    return issued.stdout.strip()


def wait_ready(url: str, timeout_s: float, supervisor: Supervisor) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        supervisor.check()
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s:.0f} s; see {supervisor.log_dir}")


async def run_demo(api: str, token: str, per_priority: int, receiver_port: int) -> bool:
    receiver = demo.Receiver(say)
    await receiver.start(receiver_port)
    headers = {"authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=api, headers=headers, trust_env=False) as client:
            secret = await demo.prepare(client, receiver.url)
            receiver.trust(secret)
            say(f"demo: webhook endpoint → {receiver.url}")
            ids = await demo.send(client, demo.messages(per_priority))
            say(f"demo: {len(ids)} messages accepted; following them to `read`…")
            views = await demo.follow(client, ids, timeout_s=60)
            await asyncio.sleep(1.0)  # the last webhooks
        say("\nEach message's life (ms after accepted):")
        for message_id in ids:
            if message_id in views:
                say("  " + demo.life(views[message_id]))
        done = sum(1 for v in views.values() if v["status"] == "read")
        say(
            f"\ndemo: {done}/{len(ids)} read; {len(receiver.events)} signed webhooks "
            f"verified, {receiver.rejected} refused"
        )
        return done == len(ids) and receiver.rejected == 0
    finally:
        await receiver.stop()


def up(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    PID_FILE.write_text(str(os.getpid()))
    say("ccx up: starting the local services (installing what is missing)…")
    started = ccx("services", "start", check=False)
    if started.returncode != 0:
        say(started.stdout + started.stderr)
        return 1
    ccx("tenant", "create", DEMO_TENANT)
    token = demo_token()
    api = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "CCX_SANDBOX_CALLBACK_URL": f"{api}/webhooks/meta",
        "CCX_DISPATCH_META_BASE_URL": f"http://127.0.0.1:{args.sandbox_port}",
        # the demo receiver is on loopback, which webhooks may not reach by default
        "CCX_WEBHOOKS_ALLOW_NETWORKS": "127.0.0.0/8,::1/128",
    }
    supervisor = Supervisor(ROOT / "var" / "log" / "up", env)
    stop = {"now": False}

    def on_signal(signum: int, _: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exe = [sys.executable, "-m", "ccx.cli"]
    try:
        supervisor.start("sandbox", [*exe, "sandbox", "--port", str(args.sandbox_port)])
        supervisor.start("serve", [*exe, "serve", "--port", str(args.port)])
        supervisor.start("worker", [*exe, "worker"])
        wait_ready(f"http://127.0.0.1:{args.sandbox_port}/_admin/health", 60, supervisor)
        wait_ready(f"{api}/readyz", 60, supervisor)
        say(f"ccx up: API {api} · sandbox :{args.sandbox_port} · logs {supervisor.log_dir}")
        say(f"ccx up: demo tenant token:\n  export TOKEN={token}")
        ok = True
        if args.demo:
            ok = asyncio.run(run_demo(api, token, args.per_priority, args.receiver_port))
        if args.exit_after_demo:
            return 0 if ok else 1
        say("ccx up: running; Ctrl-C or `ccx down` stops everything.")
        while not stop["now"]:
            supervisor.check()
            time.sleep(0.5)
        return 0
    finally:
        say("ccx up: stopping…")
        supervisor.stop()
        with contextlib.suppress(FileNotFoundError):
            PID_FILE.unlink()


def down_main(argv: list[str]) -> int:
    """`ccx down`: stop a running `ccx up` (and, with --services, the local services)."""
    parser = argparse.ArgumentParser(prog="ccx down", description=down_main.__doc__)
    parser.add_argument("--services", action="store_true", help="stop the local services too")
    args = parser.parse_args(argv)
    try:
        pid = int(PID_FILE.read_text())
    except (FileNotFoundError, ValueError):
        say("ccx down: no `ccx up` is running")
        pid = 0
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            for _ in range(150):
                os.kill(pid, 0)
                time.sleep(0.1)
    if args.services:
        ccx("services", "stop", check=False)
    return 0


def up_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ccx up", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="API port")
    parser.add_argument("--sandbox-port", type=int, default=8090)
    parser.add_argument("--receiver-port", type=int, default=8099, help="demo webhook receiver")
    parser.add_argument("--per-priority", type=int, default=2, help="demo messages per tier")
    parser.add_argument("--no-demo", dest="demo", action="store_false")
    parser.add_argument(
        "--exit-after-demo", action="store_true", help="stop everything once the demo is done"
    )
    return up(parser.parse_args(argv))
