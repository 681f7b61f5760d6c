"""The `ccx up` supervisor: a dead child is restarted, at most MAX_RESTARTS a minute."""

from __future__ import annotations

import sys
from pathlib import Path

from ccx.stack.supervisor import MAX_RESTARTS, Supervisor


def test_the_supervisor_restarts_a_child_that_dies_then_gives_up(tmp_path: Path) -> None:
    log_dir = tmp_path
    supervisor = Supervisor(log_dir, {})
    child = supervisor.start("short", [sys.executable, "-c", "print('up')"])
    assert child.proc is not None
    child.proc.wait(10)
    assert supervisor.check() == ["short"]
    assert child.proc.wait(10) == 0
    assert len(child.restarts) == 1
    for _ in range(MAX_RESTARTS):
        supervisor.check()
        child.proc.wait(10)
    assert supervisor.check() == []
    assert child.given_up
    supervisor.stop()
    assert (log_dir / "short.log").read_text().count("up") >= 2
