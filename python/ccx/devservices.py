"""`ccx services`: run scripts/services.sh from the source checkout, then report dependency health.

    ccx services [install|start|stop|status|restart] [rabbitmq|redis|ferretdb ...] [--json]

After `start`, `restart` and `status` the exit status is 1 when a requested service is unhealthy
or the script failed; after `stop` it is the script's, with the health shown for information;
`install` only runs the script.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson

from ccx.config import Settings, load_settings
from ccx.health import DependencyHealth, check_dependencies

SCRIPT = Path("scripts") / "services.sh"
ACTIONS = ("install", "start", "stop", "status", "restart")
#: Service name in scripts/services.sh → dependency name in ccx.health.
SERVICES = {"rabbitmq": "rabbitmq", "redis": "redis", "ferretdb": "mongo"}
STATUS_DOWN = 3  # what `services.sh status` returns when a service is down


def find_script(starts: Iterable[Path]) -> Path | None:
    """The first scripts/services.sh found walking up from each start directory."""
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / SCRIPT
            if candidate.is_file():
                return candidate
    return None


def with_port(url: str, port: int) -> str:
    """`url` with its port replaced (or added), keeping credentials, path and query."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host = hostport.rsplit(":", 1)[0] if hostport.rsplit(":", 1)[-1].isdigit() else hostport
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}:{port}"))


def settings_for_ports(settings: Settings, env: Mapping[str, str]) -> Settings:
    """Point the clients at the ports scripts/services.sh used (CCX_*_PORT), unless the URL
    itself was set in the environment (CCX_MONGO_URI, CCX_REDIS_URL, CCX_RABBITMQ_URL)."""
    mongo, redis, rabbitmq = settings.mongo, settings.redis, settings.rabbitmq
    if (port := env.get("CCX_MONGO_PORT")) and "CCX_MONGO_URI" not in env:
        mongo = dataclasses.replace(mongo, uri=with_port(mongo.uri, int(port)))
    if (port := env.get("CCX_REDIS_PORT")) and "CCX_REDIS_URL" not in env:
        redis = dataclasses.replace(redis, url=with_port(redis.url, int(port)))
    if (port := env.get("CCX_RABBIT_PORT")) and "CCX_RABBITMQ_URL" not in env:
        rabbitmq = dataclasses.replace(rabbitmq, url=with_port(rabbitmq.url, int(port)))
    return dataclasses.replace(settings, mongo=mongo, redis=redis, rabbitmq=rabbitmq)


def render_table(health: Mapping[str, DependencyHealth]) -> str:
    """A plain-text table, one dependency a line."""
    lines = [f"{'service':<9} {'state':<5} {'latency':>10}  {'address':<22} version / detail"]
    for h in health.values():
        state = "up" if h.ok else "down"
        info = h.version if h.ok and h.version else h.detail
        lines.append(f"{h.name:<9} {state:<5} {h.latency_ms:>7.1f} ms  {h.address:<22} {info}")
    return "\n".join(lines)


def render_json(health: Mapping[str, DependencyHealth]) -> str:
    """The health as a JSON object keyed by dependency name."""
    data = {name: dataclasses.asdict(h) for name, h in health.items()}
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccx services",
        description="Install, start, stop or inspect the local RabbitMQ, Redis and FerretDB "
        "(scripts/services.sh), then show their health as ccx sees it.",
    )
    parser.add_argument(
        "action", nargs="?", default="status", choices=ACTIONS, help="default: status"
    )
    parser.add_argument(
        "services", nargs="*", metavar="service", help="rabbitmq, redis or ferretdb (default: all)"
    )
    parser.add_argument("--json", action="store_true", help="print the health as JSON")
    return parser


def run_script(script: Path, action: str, services: Sequence[str], quiet_stdout: bool) -> int:
    """Run scripts/services.sh; with `quiet_stdout` its output goes to stderr."""
    command = ["bash", str(script), action, *services]
    stdout = sys.stderr if quiet_stdout else None
    return subprocess.run(command, stdout=stdout, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Entry point of `ccx services`; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(SERVICES))
    if unknown:
        parser.error(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    script = find_script([Path(__file__).resolve().parent, Path.cwd()])
    if script is None:
        print(
            f"ccx services: {SCRIPT} not found above {Path(__file__).parent} or {Path.cwd()}; "
            "it works from a source checkout of ccx only.",
            file=sys.stderr,
        )
        return 2
    rc = run_script(script, args.action, args.services, quiet_stdout=args.json)
    if args.action == "install":
        return rc
    settings = settings_for_ports(load_settings(), os.environ)
    names = [SERVICES[s] for s in args.services or SERVICES]
    health = asyncio.run(check_dependencies(settings, names))
    print(render_json(health) if args.json else render_table(health))
    if args.action == "stop":
        return rc
    script_failed = rc != 0 and not (args.action == "status" and rc == STATUS_DOWN)
    return 1 if script_failed or not all(h.ok for h in health.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
