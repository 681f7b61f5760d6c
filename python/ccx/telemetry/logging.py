"""Structured JSON logs: one object per line with time, level, logger, message and `trace_id`."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from ccx.telemetry.tracing import current_trace

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; extra fields passed with `extra=` are kept."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = current_trace.get()
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "trace_id": ctx.trace_id if ctx else None,
            "span_id": ctx.span_id if ctx else None,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines that still show the trace id."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = current_trace.get()
        trace = ctx.trace_id[:8] if ctx else "-"
        line = f"{time.strftime('%H:%M:%S')} {record.levelname:<7} {record.name} [{trace}] "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route every logger to stderr through the chosen formatter (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
