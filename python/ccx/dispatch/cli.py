"""`ccx worker`: run a dispatch worker until SIGTERM or SIGINT (uvloop)."""

from __future__ import annotations

import argparse
import asyncio
import signal

import uvloop
from prometheus_client import start_http_server

from ccx.config import load_settings
from ccx.dispatch.worker import Worker


async def _run(worker: Worker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="ccx worker", description=__doc__)
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=settings.dispatch.metrics_port,
        help="serve Prometheus /metrics on 127.0.0.1:PORT (0: off)",
    )
    parser.add_argument("--id", help="worker id in leases and logs (default: random)")
    parser.add_argument(
        "--tenant",
        action="append",
        dest="tenants",
        help="serve only this tenant (repeatable; default: every tenant)",
    )
    args = parser.parse_args(argv)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr="127.0.0.1")
    uvloop.run(_run(Worker(settings, worker_id=args.id, tenants=args.tenants)))
    return 0
