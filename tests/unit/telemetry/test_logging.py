import logging

import orjson
import pytest

from ccx.telemetry.logging import configure_logging
from ccx.telemetry.tracing import TraceContext, current_trace


def test_json_lines_carry_trace_id_and_extra(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", json=True)
    ctx = TraceContext.new()
    token = current_trace.set(ctx)
    try:
        logging.getLogger("ccx.test").info("hello %s", "world", extra={"tenant": "acme"})
    finally:
        current_trace.reset(token)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = orjson.loads(line)
    assert entry["msg"] == "hello world"
    assert entry["level"] == "info"
    assert entry["logger"] == "ccx.test"
    assert entry["trace_id"] == ctx.trace_id
    assert entry["span_id"] == ctx.span_id
    assert entry["tenant"] == "acme"
    assert entry["ts"].endswith("Z")


def test_json_without_trace_and_with_exception(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("ccx.test").exception("failed")
    entry = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert entry["trace_id"] is None
    assert "RuntimeError: boom" in entry["exc"]


def test_text_format_and_level_filter(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", json=False)
    log = logging.getLogger("ccx.test")
    log.info("hidden")
    log.warning("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert "WARNING" in err
    assert "shown" in err
