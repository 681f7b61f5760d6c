"""oha, the open-loop HTTP load generator of `ccx bench ingest`: where to find it, the
command for one fixed-rate run, and its JSON report reduced to one row of figures.

oha is installed from crates.io by `scripts/install-oha.sh` into `.bin/oha/` of the checkout
(pinned version below); one on the PATH is used when the checkout has none.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

#: The version `scripts/install-oha.sh` installs and whose JSON this module is tested on.
OHA_VERSION = "1.16.0"
PERCENTILES = {"p50": "p50", "p90": "p90", "p99": "p99", "p99.9": "p99.9"}
SUCCESS_STATUS = 202


def find_oha(checkout: Path | None) -> Path | None:
    """`.bin/oha/bin/oha` of the checkout, else `oha` on the PATH, else None."""
    if checkout is not None:
        local = checkout / ".bin" / "oha" / "bin" / "oha"
        if local.is_file():
            return local
    found = shutil.which("oha")
    return Path(found) if found else None


def oha_version(oha: Path) -> str:
    """`oha --version` without the program name (`1.16.0`)."""
    out = subprocess.run([str(oha), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().removeprefix("oha").strip() or "unknown"


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """One open-loop run: `rate` requests per second for `duration_s`, at most
    `connections` in flight; requests the server cannot take in time wait in oha and that
    wait counts in their latency (`--latency-correction`)."""

    url: str
    rate: int
    duration_s: float
    connections: int
    bodies: Sequence[bytes]
    headers: Mapping[str, str]
    timeout_s: float = 10.0
    threads: int | None = None


def oha_command(oha: Path, spec: LoadSpec, bodies_file: Path) -> list[str]:
    """The oha command line for `spec`; the request bodies are the lines of `bodies_file`
    (`-Z`, taken in turn). Requests still in flight at the deadline are waited for (`-w`)
    rather than counted as aborted."""
    command = [
        str(oha),
        "--no-tui",
        "--output-format",
        "json",
        "-z",
        f"{spec.duration_s:g}s",
        "-q",
        str(spec.rate),
        "--latency-correction",
        "-w",
        "-c",
        str(spec.connections),
        "-t",
        f"{spec.timeout_s:g}s",
        "-m",
        "POST",
        "-Z",
        str(bodies_file),
    ]
    if spec.threads:
        command += ["--worker-threads", str(spec.threads)]
    for name, value in spec.headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(spec.url)
    return command


@dataclass
class RateRow:
    """The figures of one fixed-rate run. Latencies in milliseconds, None without answers."""

    offered_rps: int
    duration_s: float
    requests: int
    accepted: int
    achieved_rps: float
    accepted_rps: float
    status_codes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    #: CPU time per accepted message of each process (filled by the bench, not by oha).
    cpu_ms_per_message: dict[str, float] = field(default_factory=dict)
    #: The server's own latency histogram over the run (`ccx.bench.server_latency`).
    server_latency: dict[str, float | None] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        """Requests that did not get a 202: other statuses plus transport errors."""
        return self.requests - self.accepted

    @property
    def error_ratio(self) -> float:
        return self.failed / self.requests if self.requests else 1.0

    @property
    def p99_ms(self) -> float | None:
        return self.latency_ms.get("p99")

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered_rps": self.offered_rps,
            "duration_s": self.duration_s,
            "requests": self.requests,
            "accepted": self.accepted,
            "failed": self.failed,
            "error_ratio": round(self.error_ratio, 6),
            "achieved_rps": self.achieved_rps,
            "accepted_rps": self.accepted_rps,
            "status_codes": self.status_codes,
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            "cpu_ms_per_message": self.cpu_ms_per_message,
            "server_latency": self.server_latency,
        }


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value) * 1000, 3)


def parse_report(report: Mapping[str, Any], offered_rps: int) -> RateRow:
    """One row from oha's `--output-format json` report (times there are in seconds).

    Every non-202 status counts as an error under `status <code>`, beside oha's transport
    errors (timeouts, refused or reset connections) under their own messages."""
    summary = report.get("summary") or {}
    codes = {str(k): int(v) for k, v in (report.get("statusCodeDistribution") or {}).items()}
    transport = {str(k): int(v) for k, v in (report.get("errorDistribution") or {}).items()}
    accepted = codes.get(str(SUCCESS_STATUS), 0)
    requests = sum(codes.values()) + sum(transport.values())
    duration = float(summary.get("total") or 0.0)
    percentiles = report.get("latencyPercentiles") or {}
    latency = {name: _ms(percentiles.get(key)) for name, key in PERCENTILES.items()}
    latency["max"] = _ms(summary.get("slowest")) if accepted or codes else None
    latency["mean"] = _ms(summary.get("average")) if accepted or codes else None
    errors = {f"status {c}": n for c, n in codes.items() if c != str(SUCCESS_STATUS)}
    errors.update(transport)
    return RateRow(
        offered_rps=offered_rps,
        duration_s=round(duration, 3),
        requests=requests,
        accepted=accepted,
        achieved_rps=round(requests / duration, 1) if duration else 0.0,
        accepted_rps=round(accepted / duration, 1) if duration else 0.0,
        status_codes=dict(sorted(codes.items())),
        errors=dict(sorted(errors.items())),
        latency_ms=latency,
    )


def parse_rates(text: str) -> list[int]:
    """`"500,1000,2000"` → [500, 1000, 2000] (sorted, unique, positive)."""
    try:
        rates = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"rates must be comma-separated integers, got {text!r}") from None
    if not rates or rates[0] <= 0:
        raise ValueError(f"rates must be positive integers, got {text!r}")
    return rates


def parse_duration(text: str) -> float:
    """`"10s"`, `"500ms"`, `"1m"` or a bare number of seconds → seconds."""
    text = text.strip()
    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0))
    for suffix, scale in units:
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * scale
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"a duration is like 10s, 500ms or 1m, got {text!r}") from None


def run_oha(oha: Path, spec: LoadSpec, bodies_file: Path) -> RateRow:
    """Run oha once for `spec` and parse its report (RuntimeError when oha itself fails)."""
    if any(b"\n" in body for body in spec.bodies):
        raise ValueError("a request body for oha -Z must be a single line")
    bodies_file.write_bytes(b"\n".join(spec.bodies) + b"\n")
    command = oha_command(oha, spec, bodies_file)
    done = subprocess.run(command, capture_output=True, check=False, timeout=spec.duration_s + 120)
    if done.returncode != 0:
        raise RuntimeError(f"oha exited {done.returncode}: {done.stderr.decode()[-400:]}")
    try:
        report = orjson.loads(done.stdout)
    except orjson.JSONDecodeError as exc:
        raise RuntimeError(f"oha printed no JSON report: {done.stdout[:200]!r}") from exc
    return parse_report(report, spec.rate)
