"""CPU time of the processes a benchmark drives, read from /proc (Linux): where the time goes
on a machine whose cores every part of the stack shares."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Mapping
from pathlib import Path

#: Local services by the name of their executable.
SERVICES = {"ferretdb": "ferretdb", "rabbitmq": "beam.smp", "redis": "redis-server"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int, apart: Collection[int] = ()) -> list[int]:
    """`pid` and every process under it (granian's workers are children of `ccx serve`),
    except the subtrees of the pids `apart` (measured on their own)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current in apart and current != pid:
            continue
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_cpu_seconds(pid: int, apart: Collection[int] = ()) -> float:
    """CPU time of `pid` and its living descendants (but those `apart`)."""
    return sum(cpu_seconds(p) for p in descendants(pid, apart))


def service_pids() -> dict[str, int]:
    """The pid of each local service found running (by executable name)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            exe = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
            name = Path(exe.split(" ", 1)[0]).name  # redis rewrites its argv into one string
            for service, binary in SERVICES.items():
                if name == binary and service not in found:
                    found[service] = int(entry.name)
    return found


class CpuMeter:
    """CPU seconds each named process (with its descendants, but not those named on their
    own) spent between `start` and `stop`."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self._apart = frozenset(self.pids.values())
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: tree_cpu_seconds(pid, self._apart) for name, pid in self.pids.items()}

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> dict[str, float]:
        now = self._now()
        return {name: round(now[name] - self._start.get(name, 0.0), 3) for name in self.pids}
