"""A decoded text file for a viewer that shows a file by byte offsets (the monitor's screen).

A binary log is not displayable line by line, so `BinlogSpool` reads the raw bytes (a saved log, or the
live session log that keeps every byte as received, through its `read_at`, which also has what the file
could not take) in a thread, decodes them, and appends the text to a temporary file that the screen follows
like any log. It keeps which raw offset each part of the text came from (`raw_offset`), so that the arrival
times recorded against the session log still apply (`arrival_time`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from espwatch.binlog.decoder import BinlogDecoder
from espwatch.device.sessionlog import SessionLog

if TYPE_CHECKING:
    from espwatch.tui.document import ByteStore


class _File:
    """A (growing) file read at offsets: the store of a saved log."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()

    def readable_size(self) -> int:
        return os.fstat(self._fh.fileno()).st_size

    def read_at(self, offset: int, size: int) -> bytes:
        self._fh.seek(offset)
        return self._fh.read(size)

    def close(self) -> None:
        self._fh.close()

READ = 1 << 20


class BinlogSpool:
    """Decode `source` (growing while `follow`, until `until` is set) into `path`; `done` at the end.
    `store`: read the source through it (a live SessionLog) instead of its file."""

    def __init__(self, source: str | os.PathLike[str], decoder: BinlogDecoder, *, follow: bool = False,
                 until: threading.Event | None = None, directory: str | None = None,
                 idle_after: float = 0.3, store: ByteStore | None = None) -> None:
        self.source = Path(source)
        self.store = store
        self.decoder = decoder
        self.follow = follow
        self.until = until
        self.idle_after = idle_after
        fd, name = tempfile.mkstemp(prefix="espwatch-binlog-", suffix=".log", dir=directory)
        os.close(fd)
        self.path = Path(name)
        self.log = SessionLog(self.path, times=False)
        self.done = threading.Event()
        self.wake = threading.Event()
        self.error: str | None = None
        self._stop = threading.Event()
        self._marks: list[tuple[int, int]] = []  # (spool size after a write, raw bytes read by then)
        self._thread = threading.Thread(target=self._run, name="espwatch-binlog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def cleanup(self) -> None:
        self.stop()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def raw_offset(self, offset: int) -> int:
        """The raw (session log) offset whose bytes gave the decoded text at `offset`."""
        marks = self._marks
        i = bisect_left(marks, (offset + 1, -1))
        if i < len(marks):
            return marks[i][1]
        return marks[-1][1] if marks else 0

    def arrival_time(self, lookup: Callable[[int], float | None]) -> Callable[[int], float | None]:
        """`lookup` (arrival time by session log offset) for offsets of the decoded text."""
        return lambda offset: lookup(self.raw_offset(offset))

    def _write(self, text: bytes, raw: int) -> None:
        if text:
            self.log.write(text)
            self._marks.append((self.log.size, raw))

    def _run(self) -> None:
        raw = 0
        quiet_since: float | None = None
        store = self.store
        try:
            with contextlib.ExitStack() as stack:
                if store is None:
                    file = _File(self.source)
                    stack.callback(file.close)
                    store = file
                while not self._stop.is_set():
                    size = store.readable_size()
                    data = store.read_at(raw, min(READ, size - raw)) if size > raw else b""
                    if data:
                        raw += len(data)
                        self._write(self.decoder.feed(data), raw)
                        quiet_since = None
                        continue
                    if not self.follow or (self.until is not None and self.until.is_set()
                                           and store.readable_size() <= raw):
                        break
                    now = time.monotonic()
                    if quiet_since is None:
                        quiet_since = now
                    elif now - quiet_since >= self.idle_after:
                        self._write(self.decoder.idle(), raw)
                        quiet_since = float("inf")  # once per pause
                    self.wake.wait(0.05)
                    self.wake.clear()
                self._write(self.decoder.close(), raw)
        except OSError as exc:
            self.error = f"{self.source}: cannot read: {exc.strerror or exc}"
        finally:
            self.done.set()
            for cb in self.log.listeners:
                cb()
