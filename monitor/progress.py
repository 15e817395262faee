"""A progress line for long reads on a terminal: `boot.log: 120.0 MB / 512.0 MB (23%), 85.1 MB/s, 0:05 left`.

Written on standard error with a carriage return (no escape sequences: any console shows it), at most a
few times a second, only after the work has taken `delay` seconds (a small log shows nothing), and cleared
before anything else is printed. Only for a terminal: `for_stream` gives None for a pipe or a file, and
commands give none for machine output (`--json`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TextIO

INTERVAL = 0.25
"""Seconds between two updates of the line."""
DELAY = 0.5
"""Seconds of work before the line first appears."""


def human_size(n: float) -> str:
    """`n` bytes as people read it: 512 B, 1.5 KB, 3.2 MB, 1.1 GB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Bytes done (of `total`, when known) and the rate, on one line of `stream`."""

    def __init__(self, stream: TextIO, label: str, total: int | None = None, *, interval: float = INTERVAL,
                 delay: float = DELAY, width: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.interval = interval
        self.delay = delay
        self.clock = clock
        self.width = width if width is not None else _columns(stream)
        self.done = 0
        self.updates = 0
        self._start = clock()
        self._next = self._start + delay
        self._shown = 0

    def text(self, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        parts = [human_size(self.done)]
        if self.total:
            parts[0] += f" / {human_size(self.total)} ({min(100, self.done * 100 // self.total)}%)"
        parts.append(f"{human_size(rate)}/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"{_duration((self.total - self.done) / rate)} left")
        line = f"{self.label}: " + ", ".join(parts)
        return line[: max(self.width - 1, 10)]

    def add(self, n: int) -> None:
        """`n` more bytes done; redraws the line when it is time."""
        self.done += n
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.interval
        line = self.text(now)
        self._write("\r" + line + " " * max(0, self._shown - len(line)) + "\r")
        self._shown = len(line)
        self.updates += 1

    def clear(self) -> None:
        """Remove the line (before the command prints anything else)."""
        if self._shown:
            self._write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self._next = float("inf")  # the terminal went away: stop drawing


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80


def for_stream(stream: TextIO, label: str, total: int | None = None) -> Progress | None:
    """A Progress on `stream` if it is a terminal, else None (nothing on a pipe or in a file).

    The line is ours (its carriage returns included), so it is written to the real stream under the
    CLI's terminal guard (`espwatch.sanitize.TerminalWriter`); the label (a file name) is sanitised."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    from espwatch.sanitize import for_terminal

    return Progress(getattr(stream, "wrapped", stream), for_terminal(label), total)


def input_size(path: str) -> int | None:
    """The size of a log to read (`-` and anything not a regular file: None)."""
    if path == "-":
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    import stat

    return st.st_size if stat.S_ISREG(st.st_mode) else None
