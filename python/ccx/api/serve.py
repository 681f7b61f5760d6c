"""`ccx serve`: the API under granian (RSGI, uvloop)."""

from __future__ import annotations

import argparse
import os
import tempfile

from ccx.config import load_settings


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="ccx serve", description=__doc__)
    parser.add_argument("--host", default=settings.api.host)
    parser.add_argument("--port", type=int, default=settings.api.port)
    parser.add_argument("--workers", type=int, default=settings.api.workers)
    parser.add_argument(
        "--runtime-threads",
        type=int,
        default=settings.api.runtime_threads,
        help="Rust I/O threads/worker",
    )
    parser.add_argument("--backpressure", type=int, default=None, help="max connections/worker")
    parser.add_argument("--backlog", type=int, default=2048)
    parser.add_argument("--task-impl", choices=("asyncio", "rust"), default=settings.api.task_impl)
    parser.add_argument("--http", choices=("auto", "1", "2"), default=settings.api.http)
    parser.add_argument(
        "--runtime-mode", choices=("auto", "st", "mt"), default=settings.api.runtime_mode
    )
    parser.add_argument("--access-log", action="store_true", help="granian access log")
    args = parser.parse_args(argv)

    from granian.server import Server

    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker writes its samples here; /metrics aggregates them.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ccx-metrics-")
    server = Server(
        "ccx.api.app:create_app",
        address=args.host,
        port=args.port,
        interface="rsgi",  # type: ignore[arg-type]
        workers=args.workers,
        runtime_threads=args.runtime_threads,
        runtime_mode=args.runtime_mode,
        task_impl=args.task_impl,
        http=args.http,
        loop="uvloop",  # type: ignore[arg-type]
        backlog=args.backlog,
        backpressure=args.backpressure,
        log_access=args.access_log,
        factory=True,
        websockets=False,
    )
    server.serve()
    return 0
