"""`ccx bench pipeline`: what a client sees end to end, at rising offered rates.

A stack of its own (the Meta sandbox answering after `--meta-latency`, `ccx serve`, one
`ccx worker`) and a signature-checking webhook receiver in this process. For each rate in
`--rates`, text messages are posted open loop (each at its due time, answered or not) for
`--duration` seconds, then the run waits for their `message.sent` webhooks. Per message:

- **accept**: from the moment its request was due to the 202;
- **sent**: from the 202 to the `sent` state recorded (the event's time, carried in the
  webhook) on Meta's answer (the sandbox's `sent` callback comes a second after the send);
- **webhook**: from the 202 to the `message.sent` webhook received by the client;
- **end_to_end**: from the request's due time to that webhook.

The baseline, measured in the same run, is a client posting straight to the sandbox (no
gateway) at the first rate. A client calling Meta itself learns a message is sent when the
answer comes back; through ccx, when the webhook does: `end_to_end p50 − baseline p50` is
what the gateway adds.
The ramp stops early when a step leaves messages without their webhook after `--drain`
seconds or its webhook p99 exceeds `--stop-p99-ms`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

import ccx
from ccx.bench import plot, stack
from ccx.bench.cpu import CpuMeter, service_pids
from ccx.bench.ingest import machine, package_versions
from ccx.bench.progress import Progress
from ccx.config import load_settings
from ccx.stack.cli import wait_ready
from ccx.stack.demo import Receiver
from ccx.stack.supervisor import Supervisor

TENANT = "bench-pipeline"
SENDER = "109000000000002"
#: The baseline's number: registered nowhere in ccx, so the sandbox's status callbacks for
#: the baseline's sends stop at the number lookup instead of reaching the bench tenant (where
#: the status consumer looked each of them up by wamid, a scan of the tenant on FerretDB v1).
BASELINE_SENDER = "109000000000003"
SENT_CALLBACK_S = 1.0
SCOPES = "messages:write messages:read webhooks:write webhooks:read admin"
PACKAGES = ("granian", "aio-pika", "pymongo", "redis", "aiohttp", "httpx")


@dataclass
class PipelineOptions:
    """The options of one run."""

    rates: list[int] = field(default_factory=lambda: [10, 20, 30, 40, 60, 80])
    duration_s: float = 10.0
    warmup_s: float = 3.0
    meta_latency: str = "uniform:80:250"
    events: str = "all"  # the endpoint's subscription: "all" or "sent"
    drain_s: float = 60.0
    stop_p99_ms: float = 5_000.0
    connections: int = 128
    baseline_messages: int = 200
    keep: bool = False  # leave the bench tenant's data for inspection

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Offer:
    """One request of the load: when it was due (wall clock) and what came of it."""

    due: float
    accept_ms: float
    message_id: str | None
    status: int


@dataclass
class Ledger:
    """What the receiver saw: every webhook's arrival, and per message its `sent` time and
    when its `message.sent` webhook arrived."""

    arrivals: list[float] = field(default_factory=list)
    sent_at: dict[str, float] = field(default_factory=dict)
    hooked_at: dict[str, float] = field(default_factory=dict)

    def record(self, event: dict[str, Any], received: float) -> None:
        self.arrivals.append(received)
        if event.get("type") == "message.sent":
            message_id = event["data"]["message_id"]
            at = dt.datetime.fromisoformat(event["timestamp"]).timestamp()
            self.sent_at.setdefault(message_id, at)
            self.hooked_at.setdefault(message_id, received)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/max in ms, rounded; None for an empty sample."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    return {
        "p50": round(pct(values, 0.5), 1),
        "p90": round(pct(values, 0.9), 1),
        "p99": round(pct(values, 0.99), 1),
        "max": round(max(values), 1),
    }


def text_message(i: int) -> bytes:
    """A text message to a recipient of its own (the per-recipient limit never binds)."""
    body = {"to": f"+4477{i:08d}", "type": "text", "text": {"body": f"pipeline bench {i}"}}
    return orjson.dumps(body)


def step_report(
    rate: int, duration_s: float, start_s: float, offers: list[Offer], ledger: Ledger
) -> dict[str, Any]:
    """One rate's figures from its offers and what the receiver recorded."""
    ok = [o for o in offers if o.message_id is not None]
    sent_ms, hook_ms, end_ms = [], [], []
    for o in ok:
        answered = o.due + o.accept_ms / 1000  # when the client had its 202
        if o.message_id in ledger.sent_at:
            sent_ms.append((ledger.sent_at[o.message_id] - answered) * 1000)
        if o.message_id in ledger.hooked_at:
            hook_ms.append((ledger.hooked_at[o.message_id] - answered) * 1000)
            end_ms.append((ledger.hooked_at[o.message_id] - o.due) * 1000)
    return {
        "rate": rate,
        "start_s": round(start_s, 2),
        "duration_s": duration_s,
        "offered": len(offers),
        "accepted": len(ok),
        "sent": len(sent_ms),
        "webhooks": len(hook_ms),
        "errors": len(offers) - len(ok),
        "latency_ms": {
            "accept": spread([o.accept_ms for o in ok]),
            "sent": spread(sent_ms),
            "webhook": spread(hook_ms),
            "end_to_end": spread(end_ms),  # request due → webhook: compare with the baseline
        },
        "throughput": {
            "accepted_per_s": round(len(ok) / duration_s, 1),
            "sent_per_s": round(len(sent_ms) / duration_s, 1),
            "webhooks_per_s": round(len(hook_ms) / duration_s, 1),
        },
    }


