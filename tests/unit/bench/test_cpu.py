"""CPU accounting of the bench's processes, on this machine's /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ccx.bench.cpu import CpuMeter, cpu_seconds, descendants, tree_cpu_seconds

BURN = (
    "import time\n"
    "end = time.process_time() + 0.3\n"
    "while time.process_time() < end: pass\n"
    "time.sleep(30)"
)
# A parent of its own (pytest has other children whose CPU would blur the figures) that
# starts a child burning 0.3 s of CPU and prints the child's pid.
PARENT = (
    "import subprocess, sys\n"
    f"child = subprocess.Popen([sys.executable, '-c', {BURN!r}])\n"
    "print(child.pid, flush=True)\n"
    "child.wait()"
)


def test_a_child_counts_for_its_parents_tree_unless_measured_apart() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        try:
            meter = CpuMeter({"parent": parent.pid, "child": child})
            meter.start()
            deadline = time.monotonic() + 10
            while cpu_seconds(child) < 0.3 and time.monotonic() < deadline:
                time.sleep(0.05)
            spent = meter.stop()
            assert descendants(parent.pid) == [parent.pid, child]
            assert tree_cpu_seconds(parent.pid) >= cpu_seconds(parent.pid) + 0.25
            assert tree_cpu_seconds(parent.pid, apart=[child]) == cpu_seconds(parent.pid)
            assert spent["child"] > 0.05
            assert spent["parent"] < 0.05  # the child's time is not counted twice
        finally:
            os.kill(child, signal.SIGKILL)
            parent.wait()


def test_a_gone_process_costs_nothing() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert cpu_seconds(gone.pid) == 0.0
