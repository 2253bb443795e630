"""Progress reporting for bulk loads: a bar on a terminal, silence elsewhere.

A progress callback is any callable ``progress(rows_read, fraction)`` where ``fraction`` is how much of
the file has been read (0 to 1) or ``None`` when it cannot be told; :class:`TerminalProgress` is the
one the loaders use when standard error is a terminal.
"""
from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class ProgressCallback(Protocol):
    def __call__(self, rows_read: int, fraction: float | None) -> None: ...


class TerminalProgress:
    """Redraw one status line on ``stream`` (standard error): rows, rows/s, percent of the file and ETA.

    Parameters
    ----------
    stream : text stream, optional
        Where to draw; standard error by default.
    min_interval : float
        Seconds between redraws, so a fast load is not slowed by drawing.
    """

    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.2):
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self.start = time.perf_counter()
        self._last = 0.0
        self._width = 0

    def __call__(self, rows_read: int, fraction: float | None) -> None:
        now = time.perf_counter()
        if now - self._last < self.min_interval and fraction != 1.0:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        line = f"{rows_read:,} rows  {rows_read / elapsed:,.0f} rows/s"
        if fraction is not None:
            filled = int(30 * fraction)
            line = f"[{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%}  " + line
            if 0 < fraction < 1:
                line += f"  ETA {_duration(elapsed * (1 - fraction) / fraction)}"
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()

    def close(self) -> None:
        """End the status line."""
        if self._width:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def auto_progress() -> TerminalProgress | None:
    """A :class:`TerminalProgress` when standard error is a terminal, else ``None`` (silent)."""
    try:
        return TerminalProgress() if sys.stderr is not None and sys.stderr.isatty() else None
    except (AttributeError, ValueError):
        return None