def timeline(
    start: float, offers: list[Offer], ledger: Ledger, until: float
) -> list[dict[str, Any]]:
    """Per-second counts of 202s, `sent` events and webhooks (of every type) since `start`."""
    seconds = max(1, int(until - start) + 1)
    rows = [{"t": float(s), "accepted": 0, "sent": 0, "webhooks": 0} for s in range(seconds)]

    def bump(at: float, key: str) -> None:
        index = int(at - start)
        if 0 <= index < seconds:
            rows[index][key] += 1

    for offer in offers:
        if offer.message_id is not None:
            bump(offer.due + offer.accept_ms / 1000, "accepted")
    for at in ledger.sent_at.values():
        bump(at, "sent")
    for at in ledger.arrivals:
        bump(at, "webhooks")
    return rows


def stop_reason(step: dict[str, Any], stop_p99_ms: float) -> str | None:
    """Why the ramp ends after this step, or None to go on."""
    if step["errors"] > 0.01 * step["offered"]:
        return f"{step['errors']} of {step['offered']} requests refused or failed"
    if step["webhooks"] < step["accepted"]:
        return f"{step['accepted'] - step['webhooks']} messages without their webhook"
    p99 = step["latency_ms"]["webhook"]["p99"]
    if p99 is not None and p99 > stop_p99_ms:
        return f"webhook p99 {p99:.0f} ms > {stop_p99_ms:.0f} ms"
    return None


def summarize(
    steps: list[dict[str, Any]], baseline: dict[str, Any], stop_p99_ms: float
) -> dict[str, Any]:
    """The highest rate the pipeline kept up with (every message got its webhook, webhook
    p99 within `stop_p99_ms`), with its figures."""
    kept_up = [s for s in steps if stop_reason(s, stop_p99_ms) is None]
    best = max(kept_up, key=lambda s: s["rate"], default=None)
    if best is None:
        return {"sustained_rate": None}
    hook_p50 = best["latency_ms"]["end_to_end"]["p50"]
    direct_p50 = baseline["latency_ms"]["p50"]
    return {
        "sustained_rate": best["rate"],
        "accept_p99_ms": best["latency_ms"]["accept"]["p99"],
        "sent_p50_ms": best["latency_ms"]["sent"]["p50"],
        "sent_p99_ms": best["latency_ms"]["sent"]["p99"],
        "webhook_p50_ms": best["latency_ms"]["webhook"]["p50"],
        "webhook_p99_ms": best["latency_ms"]["webhook"]["p99"],
        "end_to_end_p50_ms": hook_p50,
        "baseline_direct_p50_ms": direct_p50,
        # a client calling Meta itself knows a message is sent when the answer comes back;
        # through ccx, when the `message.sent` webhook does
        "gateway_adds_p50_ms": round(hook_p50 - direct_p50, 1)
        if hook_p50 is not None and direct_p50 is not None
        else None,
        "webhook_to_direct_p50": round(hook_p50 / direct_p50, 2)
        if hook_p50 is not None and direct_p50
        else None,
        "gateway_adds_p50_ms_by_rate": {
            str(s["rate"]): round(s["latency_ms"]["end_to_end"]["p50"] - direct_p50, 1)
            for s in steps
            if s["latency_ms"]["end_to_end"]["p50"] is not None and direct_p50 is not None
        },
    }


