"""CPU accounting of the bench's processes, on this machine's /proc."""

from __future__ import annotations

import os
import subprocess
import sys

from ccx.bench.cpu import CpuMeter, cpu_seconds, descendants, tree_cpu_seconds


def test_a_child_is_a_descendant_and_its_cpu_counts_for_the_tree() -> None:
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", burn + "\ntime.sleep(30)"])
    try:
        meter = CpuMeter({"me": os.getpid()})
        meter.start()
        for _ in range(100):
            if cpu_seconds(child.pid) >= 0.3:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert child.pid in descendants(os.getpid())
        assert tree_cpu_seconds(os.getpid()) >= cpu_seconds(os.getpid()) + 0.25
        assert meter.stop()["me"] >= 0.25
        assert child.pid not in descendants(os.getpid(), apart=[child.pid])
        assert tree_cpu_seconds(os.getpid(), apart=[child.pid]) < 0.25 + cpu_seconds(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_a_gone_process_costs_nothing() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert cpu_seconds(gone.pid) == 0.0
