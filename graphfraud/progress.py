"""Progress of long commands on standard error: a live bar on a terminal, plain log lines elsewhere.

Library code marks its long phases with :func:`phase` and reports counts every few thousand rows; nothing
is shown unless a caller turned reporting on with :func:`reporting` (the ``graphfraud`` commands do, the
API and library callers stay silent). Standard output is never written to: it carries the JSON and CSV
that scripts read.

On a terminal, phases are drawn by `rich <https://rich.readthedocs.io>`_ (name, bar, rows done/total,
rate, ETA). Elsewhere (pipes, CI, log files), a phase prints a plain line every ``interval`` seconds and
one when it ends (a phase without counts says it is running once it has run ``interval`` seconds; one that
fails before printing anything stays silent, so an error is the only line)::

    train: replaying history 1,200,000/9,900,000 transactions (31,000 transactions/s, ETA 4m40s)
    train: replaying history done: 9,900,000 transactions in 5m19s (31,000 transactions/s)

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> with reporting("demo", stream=out):
...     with phase("counting", total=3, unit="rows") as p:
...         p.update(3)
>>> out.getvalue().startswith("demo: counting done: 3 rows in ")
True
>>> with phase("nothing reports this") as p:  # outside reporting(): silent
...     p.update(1)
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

#: How many rows a hot loop handles between two calls of :meth:`Phase.update` (a power of two, for ``&``).
EVERY = 4096


class Phase:
    """One phase of a long task: ``update(done)`` with the count so far, ``close()`` (or ``with``) at its end.

    This base class is silent; :func:`phase` returns a reporting one while :func:`reporting` is on.
    """

    def update(self, done: int, *, fraction: float | None = None) -> None:
        """Report ``done`` rows so far; ``fraction`` (0 to 1) of the work, when the total is unknown (a file
        read by bytes), gives the ETA."""

    def close(self, failed: bool = False) -> None:
        """End the phase (idempotent); ``failed`` when it stopped on an error."""

    def __enter__(self) -> Phase:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.close(failed=exc_type is not None)


SILENT = Phase()


class _Reported(Phase):
    def __init__(self, reporter: Reporter, description: str, total: int | None, unit: str):
        self.reporter, self.description, self.total, self.unit = reporter, description, total, unit
        self.done = 0
        self.fraction: float | None = None
        self.start = self.last = time.monotonic()
        self.closed = self.failed = self.printed = False
        self.timer: threading.Timer | None = None
        self.task = reporter._open(self)

    def update(self, done: int, *, fraction: float | None = None) -> None:
        self.done = done
        if fraction is not None:
            self.fraction = fraction
        self.reporter._update(self, final=False)

    def close(self, failed: bool = False) -> None:
        if not self.closed:
            self.closed = True
            self.failed = failed
            self.reporter._update(self, final=True)

    # text shared by both displays
    def elapsed(self) -> float:
        return max(time.monotonic() - self.start, 1e-9)

    def rate_text(self) -> str:
        return f"{self.done / self.elapsed():,.0f} {self.unit}/s"

    def count_text(self) -> str:
        if self.total:
            return f"{self.done:,}/{self.total:,} {self.unit}"
        return f"{self.done:,} {self.unit}" if self.done else ""

    def eta(self) -> float | None:
        share = self.done / self.total if self.total else self.fraction
        if not share or share >= 1:
            return None
        return self.elapsed() * (1 - share) / share


class Reporter:
    """Shows the phases of one command (``name``) on ``stream``; see :func:`reporting`."""

    def __init__(self, name: str, stream: TextIO, *, live: bool, interval: float = 10.0):
        self.name, self.stream, self.interval = name, stream, interval
        self.live = live
        self._rich: Any = None

    def _open(self, p: _Reported) -> Any:
        if not self.live:
            if p.total is None:  # no counts may come: say what is running once it has run a while
                if self.interval <= 0:
                    self._started(p)
                else:
                    p.timer = threading.Timer(self.interval, self._started, (p,))
                    p.timer.daemon = True
                    p.timer.start()
            return None
        if self._rich is None:
            self._rich = _rich_progress(self.stream)
            self._rich.start()
        return self._rich.add_task(p.description, total=p.total, count=p.count_text(), rate="", eta="")

    def _update(self, p: _Reported, final: bool) -> None:
        if self.live:
            total, done = p.total, p.done
            if final and p.failed:
                self._rich.update(p.task, eta="stopped")
                return
            if final and total is None:  # an open-ended phase ends with a full bar
                total = done = max(done, 1)
            elif total is None and p.fraction:  # a file read by bytes: rows expected from the share read
                total = max(done, round(done / p.fraction))
            eta = p.eta()
            self._rich.update(p.task, completed=done, total=total, count=p.count_text(),
                              rate=p.rate_text() if p.done else "",
                              eta="" if final or eta is None else f"ETA {_duration(eta)}")
            return
        now = time.monotonic()
        if final and p.timer is not None:
            p.timer.cancel()
        if final and p.failed and not p.printed:
            return  # a phase stopped before it said anything: the error says what happened, alone
        if final:
            count = f"{p.done:,} {p.unit}" if p.done and p.done == p.total else p.count_text()
            counted = f": {count}" if count else ""
            rate = f" ({p.rate_text()})" if p.done else ""
            self._line(f"{p.description} {'stopped' if p.failed else 'done'}{counted} in {_duration(p.elapsed())}{rate}",
                       p)
        elif now - p.last >= self.interval:
            p.last = now
            eta = p.eta()
            share = f"{p.fraction:.0%}, " if p.total is None and p.fraction is not None else ""
            self._line(f"{p.description} {p.count_text()} ({share}{p.rate_text()}"
                       f"{'' if eta is None else ', ETA ' + _duration(eta)})", p)

    def _started(self, p: _Reported) -> None:
        if not p.closed and not p.printed:
            self._line(f"{p.description} ...", p)

    def _line(self, text: str, p: _Reported | None = None) -> None:
        if p is not None:
            p.printed = True
        try:
            self.stream.write(f"{self.name}: {text}\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not stop the work
            pass

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None


_current: ContextVar[Reporter | None] = ContextVar("graphfraud_progress", default=None)


class _Forwarder(Reporter):
    """The reporter of a forked process (:func:`forwarding`): its phases' events go to the parent, whose
    :class:`Mirror` shows them; at most a few a second."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]):
        super().__init__("", sys.stderr, live=False, interval=0.5)
        self.send = send
        self.opened = 0

    def _open(self, p: _Reported) -> Any:
        self.opened += 1
        self.send(("open", self.opened, p.description, p.total, p.unit))
        return self.opened

    def _update(self, p: _Reported, final: bool) -> None:
        now = time.monotonic()
        if final or now - p.last >= self.interval:
            p.last = now
            self.send(("update", p.task, p.done, p.fraction, final, p.failed))


