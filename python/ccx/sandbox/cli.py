"""`ccx sandbox`: start the Meta Cloud API simulator (flags override `CCX_SANDBOX_*` settings)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ccx.config import ConfigError, SandboxSettings, load_settings
from ccx.sandbox.callbacks import CallbackSettings
from ccx.sandbox.faults import CallbackFaults, FaultConfig, FaultSpec, Latency
from ccx.sandbox.limits import LimitSettings
from ccx.sandbox.options import SandboxOptions
from ccx.sandbox.templates import TemplateRegistry, default_registry
from ccx.telemetry.logging import configure_logging


def _code_value(text: str) -> tuple[int, float]:
    code, _, value = text.partition("=")
    return int(code), float(value or 1.0)


def _number_value(text: str) -> tuple[str, int]:
    number, _, value = text.partition("=")
    return number, int(value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ccx sandbox",
        description="Meta WhatsApp Cloud API simulator: send endpoint, templates, limits, "
        "signed status callbacks, fault injection and a ledger. Unset flags fall back to "
        "CCX_SANDBOX_* settings.",
    )
    add = p.add_argument
    g = p.add_argument_group("server")
    g.add_argument("--host", help="bind address (default 127.0.0.1)")
    g.add_argument("--port", type=int, help="port; 0 picks a free one (default 8090)")
    g.add_argument("--ready-file", default="", help="write {host, port, pid} here when listening")
    g.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (default from CCX_LOG_LEVEL)")
    g.add_argument("--log-text", action="store_true", help="human-readable logs instead of JSON")
    g = p.add_argument_group("identity")
    g.add_argument(
        "--token",
        action="append",
        dest="tokens",
        help="accepted bearer token (repeatable; default: sandbox)",
    )
    g.add_argument("--app-secret", help="app secret signing callbacks")
    g.add_argument("--waba-id", help="WABA id reported in callbacks")
    g.add_argument("--seed", type=int, help="random seed (wamids, fault draws)")
    g.add_argument("--templates", help="JSON file of templates (default: built-in set)")
    g.add_argument("--ledger-max-entries", type=int, help="ledger entries kept (counts stay exact)")
    g = p.add_argument_group("limits")
    g.add_argument(
        "--throughput", type=int, help="msg/s per phone number (20, 80, 1000; default 80)"
    )
    g.add_argument(
        "--number-throughput",
        action="append",
        type=_number_value,
        default=[],
        metavar="PHONE_NUMBER_ID=N",
        help="throughput of one number (repeatable)",
    )
    g.add_argument("--no-throughput-limit", action="store_true", help="disable 130429")
    g.add_argument("--pair-interval", type=float, help="pair limit: 1 msg per N s (default 6)")
    g.add_argument("--pair-burst", type=int, help="pair limit burst (default 45)")
    g.add_argument("--no-pair-limit", action="store_true", help="disable 131056")
    g = p.add_argument_group("status callbacks")
    g.add_argument("--callback-url", help="where sent/delivered/read are POSTed")
    g.add_argument("--sent-delay", type=float, help="s from accept to sent")
    g.add_argument("--delivered-delay", type=float, help="s from sent to delivered")
    g.add_argument("--read-delay", type=float, help="s from delivered to read")
    g.add_argument("--callback-attempts", type=int, help="POST attempts per callback")
    g.add_argument("--callback-retry-base", type=float, help="first retry delay, s (doubles)")
    g.add_argument("--callback-timeout", type=float, help="timeout of one callback POST, s")
    g.add_argument(
        "--callback-batch-window", type=float, help="s within which statuses share a POST"
    )
    g = p.add_argument_group("faults (default spec for every number; --faults for per-number)")
    add("--faults", help="JSON file: {default: spec, numbers: {id: spec}, hang_s}")
    add(
        "--latency",
        type=Latency.parse,
        help="fixed:MS | uniform:MIN:MAX | normal:MEAN:SD | exp:MEAN",
    )
    add(
        "--error-rate",
        action="append",
        type=_code_value,
        default=[],
        metavar="CODE=P",
        help="answer with Meta error CODE with probability P (repeatable)",
    )
    add("--timeout-rate", type=float, help="P of no answer (held --hang-seconds, then reset)")
    add("--reset-rate", type=float, help="P of a TCP reset without answer")
    add("--empty-5xx-rate", type=float, help="P of a 5xx without body")
    add("--empty-5xx-status", type=int, help="status of those (default 503)")
    add("--accept-no-answer-rate", type=float, help="P of accept (ledger, callbacks), no answer")
    add("--hang-seconds", type=float, help="how long no-answer faults hold a request (30)")
    add("--cb-duplicate-rate", type=float, help="P that a message's callbacks come twice")
    add("--cb-reorder-rate", type=float, help="P that a message's callbacks come in reverse")
    add("--cb-skip-delivered-rate", type=float, help="P that delivered is skipped")
    add("--cb-drop-rate", type=float, help="P that a message gets no callbacks")
    add("--cb-fail-rate", type=float, help="P that sent is followed by failed")
    add(
        "--cb-fail-code",
        action="append",
        type=_code_value,
        default=[],
        metavar="CODE[=WEIGHT]",
        help="code of injected failures (131026, 131047, 131049, ...; repeatable)",
    )
    return p


def _faults(args: argparse.Namespace, settings: SandboxSettings) -> FaultConfig:
    path = args.faults or settings.faults_file
    config = (
        FaultConfig.from_json(json.loads(Path(path).read_text("utf-8"))) if path else FaultConfig()
    )
    d = config.default
    cb = d.callbacks
    cb_changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("duplicate", args.cb_duplicate_rate),
            ("reorder", args.cb_reorder_rate),
            ("skip_delivered", args.cb_skip_delivered_rate),
            ("drop", args.cb_drop_rate),
            ("fail", args.cb_fail_rate),
        )
        if value is not None
    }
    if args.cb_fail_code:
        cb_changes["fail_codes"] = {str(c): w for c, w in args.cb_fail_code}
    cb = CallbackFaults.from_json({**cb.to_json(), **cb_changes})
    spec_changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("timeout", args.timeout_rate),
            ("reset", args.reset_rate),
            ("empty_5xx", args.empty_5xx_rate),
            ("empty_5xx_status", args.empty_5xx_status),
            ("accept_no_answer", args.accept_no_answer_rate),
        )
        if value is not None
    }
    if args.latency is not None:
        spec_changes["latency"] = args.latency.to_json()
    if args.error_rate:
        spec_changes["error_rates"] = {str(c): p for c, p in args.error_rate}
    spec = FaultSpec.from_json({**d.to_json(), **spec_changes, "callbacks": cb.to_json()})
    hang_s = args.hang_seconds
    if hang_s is None:
        hang_s = config.hang_s if path else settings.hang_s
    return replace(config, default=spec, hang_s=hang_s)


def options_from(args: argparse.Namespace, settings: SandboxSettings) -> SandboxOptions:
    """Combine flags (first) and settings into the options of one sandbox process."""

    def pick(flag: Any, default: Any) -> Any:
        return default if flag is None else flag

    tokens = args.tokens or [t.strip() for t in settings.tokens.split(",") if t.strip()]
    limits = LimitSettings(
        throughput=pick(args.throughput, settings.throughput),
        throughput_by_number=dict(args.number_throughput),
        throughput_enabled=not args.no_throughput_limit,
        pair_enabled=not args.no_pair_limit,
        pair_interval_s=pick(args.pair_interval, settings.pair_interval_s),
        pair_burst=pick(args.pair_burst, settings.pair_burst),
    )
    limits = limits.updated({})  # validates
    callbacks = CallbackSettings().updated(
        {
            "url": pick(args.callback_url, settings.callback_url),
            "sent_delay_s": pick(args.sent_delay, settings.sent_delay_s),
            "delivered_delay_s": pick(args.delivered_delay, settings.delivered_delay_s),
            "read_delay_s": pick(args.read_delay, settings.read_delay_s),
            "max_attempts": pick(args.callback_attempts, settings.callback_max_attempts),
            "retry_base_s": pick(args.callback_retry_base, settings.callback_retry_base_s),
            "timeout_s": pick(args.callback_timeout, settings.callback_timeout_s),
            "batch_window_s": pick(args.callback_batch_window, CallbackSettings().batch_window_s),
        }
    )
    templates_file = args.templates or settings.templates_file
    templates = TemplateRegistry.from_file(templates_file) if templates_file else default_registry()
    return SandboxOptions(
        host=pick(args.host, settings.host),
        port=pick(args.port, settings.port),
        tokens=frozenset(tokens),
        app_secret=pick(args.app_secret, settings.app_secret),
        waba_id=pick(args.waba_id, settings.waba_id),
        seed=pick(args.seed, settings.seed),
        limits=limits,
        callbacks=callbacks,
        faults=_faults(args, settings),
        templates=templates,
        ledger_max_entries=pick(args.ledger_max_entries, settings.ledger_max_entries),
        ready_file=args.ready_file,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox in this process until it is stopped; 2 on bad flags or settings."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        options = options_from(args, settings.sandbox)
    except (ConfigError, OSError, ValueError, TypeError, KeyError) as exc:
        print(f"ccx sandbox: {exc}", file=sys.stderr)
        return 2
    configure_logging(
        args.log_level or settings.log.level, json=settings.log.json and not args.log_text
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per callback POST is noise
    from ccx.sandbox.app import serve  # imports robyn, which is only needed to serve

    serve(options)
    return 0
