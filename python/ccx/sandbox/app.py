"""The robyn server: routes of the simulated Graph API and the admin API, one process.

Robyn 0.88 notes that shape this module:
- it parses `sys.argv` when imported and when `Config()` is built, so both happen with a
  cleaned `sys.argv` (our own flags would otherwise be read as robyn's);
- one process and one worker are forced: the ledger, limits and RNG live in this process
  and every Python handler runs on its single asyncio loop (the main thread), so the state
  needs no locks and callback tasks can be created from handlers;
- handlers cannot reach their socket, see `netfaults` for how resets are done;
- query strings arrive undecoded (`%2B` stays `%2B`), so `_query` decodes them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from ccx.sandbox import admin, netfaults
from ccx.sandbox.options import SandboxOptions
from ccx.sandbox.service import Reply, Sandbox, SendOutcome, Transport

log = logging.getLogger("ccx.sandbox")


def _import_robyn() -> tuple[Any, Any]:
    logging.getLogger("robyn").setLevel(logging.WARNING)
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        import robyn
        from robyn.argument_parser import Config

        config = Config()
    finally:
        sys.argv = saved
    config.disable_openapi = True
    config.log_level = "WARN"  # robyn compares with "warn"
    config.processes = 1
    config.workers = 1
    return robyn, config


def _write_ready(path: str, host: str, port: int) -> None:
    ready = {"host": host, "port": port, "pid": os.getpid()}
    Path(path).write_text(json.dumps(ready), encoding="utf-8")


async def _keep_gc_cheap(interval_s: float = 0.25) -> None:
    """Collect, then freeze what survived, once per interval.

    The ledger and the callback heap keep many long-lived objects; without this every
    full collection walks all of them (measured: ~80 ms pauses at 20k sends, growing with
    the ledger), which shows up as p99 spikes. Frozen objects are still freed by reference
    counting when the ledger drops them; only cycles created before a freeze and broken
    after it are never reclaimed.
    """
    while True:
        await asyncio.sleep(interval_s)
        gc.collect()
        gc.freeze()


def _exit_now(sig: signal.Signals) -> None:
    """Leave at once on SIGTERM/SIGINT: actix takes these for a graceful stop that never
    ends the process (robyn keeps its asyncio loop running), and all state is in memory."""
    log.info("sandbox stopping", extra={"signal": sig.name})
    logging.shutdown()
    os._exit(0)


def _query(request: Any) -> dict[str, str]:
    """First value of each query parameter, percent-decoded (robyn 0.88 leaves them raw)."""
    return {
        unquote_plus(k): unquote_plus(v[0]) for k, v in request.query_params.to_dict().items() if v
    }


class SandboxServer:
    """Binds a `Sandbox` to robyn routes and runs it."""

    def __init__(self, sandbox: Sandbox, options: SandboxOptions) -> None:
        self.sandbox = sandbox
        self.options = options
        self.port: int | None = None
        self._gc_task: asyncio.Task[None] | None = None
        self._robyn, config = _import_robyn()
        self.app = self._robyn.Robyn(__file__, config=config)
        self._routes()

    def _response(self, reply: Reply) -> Any:
        headers = {"content-type": reply.content_type} if reply.content_type else {}
        return self._robyn.Response(
            status_code=reply.status, headers=headers, description=reply.body
        )

    async def _deliver(self, outcome: SendOutcome, client_ip: str | None) -> Any:
        """Answer, or reset the connection (now, or after holding the request)."""
        conn = None
        if outcome.transport is not Transport.ANSWER and self.port:
            conn = netfaults.locate(client_ip, self.port)
            if conn is not None and conn.ambiguous:
                self.sandbox.injected["reset_ambiguous"] += 1
        if outcome.delay_s:
            await asyncio.sleep(outcome.delay_s)
        if outcome.transport is Transport.ANSWER:
            return self._response(outcome.reply)
        if outcome.transport is Transport.HANG:
            await asyncio.sleep(outcome.hang_s)
        if conn is not None and netfaults.reset(conn):
            return self._response(Reply(500, b"", None))  # written to a dead socket
        if conn is None:
            self.sandbox.injected["reset_unavailable"] += 1
            log.warning("could not find the connection to reset; answering an empty 5xx")
        # Not found, or the client already hung up (then nobody reads this).
        status = 502 if outcome.transport is Transport.RESET else 504
        return self._response(Reply(status, b"", None))

    def _routes(self) -> None:
        app, sb = self.app, self.sandbox

        @app.startup_handler  # type: ignore[untyped-decorator]
        async def startup() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, _exit_now, sig)
            await sb.callbacks.start()
            self._gc_task = asyncio.create_task(_keep_gc_cheap(), name="sandbox-gc")
            self.port = netfaults.listening_port(self.options.host) or self.options.port
            if self.options.ready_file:
                _write_ready(self.options.ready_file, self.options.host, self.port)
            log.info(
                "sandbox listening",
                extra={"host": self.options.host, "port": self.port, "seed": sb.seed},
            )

        @app.shutdown_handler  # type: ignore[untyped-decorator]
        async def shutdown() -> None:
            await sb.callbacks.stop()

        @app.post("/:version/:phone_number_id/messages")  # type: ignore[untyped-decorator]
        async def send(request: Any) -> Any:
            params = request.path_params
            outcome = sb.send(
                params["version"],
                params["phone_number_id"],
                request.headers.get("authorization"),
                request.body,
            )
            return await self._deliver(outcome, request.ip_addr)

        @app.get("/:version/:waba_id/message_templates")  # type: ignore[untyped-decorator]
        async def message_templates(request: Any) -> Any:
            params = request.path_params
            reply = sb.list_templates(
                params["version"],
                params["waba_id"],
                request.headers.get("authorization"),
                _query(request),
            )
            return self._response(reply)

        def route(method: str, path: str, fn: Callable[[Any], Reply]) -> None:
            async def handler(request: Any) -> Any:
                return self._response(fn(request))

            handler.__name__ = "admin_" + path.strip("/").replace("/", "_").replace(":", "")
            getattr(app, method)(path)(handler)

        route("get", "/_admin/health", lambda r: admin.health(sb, self.port))
        route("get", "/_admin/faults", lambda r: admin.get_faults(sb))
        route("put", "/_admin/faults", lambda r: admin.put_faults(sb, r.body))
        route("put", "/_admin/faults/default", lambda r: admin.put_fault_spec(sb, None, r.body))
        route(
            "put",
            "/_admin/faults/numbers/:phone_number_id",
            lambda r: admin.put_fault_spec(sb, r.path_params["phone_number_id"], r.body),
        )
        route(
            "delete",
            "/_admin/faults/numbers/:phone_number_id",
            lambda r: admin.delete_fault_spec(sb, r.path_params["phone_number_id"]),
        )
        route("get", "/_admin/ledger", lambda r: admin.ledger(sb, _query(r)))
        route("post", "/_admin/reset", lambda r: admin.reset(sb, r.body))
        route("get", "/_admin/templates", lambda r: admin.get_templates(sb))
        route("post", "/_admin/templates", lambda r: admin.post_templates(sb, r.body))
        route("get", "/_admin/limits", lambda r: admin.get_limits(sb))
        route("put", "/_admin/limits", lambda r: admin.put_limits(sb, r.body))
        route("get", "/_admin/callbacks", lambda r: admin.get_callbacks(sb))
        route("put", "/_admin/callbacks", lambda r: admin.put_callbacks(sb, r.body))

    def run(self) -> None:
        """Serve until the process is stopped (blocks)."""
        self.app.start(host=self.options.host, port=self.options.port, _check_port=False)


def serve(options: SandboxOptions) -> None:
    """Build the sandbox from `options` and serve it in this process (blocks)."""
    SandboxServer(Sandbox(options), options).run()
