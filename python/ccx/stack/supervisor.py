"""Child processes kept running: started with their logs in one folder, restarted with a
backoff when they die, stopped together (SIGTERM, then SIGKILL after a grace period)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

#: A child that dies more often than this within RESTART_WINDOW_S is left down.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    given_up: bool = False
    _log: IO[bytes] | None = None

    def start(self) -> None:
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            list(self.argv),
            env=dict(self.env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the rest
        )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    """Starts children in order and keeps them up; `check` restarts the dead ones."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.children: list[Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        child = Child(name, argv, {**self.env, **(env or {})}, self.log_dir / f"{name}.log")
        child.start()
        self.children.append(child)
        return child

    def check(self) -> list[str]:
        """Restart every child that died (at most MAX_RESTARTS a minute); returns the names
        restarted."""
        restarted = []
        now = time.monotonic()
        for child in self.children:
            if child.alive or child.given_up or child.proc is None:
                continue
            child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_S]
            if len(child.restarts) >= MAX_RESTARTS:
                child.given_up = True
                log.error("%s keeps dying; left down (see %s)", child.name, child.log_path)
                continue
            log.warning("%s exited with %s; restarting", child.name, child.proc.returncode)
            child.restarts.append(now)
            child.start()
            restarted.append(child.name)
        return restarted

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM every child (newest first), SIGKILL what is still up after `grace_s`."""
        for child in reversed(self.children):
            if child.alive and child.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait(5)
            if child._log is not None:
                child._log.close()
                child._log = None
