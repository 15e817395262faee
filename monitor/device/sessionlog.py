"""The session log: every byte the device sent, appended as it arrives, plus clearly marked host lines.

The reader thread calls `SessionLog.write(data)` before anything else touches the bytes. Each call is one
unbuffered `os.write` on a file opened with O_APPEND, so the data is in the OS page cache (and visible to
a `tail -f`, to `espwatch replay --follow`, and to the monitor's own view) as soon as it was read; a slow
UI or a line that fails to parse cannot lose it.

Host lines are written by espwatch, not by the device: a lost port, a reconnection, a reset. They look like

    --- espwatch 2026-01-02 12:00:01.123: port /dev/ttyUSB0 lost ---

and always sit on a line of their own. When the device's current line was incomplete at that moment, a line
break is inserted before the host line and the host line says `(line cut)`; `strip_host_lines` removes the
host lines and those inserted breaks, giving back exactly the bytes the device sent.
"""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import datetime
from pathlib import Path

HOST_PREFIX = b"--- espwatch "
CUT_NOTE = " (line cut)"
_HOST_LINE = re.compile(rb"(\n?)(--- espwatch \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}: [^\n]*? ---)\n")


def is_host_line(raw: bytes) -> bool:
    """True for a line written by espwatch into a session log (not by the device)."""
    return raw.startswith(HOST_PREFIX) and raw.rstrip(b"\r").endswith(b" ---")


def host_line(message: str, cut: bool = False, when: float | None = None) -> bytes:
    """The bytes of one host line (with its break; with a leading break when `cut`)."""
    stamp = datetime.fromtimestamp(time.time() if when is None else when)
    text = f"--- espwatch {stamp:%Y-%m-%d %H:%M:%S}.{stamp.microsecond // 1000:03d}: {message}"
    text = text.replace("\n", " ") + (CUT_NOTE if cut else "") + " ---\n"
    return (b"\n" if cut else b"") + text.encode("utf-8", "replace")


def strip_host_lines(data: bytes) -> bytes:
    """The device bytes of a session log: host lines and the breaks inserted before cut ones removed."""

    def repl(m: re.Match[bytes]) -> bytes:
        cut = m.group(2).endswith(CUT_NOTE.encode() + b" ---")
        if m.group(1) and not cut:
            return m.group(1)  # a device line break that happened to precede the host line
        return b""

    # A host line only counts where a line starts (after a break or at the start of the file).
    out: list[bytes] = []
    pos = 0
    for m in _HOST_LINE.finditer(data):
        start = m.start(2) if not m.group(1) else m.start(1)
        if start > 0 and data[start - 1 : start] != b"\n" and not m.group(1):
            continue
        out.append(data[pos:start])
        out.append(repl(m))
        pos = m.end()
    out.append(data[pos:])
    return b"".join(out)


def safe_port_name(port: str) -> str:
    """A file-name-friendly form of a port name or URL."""
    name = port.rstrip("/").rsplit("/", 1)[-1] if "://" not in port else port.split("://", 1)[1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")
    return name or "port"


def default_log_path(port: str, when: float | None = None) -> Path:
    """`<user_log_dir>/espwatch/<port>-<YYYYmmdd-HHMMSS>.log`."""
    from platformdirs import user_log_dir

    stamp = datetime.fromtimestamp(time.time() if when is None else when).strftime("%Y%m%d-%H%M%S")
    return Path(user_log_dir("espwatch")) / f"{safe_port_name(port)}-{stamp}.log"


class SessionLog:
    """Append-only, unbuffered log of a monitor session. Thread-safe; `write` never drops bytes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0),
                           0o644)
        self._lock = threading.Lock()
        self.size = os.fstat(self._fd).st_size
        self.device_bytes = 0
        self._at_line_start = True
        if self.size:
            with open(self.path, "rb") as fh:
                fh.seek(self.size - 1)
                self._at_line_start = fh.read(1) == b"\n"
        self.listeners: list = []
        """Callables run (in the writer's thread) after each write: e.g. to wake a follower."""

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.size += len(data)

    def write(self, data: bytes) -> None:
        """Append device bytes."""
        if not data:
            return
        with self._lock:
            self._write_all(data)
            self.device_bytes += len(data)
            self._at_line_start = data.endswith(b"\n")
        for cb in self.listeners:
            cb()

    def mark(self, message: str, when: float | None = None) -> bytes:
        """Append a host line; returns the bytes written."""
        with self._lock:
            data = host_line(message, cut=not self._at_line_start, when=when)
            self._write_all(data)
            self._at_line_start = True
        for cb in self.listeners:
            cb()
        return data

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                try:
                    os.fsync(self._fd)
                except OSError:
                    pass
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