class Run:
    """The stack and the client of one benchmark run."""

    def __init__(self, opts: PipelineOptions, log_dir: Path, quiet: bool) -> None:
        self.opts = opts
        self.quiet = quiet
        self.env = stack.bench_env()
        self.sandbox_port = stack.free_port()
        self.api_port = stack.free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        self.env.update(
            {
                "CCX_DISPATCH_META_BASE_URL": self.sandbox,
                "CCX_WEBHOOKS_ALLOW_NETWORKS": "127.0.0.0/8",
            }
        )
        self.supervisor = Supervisor(log_dir, self.env)
        self.ledger = Ledger()
        self.receiver = Receiver(None, self.ledger.record)

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"ccx bench pipeline: {text}", file=sys.stderr, flush=True)

    def start_stack(self) -> None:
        exe = [sys.executable, "-m", "ccx.cli"]
        sandbox = [*exe, "sandbox", "--port", str(self.sandbox_port), "--log-level", "WARNING"]
        sandbox += ["--latency", self.opts.meta_latency, "--no-throughput-limit"]
        sandbox += ["--no-pair-limit", "--callback-url", f"{self.api}/webhooks/meta"]
        # Meta's `sent` callback follows its answer (by a second or more); the sandbox's
        # default of 0.1 s would often beat the answer and flatter the gateway
        sandbox += ["--sent-delay", str(SENT_CALLBACK_S)]
        self.supervisor.start("sandbox", sandbox)
        self.supervisor.start("serve", [*exe, "serve", "--port", str(self.api_port)])
        self.supervisor.start("worker", [*exe, "worker", "--tenant", TENANT, "--metrics-port", "0"])
        for url in (f"{self.sandbox}/_admin/health", f"{self.api}/readyz"):
            try:
                wait_ready(url, 60.0, self.supervisor)
            except RuntimeError as exc:
                raise stack.SetupError(str(exc)) from exc

    async def prepare(self, client: httpx.AsyncClient) -> None:
        """The sender (tier 1000) and a webhook endpoint for the receiver."""
        sender = {"waba_id": stack.BENCH_WABA, "access_token": "sandbox", "is_default": True}
        reply = await client.put(f"/v1/senders/{SENDER}", json={**sender, "throughput": 1000})
        reply.raise_for_status()
        endpoint: dict[str, Any] = {"url": self.receiver.url, "description": "ccx bench pipeline"}
        if self.opts.events == "sent":
            endpoint["events"] = ["message.sent"]
        reply = await client.post("/v1/webhook-endpoints", json=endpoint)
        if reply.status_code != 201:
            raise stack.SetupError(f"webhook endpoint: {reply.status_code} {reply.text}")
        self.receiver.trust(str(reply.json()["secret"]))

    async def baseline(self) -> dict[str, Any]:
        """Sends straight to the sandbox at the first rate: the latency Meta alone costs."""
        rate = self.opts.rates[0]
        count = self.opts.baseline_messages
        url = f"{self.sandbox}/v23.0/{BASELINE_SENDER}/messages"
        headers = {"authorization": "Bearer sandbox", "content-type": "application/json"}
        latencies: list[float] = []
        async with self.session(headers) as client:

            async def one(i: int, due: float) -> None:
                body = {
                    "messaging_product": "whatsapp",
                    "to": f"4478{i:08d}",
                    "type": "text",
                    "text": {"body": "baseline"},
                }
                async with client.post(url, data=orjson.dumps(body)) as reply:
                    await reply.read()
                    if reply.status == 200:
                        latencies.append((time.perf_counter() - due) * 1000)

            start = time.perf_counter()
            tasks = []
            for i in range(count):
                due = start + i / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(one(i, due)))
            await asyncio.gather(*tasks)
        return {"rate": rate, "sends": count, "ok": len(latencies), "latency_ms": spread(latencies)}

    def session(self, headers: dict[str, str]) -> aiohttp.ClientSession:
        """The load's HTTP client: aiohttp, which costs a twentieth of httpx's CPU per
        request (bench/dispatch/http_client.py); this client shares the cores it measures."""
        return aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=self.opts.connections),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def offer(
        self, client: aiohttp.ClientSession, rate: int, first: int, seconds: float
    ) -> list[Offer]:
        """`rate` requests a second for `seconds`, each at its due time."""
        count = int(rate * seconds)
        progress = Progress(f"  {rate:>5}/s offer", count, enabled=not self.quiet)

        url = f"{self.api}/v1/messages"

        async def one(i: int, due_perf: float, due_wall: float) -> Offer:
            try:
                async with client.post(url, data=text_message(first + i)) as reply:
                    body = await reply.read()
                    status = reply.status
            except (aiohttp.ClientError, TimeoutError):
                return Offer(due_wall, (time.perf_counter() - due_perf) * 1000, None, 0)
            accept_ms = (time.perf_counter() - due_perf) * 1000
            message_id = orjson.loads(body).get("id") if status == 202 else None
            return Offer(due_wall, accept_ms, message_id, status)

        start_perf, start_wall = time.perf_counter(), time.time()
        tasks = []
        for i in range(count):
            due = start_perf + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i, due, start_wall + i / rate)))
            if i % 25 == 0:
                progress.update(i, f"{len(self.ledger.hooked_at)} webhooks")
        offers = list(await asyncio.gather(*tasks))
        progress.close(f"{sum(o.message_id is not None for o in offers)} accepted")
        return offers

    async def drain(self, offers: list[Offer]) -> None:
        """Wait (at most `drain_s`) for every accepted message's `message.sent` webhook."""
        ids = [o.message_id for o in offers if o.message_id is not None]
        progress = Progress("         webhooks", len(ids), enabled=not self.quiet)
        deadline = time.monotonic() + self.opts.drain_s
        while time.monotonic() < deadline:
            done = sum(1 for i in ids if i in self.ledger.hooked_at)
            progress.update(done, f"{done}/{len(ids)}")
            if done == len(ids):
                break
            await asyncio.sleep(0.1)
        done = sum(1 for i in ids if i in self.ledger.hooked_at)
        progress.close(f"{done}/{len(ids)} message.sent webhooks")

    def meter(self) -> CpuMeter:
        """CPU of the stack's processes, the services and this client with its receiver."""
        pids = {c.name: c.proc.pid for c in self.supervisor.children if c.proc is not None}
        return CpuMeter({**pids, **service_pids(), "bench client": os.getpid()})

    async def ramp(self, token: str) -> dict[str, Any]:
        await self.receiver.start(0)
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        async with httpx.AsyncClient(
            base_url=self.api, headers=headers, timeout=30, trust_env=False
        ) as admin:
            await self.prepare(admin)
        async with self.session(headers) as client:
            self.say(f"baseline: {self.opts.baseline_messages} sends straight to the sandbox")
            baseline = await self.baseline()
            first = 0
            if self.opts.warmup_s > 0:
                self.say(f"warm-up: {self.opts.rates[0]} msg/s for {self.opts.warmup_s:g} s")
                warm = await self.offer(client, self.opts.rates[0], first, self.opts.warmup_s)
                await self.drain(warm)
                first = len(warm)
            start = time.time()
            steps: list[dict[str, Any]] = []
            every: list[Offer] = []
            stopped = None
            for rate in self.opts.rates:
                self.say(f"{rate} msg/s for {self.opts.duration_s:g} s")
                step_start = time.time() - start
                meter = self.meter()
                meter.start()
                began = time.monotonic()
                offers = await self.offer(client, rate, first, self.opts.duration_s)
                first += len(offers)
                await self.drain(offers)
                # over the offer and its drain; the delivered and read webhooks of a step
                # spill into the next one, as the last step's do into the final second
                cpu, wall = meter.stop(), time.monotonic() - began
                every += offers
                step = step_report(rate, self.opts.duration_s, step_start, offers, self.ledger)
                step["cpu_s"] = cpu
                step["cpu_busy"] = round(sum(cpu.values()) / (wall * (os.cpu_count() or 1)), 2)
                step["cpu_ms_per_message"] = {
                    name: round(seconds * 1000 / max(1, step["accepted"]), 2)
                    for name, seconds in cpu.items()
                }
                steps.append(step)
                if any(not child.alive for child in self.supervisor.children):
                    stopped = "a process of the stack died; see its log"
                    break
                stopped = stop_reason(step, self.opts.stop_p99_ms)
                if stopped:
                    break
            await asyncio.sleep(1.0)  # the last delivered/read webhooks into the timeline
        await self.receiver.stop()
        return {
            "baseline": baseline,
            "steps": steps,
            "timeline": timeline(start, every, self.ledger, time.time()),
            "stopped": stopped,
            "webhooks_refused": self.receiver.rejected,
        }


