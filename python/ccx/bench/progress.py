"""A one-line progress bar on stderr for the `ccx bench` runs.

On a terminal the line is redrawn in place; in a log (CI, a pipe) it is printed at most every
few seconds, so the log shows progress without thousands of lines."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24
LOG_EVERY_S = 5.0


def bar(fraction: float, width: int = WIDTH) -> str:
    """`[#######.........]` for a fraction in [0, 1] (clamped)."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class Progress:
    """Progress of one labelled task towards `total` units (seconds, cases, messages)."""

    def __init__(
        self,
        label: str,
        total: float,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.label = label
        self.total = max(total, 1e-9)
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_log = float("-inf")
        self._width = 0

    def line(self, done: float, detail: str = "") -> str:
        percent = 100 * min(1.0, done / self.total)
        text = f"{self.label} {bar(done / self.total)} {percent:3.0f}%"
        return f"{text}  {detail}" if detail else text

    def update(self, done: float, detail: str = "") -> None:
        if not self.enabled:
            return
        text = self.line(done, detail)
        if self.live:
            pad = " " * max(0, self._width - len(text))
            self.stream.write("\r" + text + pad)
            self._width = len(text)
        else:
            now = time.monotonic()
            if now - self._last_log < LOG_EVERY_S:
                return
            self._last_log = now
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self, detail: str = "") -> None:
        """The final line (always printed when enabled)."""
        if not self.enabled:
            return
        text = self.line(self.total, detail)
        if self.live:
            pad = " " * max(0, self._width - len(text))
            self.stream.write("\r" + text + pad + "\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._width = 0