@contextmanager
def forwarding(send: Callable[[tuple[Any, ...]], None]) -> Iterator[None]:
    """In a forked process: send the phases started inside the block to the parent (``send``, one event a
    call), when the parent was reporting; its :class:`Mirror` shows them as its own."""
    token = _current.set(_Forwarder(send) if _current.get() is not None else None)
    try:
        yield
    finally:
        _current.reset(token)


class Mirror:
    """Shows, in the command's own display, the phases a forked process sends (:func:`forwarding`). Made in
    the context that reports (it takes the current reporter); silent outside :func:`reporting`."""

    def __init__(self) -> None:
        self.reporter = _current.get()
        self.phases: dict[int, _Reported] = {}

    def __call__(self, event: tuple[Any, ...]) -> None:
        if self.reporter is None:
            return
        if event[0] == "open":
            _, key, description, total, unit = event
            self.phases[key] = _Reported(self.reporter, description, total, unit)
            return
        _, key, done, fraction, final, failed = event
        p = self.phases[key]
        if final:
            p.done = done
            p.close(failed)
            del self.phases[key]
        else:
            p.update(done, fraction=fraction)

    def close(self) -> None:
        """End what the process left open (it stopped)."""
        for p in self.phases.values():
            p.close(failed=True)
        self.phases.clear()


def phase(description: str, total: int | None = None, unit: str = "rows") -> Phase:
    """Start a phase of the running command, shown while :func:`reporting` is on (else a silent one).

    Parameters
    ----------
    description : str
        What is running, in a few lower-case words (``"replaying history"``).
    total : int, optional
        How many ``unit`` the phase handles, when known: the bar, the counts and the ETA use it.
    unit : str, default "rows"
        What is counted, plural.
    """
    reporter = _current.get()
    return SILENT if reporter is None else _Reported(reporter, description, total, unit)


def is_reporting() -> bool:
    """Whether a :func:`reporting` block is on in this context."""
    return _current.get() is not None


@contextmanager
def reporting(name: str, *, stream: TextIO | None = None, enabled: bool = True, plain: bool = True,
              interval: float = 10.0) -> Iterator[Reporter | None]:
    """Show the phases started inside the block, for the command ``name``, on ``stream`` (standard error).

    Parameters
    ----------
    name : str
        The command, the prefix of plain lines.
    stream : text stream, optional
        Standard error by default (as it is when the block starts). Never standard output.
    enabled : bool, default True
        ``False`` (``graphfraud --quiet``) shows nothing.
    plain : bool, default True
        Print plain lines when ``stream`` is not a terminal; ``False`` stays silent there.
    interval : float, default 10
        Seconds between two plain lines of a phase.
    """
    stream = stream if stream is not None else sys.stderr
    live = _is_terminal(stream)
    if not enabled or stream is None or not (live or plain):
        token = _current.set(None)
        try:
            yield None
        finally:
            _current.reset(token)
        return
    reporter = Reporter(name, stream, live=live, interval=interval)
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)
        reporter.close()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    """``4.2s``, ``4m40s``, ``1h02m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = int(seconds + 0.5)
    return f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s // 60 % 60:02d}m"


def _rich_progress(stream: TextIO) -> Any:
    # imported only for a terminal: scripts and the API never pay for rich
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
                    TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[eta]}"), TimeElapsedColumn(),
                    console=Console(file=stream), redirect_stdout=False, redirect_stderr=True)