def versions(services: dict[str, str]) -> dict[str, Any]:
    return {
        "ccx": ccx.__version__,
        "python": platform.python_version(),
        **package_versions(PACKAGES),
        "services": services,
    }


def run(opts: PipelineOptions, checkout: Path | None, quiet: bool = False) -> dict[str, Any]:
    """The whole benchmark: stack up, ramp, stack down; the report."""
    if not opts.rates:
        raise ValueError("at least one rate")
    log_dir = (checkout or Path.cwd()) / "var" / "log" / "bench-pipeline"
    bench = Run(opts, log_dir, quiet)
    script = checkout / "scripts" / "services.sh" if checkout else None
    settings = load_settings(env=bench.env)
    services = asyncio.run(stack.ensure_services(settings, script))
    started = time.monotonic()
    stack.prepare_tenant(TENANT, bench.env)
    token = stack.ccx_cli(
        ["token", "issue", "--tenant", TENANT, "--scope", SCOPES, "--ttl", "7200"], bench.env
    )
    try:
        bench.say(f"starting the stack (logs in {log_dir})")
        bench.start_stack()
        result = asyncio.run(bench.ramp(token))
    finally:
        bench.supervisor.stop()
        if not opts.keep:
            asyncio.run(stack.drop_tenant(settings, TENANT))
    return {
        "benchmark": "pipeline",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(time.monotonic() - started, 1),
        "machine": machine(),
        "versions": versions(services),
        "settings": {
            **opts.as_dict(),
            "worker_processes": 1,
            "serve_workers": 1,
            "sandbox": f"latency {opts.meta_latency}, no throughput or pair limits, callbacks "
            f"on (sent {SENT_CALLBACK_S:g} s after the send)",
        },
        **result,
        "summary": summarize(result["steps"], result["baseline"], opts.stop_p99_ms),
    }


