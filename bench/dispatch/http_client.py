"""httpx.AsyncClient vs aiohttp.ClientSession for concurrent sends to a real sandbox.

    .venv/bin/python -m bench.dispatch.http_client [--sends 3000] [--concurrency 64]
        [--rounds 3] [--json] [--out FILE]

Starts `python -m ccx.sandbox --port 0` (no rate limits, no callbacks, faults off), then
for each round and each library (order alternating between rounds) sends `--sends` text
messages with `--concurrency` tasks sharing one pooled client (`--concurrency`
keep-alive connections), the way the dispatch worker would. Figures per library: sends/s
(best round), p50/p99 latency in ms and client CPU µs per send (process CPU time / sends,
the sandbox runs in another process), plus a correctness flag: every answer was 200 with
a wamid and the sandbox ledger holds exactly the sends made. The sandbox shares the
machine, so the sends/s figures include its cost; CPU per send isolates the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

ROOT = Path(__file__).resolve().parents[2]
PNID = "106540352242922"
TOKEN = "sandbox"

Send = Callable[[bytes], Awaitable[str]]


def start_sandbox(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = workdir / "ready.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
    args = ["--port", "0", "--ready-file", str(ready), "--no-throughput-limit", "--no-pair-limit"]
    args += ["--log-level", "WARNING"]
    proc = subprocess.Popen([sys.executable, "-m", "ccx.sandbox", *args], env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ready.exists() and ready.stat().st_size:
            url = f"http://127.0.0.1:{json.loads(ready.read_text())['port']}"
            try:
                if httpx.get(url + "/_admin/health", timeout=1, trust_env=False).is_success:
                    return proc, url
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("sandbox did not start")


def body(i: int) -> bytes:
    return orjson.dumps(
        {
            "messaging_product": "whatsapp",
            "to": f"+1408555{i % 10000:04d}",
            "type": "text",
            "text": {"body": f"bench {i}"},
            "biz_opaque_callback_data": f"bench-{i}.1",
        }
    )


async def drive(send: Send, sends: int, concurrency: int) -> tuple[float, list[float], float, bool]:
    """(elapsed s, latencies s, client CPU s, all answers 200 with a wamid)."""
    bodies = [body(i) for i in range(sends)]
    latencies: list[float] = []
    ok = True
    queue = iter(bodies)

    async def worker() -> None:
        nonlocal ok
        for b in queue:
            t0 = time.perf_counter()
            wamid = await send(b)
            latencies.append(time.perf_counter() - t0)
            ok = ok and wamid.startswith("wamid.")

    for b in bodies[:concurrency]:  # warm the pool: open every connection once
        await send(b)
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies, time.process_time() - cpu0, ok


async def run_httpx(
    url: str, sends: int, concurrency: int
) -> tuple[float, list[float], float, bool]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    async with httpx.AsyncClient(timeout=5.0, limits=limits, trust_env=False) as client:
        target = f"{url}/v23.0/{PNID}/messages"

        async def send(b: bytes) -> str:
            r = await client.post(target, content=b, headers=headers)
            return str(orjson.loads(r.content)["messages"][0]["id"]) if r.status_code == 200 else ""

        return await drive(send, sends, concurrency)


async def run_aiohttp(
    url: str, sends: int, concurrency: int
) -> tuple[float, list[float], float, bool]:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=5.0)
    headers = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        target = f"{url}/v23.0/{PNID}/messages"

        async def send(b: bytes) -> str:
            async with session.post(target, data=b, headers=headers) as r:
                raw = await r.read()
                return str(orjson.loads(raw)["messages"][0]["id"]) if r.status == 200 else ""

        return await drive(send, sends, concurrency)


LIBRARIES = {"httpx": run_httpx, "aiohttp": run_aiohttp}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sends", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_sandbox(Path(tmp))
        try:
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name in LIBRARIES}
            for rnd in range(args.rounds):
                order = list(LIBRARIES) if rnd % 2 == 0 else list(reversed(LIBRARIES))
                for name in order:
                    httpx.post(url + "/_admin/reset", json={}, trust_env=False).raise_for_status()
                    elapsed, lat, cpu, ok = asyncio.run(
                        LIBRARIES[name](url, args.sends, args.concurrency)
                    )
                    ledger = httpx.get(url + "/_admin/ledger?entries=0", trust_env=False).json()
                    rows[name].append(
                        {
                            "sends_s": args.sends / elapsed,
                            "p50_ms": pct(lat, 0.50),
                            "p99_ms": pct(lat, 0.99),
                            "cpu_us_per_send": cpu / args.sends * 1e6,
                            "correct": ok and ledger["count"] == args.sends + args.concurrency,
                        }
                    )
        finally:
            proc.terminate()
            proc.wait(5)
    summary = {}
    for name, runs in rows.items():
        best = max(runs, key=lambda r: r["sends_s"])
        summary[name] = {
            **best,
            "cpu_us_per_send": min(r["cpu_us_per_send"] for r in runs),
            "correct": all(r["correct"] for r in runs),
        }
    report = {
        "benchmark": "dispatch-http-client",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "versions": {"httpx": httpx.__version__, "aiohttp": aiohttp.__version__},
        "settings": vars(args),
        "summary": summary,
        "rounds": rows,
    }
    if args.out:
        Path(args.out).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print(f"{'library':<8} {'sends/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/send':>12}  ok")
        for name, s in summary.items():
            print(
                f"{name:<8} {s['sends_s']:>8,.0f} {s['p50_ms']:>7.1f} {s['p99_ms']:>7.1f} "
                f"{s['cpu_us_per_send']:>12,.0f}  {'yes' if s['correct'] else 'NO'}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
