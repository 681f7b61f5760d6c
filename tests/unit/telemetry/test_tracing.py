import pytest

from ccx.telemetry.tracing import TraceContext, continue_or_start, current_trace

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_parse_valid_header() -> None:
    ctx = TraceContext.parse(VALID)
    assert ctx == TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)
    assert ctx.header() == VALID


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    ],
)
def test_invalid_headers_are_ignored(header: str | None) -> None:
    assert TraceContext.parse(header) is None


def test_unsampled_flag() -> None:
    ctx = TraceContext.parse(VALID[:-2] + "00")
    assert ctx is not None
    assert not ctx.sampled
    assert ctx.header().endswith("-00")


def test_continue_keeps_trace_and_makes_new_span() -> None:
    ctx = continue_or_start(VALID)
    assert ctx.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ctx.span_id != "00f067aa0ba902b7"
    assert current_trace.get() == ctx


def test_start_when_absent() -> None:
    a, b = continue_or_start(None), continue_or_start("nonsense")
    assert a.trace_id != b.trace_id
    assert TraceContext.parse(a.header()) == a