def render_table(report: dict[str, Any]) -> str:
    """The steps as a text table, then the summary line."""
    head = (
        f"{'rate/s':>7} {'accepted':>9} {'errors':>6}  {'accept p50/p99':>15}  "
        f"{'sent p50/p99':>15}  {'webhook p50/p99':>16}"
    )
    lines = [head, "-" * len(head)]

    def pair(stats: dict[str, Any]) -> str:
        if stats["p50"] is None:
            return "-"
        return f"{stats['p50']:.0f}/{stats['p99']:.0f} ms"

    for step in report["steps"]:
        lat = step["latency_ms"]
        lines.append(
            f"{step['rate']:>7} {step['accepted']:>9} {step['errors']:>6}  "
            f"{pair(lat['accept']):>15}  {pair(lat['sent']):>15}  {pair(lat['webhook']):>16}"
        )
    base = report["baseline"]["latency_ms"]
    lines.append(
        f"baseline (straight to the sandbox at {report['baseline']['rate']}/s): "
        f"p50 {base['p50']} ms, p99 {base['p99']} ms"
    )
    summary = report["summary"]
    if summary.get("sustained_rate"):
        lines.append(
            f"sustained: {summary['sustained_rate']}/s; at that rate "
            f"the message.sent webhook comes {summary['gateway_adds_p50_ms']} ms (p50) after "
            "a direct call's answer would"
        )
    if report.get("stopped"):
        lines.append(f"ramp stopped: {report['stopped']}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = PipelineOptions()
    parser.add_argument(
        "--rates",
        default=",".join(map(str, defaults.rates)),
        help="offered rates in messages/s, comma-separated (default %(default)s)",
    )
    parser.add_argument("--duration", type=float, default=defaults.duration_s, help="s per rate")
    parser.add_argument(
        "--warmup", type=float, default=defaults.warmup_s, help="s at the first rate, not counted"
    )
    parser.add_argument(
        "--meta-latency",
        default=defaults.meta_latency,
        help="the sandbox's answer delay: fixed:MS | uniform:MIN:MAX | normal:MEAN:SD | exp:MEAN",
    )
    parser.add_argument(
        "--events",
        choices=("all", "sent"),
        default=defaults.events,
        help="the webhook endpoint's subscription (all: sent, delivered and read)",
    )
    parser.add_argument("--drain", type=float, default=defaults.drain_s, help="s to wait")
    parser.add_argument("--stop-p99-ms", type=float, default=defaults.stop_p99_ms)
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument(
        "--baseline-messages",
        type=int,
        default=defaults.baseline_messages,
        help="sends straight to the sandbox for the baseline",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--out", type=Path, help="report path (default bench/results/pipeline-<date>.json)"
    )
    parser.add_argument("--plot", action="store_true", help="also write PNG charts beside it")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--keep", action="store_true", help="keep the bench tenant's messages and events"
    )


