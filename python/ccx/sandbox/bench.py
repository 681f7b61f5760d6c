"""Open-loop load generator for the sandbox: fixed request rates, latency from the *intended*
send time (so queueing in the client counts, no coordinated omission), p50/p90/p99 per rate.

    python -m ccx.sandbox.bench --url http://127.0.0.1:8090 --rates 500,1000,2000 --duration 10

It turns both send limits off through the admin API first (`--keep-limits` to leave them)
and resets the sandbox (ledger, pending callbacks) before each run,
sends the reference template message to rotating recipients over `--connections` keep-alive
connections (raw asyncio streams, HTTP/1.1) and prints one JSON line per rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

TEMPLATE_BODY = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "14085551234",
    "type": "template",
    "template": {
        "name": "otp_code",
        "language": {"code": "en_US"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "123456"}],
            },
        ],
    },
    "biz_opaque_callback_data": "bench",
}


@dataclass
class Result:
    rate: float
    sent: int
    ok: int
    errors: int
    elapsed_s: float
    latencies_ms: list[float]

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(p / 100 * len(data)))]

    def to_json(self) -> dict[str, float | int]:
        return {
            "offered_rps": self.rate,
            "achieved_rps": round(self.ok / self.elapsed_s, 1),
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "p50_ms": round(self.percentile(50), 2),
            "p90_ms": round(self.percentile(90), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 2),
        }


def _requests(host: str, port: int, path: str, token: str, count: int) -> list[bytes]:
    out = []
    for i in range(count):
        body = dict(TEMPLATE_BODY, to=f"1408{i:07d}")
        raw = json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\nauthorization: Bearer {token}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(raw)}\r\n\r\n"
        )
        out.append(head.encode() + raw)
    return out


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def run_rate(
    host: str, port: int, path: str, token: str, rate: float, duration: float, connections: int
) -> Result:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    total = int(rate * duration)
    requests = _requests(host, port, path, token, min(total, 10_000))
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}

    async def one(i: int, intended: float) -> None:
        conn = await pool.get()
        try:
            status = await _exchange(*conn, requests[i % len(requests)])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counts["errors"] += 1
            conn = await asyncio.open_connection(host, port)
        else:
            counts["ok" if status == 200 else "errors"] += 1
            latencies.append((time.perf_counter() - intended) * 1000)
        pool.put_nowait(conn)

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        intended = start + i / rate
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, intended)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return Result(rate, total, counts["ok"], counts["errors"], elapsed, latencies)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ccx.sandbox.bench")
    p.add_argument("--url", default="http://127.0.0.1:8090")
    p.add_argument("--phone-number-id", default="106540352242922")
    p.add_argument("--token", default="sandbox")
    p.add_argument("--rates", default="250,500,1000,1500,2000,3000")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--keep-limits", action="store_true")
    p.add_argument("--repeat", type=int, default=1, help="runs per rate")
    p.add_argument("--server-pid", type=int, help="also report the sandbox's CPU per request")
    args = p.parse_args(argv)
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if not args.keep_limits:
        limits = {"throughput_enabled": False, "pair_enabled": False}
        httpx.put(f"{args.url}/_admin/limits", json=limits, trust_env=False).raise_for_status()
    path = f"/v23.0/{args.phone_number_id}/messages"
    for rate in (float(r) for r in args.rates.split(",")):
        for _ in range(args.repeat):
            httpx.post(f"{args.url}/_admin/reset", json={}, trust_env=False).raise_for_status()
            cpu = cpu_seconds(args.server_pid) if args.server_pid else 0.0
            result = asyncio.run(
                run_rate(host, port, path, args.token, rate, args.duration, args.connections)
            )
            line = result.to_json()
            if args.server_pid:
                used = cpu_seconds(args.server_pid) - cpu
                line["server_cpu_us_per_request"] = round(used / max(1, result.sent) * 1e6)
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
