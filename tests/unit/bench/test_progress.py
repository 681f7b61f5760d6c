"""The progress line of the bench runs."""

from __future__ import annotations

import io

from ccx.bench.progress import Progress, bar


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_clamps_and_fills() -> None:
    assert bar(0, width=4) == "[....]"
    assert bar(0.5, width=4) == "[##..]"
    assert bar(7, width=4) == "[####]"
    assert bar(-1, width=4) == "[....]"


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    out = Tty()
    progress = Progress("step", 10, stream=out)
    progress.update(5, "half")
    progress.update(6)
    progress.close("done")
    text = out.getvalue()
    assert text.count("\n") == 1
    assert text.startswith("\rstep [")
    assert " 50%  half" in text
    assert text.rstrip().endswith("100%  done")


def test_a_log_gets_a_line_at_most_every_few_seconds() -> None:
    out = io.StringIO()
    progress = Progress("step", 100, stream=out)
    for i in range(100):
        progress.update(i)
    progress.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the first update, then the final line
    assert lines[-1].startswith("step [")
    assert "100%" in lines[-1]


def test_disabled_progress_writes_nothing() -> None:
    out = Tty()
    progress = Progress("step", 3, enabled=False, stream=out)
    progress.update(1)
    progress.close()
    assert out.getvalue() == ""