def options(args: argparse.Namespace) -> PipelineOptions:
    try:
        rates = [int(r) for r in str(args.rates).split(",") if r.strip()]
    except ValueError as exc:
        raise SystemExit(f"ccx bench pipeline: --rates: {exc}") from exc
    if not rates or min(rates) <= 0:
        raise SystemExit("ccx bench pipeline: --rates needs positive integers")
    return PipelineOptions(
        rates=rates,
        duration_s=args.duration,
        warmup_s=args.warmup,
        meta_latency=args.meta_latency,
        events=args.events,
        drain_s=args.drain,
        stop_p99_ms=args.stop_p99_ms,
        connections=args.connections,
        baseline_messages=args.baseline_messages,
        keep=args.keep,
    )


def default_out(checkout: Path | None, report: dict[str, Any]) -> Path | None:
    if checkout is None:
        return None
    return checkout / "bench" / "results" / f"pipeline-{report['date'][:10]}.json"


def main(args: argparse.Namespace, checkout: Path | None) -> int:
    opts = options(args)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    try:
        if args.plot:
            plot.require()
        report = run(opts, checkout, quiet=args.quiet or args.json)
    except (stack.SetupError, plot.PlotError) as exc:
        print(f"ccx bench pipeline: {exc}", file=sys.stderr)
        return 2
    data = orjson.dumps(report, option=orjson.OPT_INDENT_2)
    out = args.out or default_out(checkout, report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data + b"\n")
    if args.json:
        print(data.decode())
    else:
        print(render_table(report))
        if out is not None:
            print(f"report: {out}")
    if args.plot:
        results_dir = out.parent if out is not None else Path.cwd()
        plot.write_run_charts(report, out, results_dir, sys.stderr if args.json else sys.stdout)
    return 0 if report["summary"].get("sustained_rate") else 1
