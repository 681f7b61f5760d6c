"""The `ccx` command: one entry point for every process and tool of the gateway."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable

from ccx import __version__
from ccx.config import ConfigError, load_settings, markdown_table
from ccx.telemetry.logging import configure_logging

# Subcommands implemented by their own module's `main(argv) -> int`, imported lazily so
# that `ccx config show` does not pay for robyn, granian or the native module.
DELEGATED: dict[str, tuple[str, str]] = {
    "serve": ("ccx.api.serve", "serve the HTTP API (granian, RSGI)"),
    "services": ("ccx.devservices", "install, start, stop and check the local services"),
    "worker": ("ccx.dispatch.cli", "run a dispatch worker (queues to Meta)"),
    "sandbox": ("ccx.sandbox.cli", "run the Meta Cloud API simulator"),
    "bench": ("ccx.bench.cli", "benchmarks: native hot paths, ingest load"),
    "tenant": ("ccx.admin.cli:tenant_main", "create and list tenants"),
    "token": ("ccx.auth.cli:token_main", "issue API tokens (JWT)"),
    "keys": ("ccx.auth.cli:keys_main", "rotate, list and purge token signing keys"),
    "up": ("ccx.stack.cli:up_main", "run the whole pipeline locally, supervised, with a demo"),
    "down": ("ccx.stack.cli:down_main", "stop a running `ccx up`"),
}


def _config(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    settings = load_settings(args.config)
    for section, values in settings.__dataclass_fields__.items():
        del values
        sub = getattr(settings, section)
        for name in sub.__dataclass_fields__:
            print(f"{section}.{name} = {getattr(sub, name)!r}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccx", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ccx {__version__}")
    parser.add_argument("--config", help="TOML settings file (default: $CCX_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    cfg = sub.add_parser("config", help="show the effective settings")
    cfg.add_argument("--markdown", action="store_true", help="print the settings reference table")
    cfg.set_defaults(func=_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # argparse's REMAINDER drops leading options, so split delegated commands off by hand.
    split = next((i for i, word in enumerate(argv) if word in DELEGATED), None)
    rest: list[str] = []
    if split is not None:
        argv, rest = argv[: split + 1], argv[split + 1 :]
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.config:
        os.environ["CCX_CONFIG"] = args.config  # delegated commands read it too
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"ccx: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log.level, settings.log.json)
    if args.command in DELEGATED:
        module_name, _, func_name = DELEGATED[args.command][0].partition(":")
        run: Callable[[list[str]], int] = getattr(
            importlib.import_module(module_name), func_name or "main"
        )
        return run(rest)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
