"""W3C Trace Context (`traceparent`) parsing, creation and the current-trace context variable."""

from __future__ import annotations

import contextvars
import random
import re
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def _hex(bits: int) -> str:
    # The module-level generator, which Python reseeds in every forked granian worker.
    value = 0
    while not value:  # all-zero ids are invalid
        value = random.getrandbits(bits)
    return f"{value:0{bits // 4}x}"


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span's position in a distributed trace."""

    trace_id: str
    span_id: str
    sampled: bool = True

    @classmethod
    def new(cls) -> TraceContext:
        """A fresh root context with random ids (not secrets: the process PRNG, seeded from
        the OS, costs a fraction of two `os.urandom` system calls per request)."""
        return cls(_hex(128), _hex(64))

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        """Parse a `traceparent` header; None when absent or malformed (per the W3C rules)."""
        if not header:
            return None
        match = _TRACEPARENT.match(header.strip().lower())
        if match is None:
            return None
        version, trace_id, span_id, flags = match.groups()
        if version == "ff" or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
            return None
        return cls(trace_id, span_id, bool(int(flags, 16) & 1))

    def child(self) -> TraceContext:
        """A new span in the same trace."""
        return TraceContext(self.trace_id, _hex(64), self.sampled)

    def header(self) -> str:
        """This context as a `traceparent` header value."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def new_span_header(trace_id: str | None) -> str | None:
    """A `traceparent` for a new span in an existing trace (None without a trace id): what a
    message republished later carries on."""
    if not trace_id:
        return None
    return TraceContext(trace_id, _hex(64)).header()


current_trace: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "ccx_current_trace", default=None
)


def continue_or_start(header: str | None) -> TraceContext:
    """Continue the trace named by an incoming `traceparent`, or start one; make it current."""
    parent = TraceContext.parse(header)
    ctx = parent.child() if parent else TraceContext.new()
    current_trace.set(ctx)
    return ctx
