"""A log file as numbered lines, for a view that shows a screenful at a time (no Textual here).

`LineIndex` keeps, for each 64 KiB block of the file, how many line breaks come before it (an
`array('Q')`: 16 K entries for 1 GB), so indexing costs one `bytes.count` per block and memory stays
bounded whatever the number of lines. A line's start is found by bisecting the blocks and scanning at
most one block. Lines are numbered from 1 exactly as the detector counts them: `\\n` ends a line,
`\\r\\n` is one break, a last line without a break counts.

Both read through a store (`readable_size()`, `read_at(offset, size)`): a `FileStore` for a file, or the
live `SessionLog` itself, which also returns the bytes it could not write to its file yet.

`Follower` reads a file (a saved log, a growing file, or the live session log) from the start in 1 MiB
chunks, extends the index, feeds the same `Pipeline` the `scan` verb uses, and hands batches of events to
a callback at most every `interval` seconds. It runs in a worker thread and owns the pipeline. When it
follows a file that grows (live, `replay --follow`) it goes through `espwatch.live.LiveFeed`, so a dump the
device stopped in and the findings of rules that wait for the end of a boot are shown while it is quiet,
then confirmed or corrected in place. For a saved file (not followed) it can instead run the pipeline in a
worker process (`scan_process`, an `espwatch.scanproc.ScanProcess` factory) and only index the file itself,
so the scan does not share the screen's interpreter lock.
"""

from __future__ import annotations

import os
import threading
import time
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from espwatch.events import Event
from espwatch.live import Changes, LiveFeed
from espwatch.pipeline import Pipeline
from espwatch.sessions import SessionInfo

if TYPE_CHECKING:
    from espwatch.scanproc import ScanBatch, ScanProcess

BLOCK = 1 << 16
CHUNK = 1 << 20
DISPLAY_MAX = 4096
"""Bytes of a line shown on screen (the rest is counted, and kept in the file)."""


class ByteStore(Protocol):
    def readable_size(self) -> int: ...

    def read_at(self, offset: int, size: int) -> bytes: ...


class FileStore:
    """A file (that may grow) read at offsets."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def readable_size(self) -> int:
        return os.fstat(self._fh.fileno()).st_size

    def read_at(self, offset: int, size: int) -> bytes:
        with self._lock:
            self._fh.seek(offset)
            return self._fh.read(size)

    def close(self) -> None:
        self._fh.close()


class LineIndex:
    """Block index of line breaks of a file that may grow while it is read."""

    def __init__(self, path: str | os.PathLike[str], store: ByteStore | None = None) -> None:
        self.path = os.fspath(path)
        self._own_store = store is None
        self.store: ByteStore = store if store is not None else FileStore(self.path)
        self.blocks = array("Q", [0])  # breaks before offset k * BLOCK
        self.breaks = 0  # breaks in [0, indexed)
        self.indexed = 0  # bytes indexed
        self.last_break_end = 0  # offset just after the last break
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, tuple[bytes, int, int]] = OrderedDict()
        self._last = (0, 0)
        """(n, offset) of the last line start found: n breaks come before `offset`. A screenful asks for
        consecutive lines: each continues from the one before instead of from its block's start."""

    def close(self) -> None:
        with self._lock:
            if self._own_store and isinstance(self.store, FileStore):
                self.store.close()

    # -- building (worker thread) -----------------------------------------------------------------
    def extend(self, data: bytes) -> None:
        """Index `data`, the bytes of the file at [indexed, indexed + len(data))."""
        base = self.indexed
        end = base + len(data)
        with self._lock:
            pos = 0
            boundary = len(self.blocks) * BLOCK
            breaks = self.breaks
            while boundary <= end:
                cut = boundary - base
                breaks += data.count(b"\n", pos, cut)
                self.blocks.append(breaks)
                pos = cut
                boundary += BLOCK
            breaks += data.count(b"\n", pos)
            last = data.rfind(b"\n")
            if last >= 0:
                self.last_break_end = base + last + 1
                self._cache.pop(self.breaks + 1, None)  # the partial last line is complete now
            self.breaks = breaks
            self.indexed = end

    # -- queries (any thread) ---------------------------------------------------------------------
    @property
    def line_count(self) -> int:
        """Lines so far, counting a last line without a break."""
        return self.breaks + (1 if self.indexed > self.last_break_end else 0)

    def _pread(self, offset: int, size: int) -> bytes:
        size = min(size, self.indexed - offset)
        if size <= 0:
            return b""
        return self.store.read_at(offset, size)

    def line_start(self, number: int) -> int:
        """Offset of the first byte of line `number` (1-based)."""
        n = number - 1  # breaks before the line
        if n <= 0:
            return 0
        with self._lock:
            if n > self.breaks:
                return self.indexed
            k = bisect_left(self.blocks, n) - 1
            pos = k * BLOCK
            need = n - self.blocks[k]
            last_n, last_pos = self._last
            if last_n <= n and last_pos >= pos and n - last_n < need:
                pos, need = last_pos, n - last_n
                if not need:
                    return pos
            while True:
                buf = self._pread(pos, BLOCK)
                if not buf:
                    return self.indexed
                c = buf.count(b"\n")
                if c < need:
                    need -= c
                    pos += len(buf)
                    continue
                i = -1
                for _ in range(need):
                    i = buf.index(b"\n", i + 1)
                self._last = (n, pos + i + 1)
                return pos + i + 1

    def line(self, number: int) -> tuple[bytes, int, int]:
        """(first DISPLAY_MAX bytes without the break, full length in bytes, start offset)."""
        with self._lock:
            hit = self._cache.get(number)
            if hit is not None:
                self._cache.move_to_end(number)
                return hit
            if number < 1 or number > self.line_count:
                return b"", 0, self.indexed
            start = self.line_start(number)
            buf = self._pread(start, DISPLAY_MAX + 2)
            nl = buf.find(b"\n")
            if nl >= 0:
                length = nl
            elif number <= self.breaks:
                length = self.line_start(number + 1) - 1 - start
            else:
                length = self.indexed - start
            length = max(length, 0)
            if length > 0 and number <= self.breaks:
                last = buf[length - 1 : length] if length <= len(buf) else self._pread(start + length - 1, 1)
                if last == b"\r":
                    length -= 1  # "\r\n" is one break
            raw = buf[: min(length, DISPLAY_MAX)]
            out = (raw, length, start)
            if number <= self.breaks:
                self._cache[number] = out
                if len(self._cache) > 4096:
                    self._cache.popitem(last=False)
            return out

    def line_of_offset(self, offset: int) -> int:
        """The number of the line the byte at `offset` is in (reads at most one block)."""
        with self._lock:
            offset = max(0, min(offset, self.indexed))
            k = min(offset // BLOCK, len(self.blocks) - 1)
            start = k * BLOCK
            return self.blocks[k] + self._pread(start, offset - start).count(b"\n") + 1

    def iter_chunks(self, start: int, stop: int, size: int = 4 * CHUNK) -> Iterator[tuple[int, bytes, int]]:
        """(offset, bytes, end) of the file between two line starts, in pieces that end at a line break:
        the lines are `data[:end]` (no copy is made to cut them; the rest is read again next time)."""
        pos = start
        while pos < stop:
            with self._lock:
                buf = self._pread(pos, min(size, stop - pos))
            if not buf:
                return
            end = len(buf)
            if pos + end < stop:
                cut = buf.rfind(b"\n")
                if cut >= 0:
                    end = cut + 1
            yield pos, buf, end
            pos += end

    def iter_ranges(self, first: int, last: int, size: int = 4 * CHUNK) -> Iterator[tuple[int, bytes]]:
        """(number of the first line, bytes) of whole lines first..last, in chunks ending at a break."""
        if first > last:
            return
        start = self.line_start(first)
        stop = self.line_start(last + 1) if last < self.line_count else self.indexed
        number = first
        for _pos, buf, end in self.iter_chunks(start, stop, size):
            lines = buf[:end] if end < len(buf) else buf
            yield number, lines
            number += lines.count(b"\n")


# -- following a file through the pipeline ---------------------------------------------------------
KEEP_SESSIONS = 64
"""Boots the follower's pipeline keeps (it needs only the current one and a few before)."""


@dataclass
class Batch:
    changes: Changes
    sessions: list[SessionInfo]
    lines: int
    bytes_read: int
    size: int
    done: bool = False
    elapsed: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> list[Event]:
        """The events new in this batch."""
        return self.changes.new


class Follower:
    """Reads a file through index + pipeline in a worker thread; see the module docstring."""

    def __init__(self, index: LineIndex, pipeline: Pipeline, on_batch: Callable[[Batch], None],
                 follow: bool = False, until: threading.Event | None = None, interval: float = 0.25) -> None:
        self.index = index
        self.pipeline = pipeline
        self.on_batch = on_batch
        self.follow = follow
        self.until = until
        self.interval = interval
        self.settle = 0.05
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.offset = 0
        self.done = False
        self.live = LiveFeed(pipeline) if follow else None
        self.tee: Any = None
        """A binary file that gets a copy of every byte read from now on (Ctrl+T Ctrl+L), or None."""
        self._posted_number = 0
        """Boots up to this number were handed out (the last one again: it changes until the next)."""
        self._dropped: list[SessionInfo] = []
        self._posted_offset = -1
        # The pipeline keeps only its last boots (memory stays bounded over a long session); the ones it
        # lets go are handed out with the next batch.
        boots = pipeline.boots
        boots.keep_sessions = KEEP_SESSIONS
        boots.on_drop = lambda s: self._dropped.append(SessionInfo.of(s))
        self.scan_process: Callable[[], ScanProcess] | None = None
        """Makes the worker process that scans a saved file (see the module docstring)."""

    def _sessions(self) -> list[SessionInfo]:
        out, self._dropped = self._dropped, []
        out = [s for s in out if s.number >= self._posted_number]
        sessions = self.pipeline.sessions
        out.extend(SessionInfo.of(s) for s in sessions if s.number >= self._posted_number)
        # several ports (espwatch.portpipe): each port's current boot still changes, not only the last one
        first_open = getattr(self.pipeline, "first_open", None)
        if first_open is not None:
            self._posted_number = first_open
        elif sessions:
            self._posted_number = sessions[-1].number
        return out

    def _post(self, changes: Changes, size: int, done: bool, t0: float) -> None:
        self._posted_offset = self.offset
        self.on_batch(Batch(changes, self._sessions(), self.index.line_count, self.offset, size, done,
                            time.perf_counter() - t0))

    def _feed(self, data: bytes) -> Changes:
        if self.live is not None:
            return self.live.feed(data, time.monotonic())
        events = self.pipeline.feed(data)
        return Changes(new=events, committed=events)

    def _close(self) -> Changes:
        if self.live is not None:
            return self.live.close()
        events = self.pipeline.close()
        return Changes(new=events, committed=events)

    def run(self) -> None:
        if self.scan_process is not None and not self.follow:
            self._run_in_process(self.scan_process)
            return
        t0 = time.perf_counter()
        pending = Changes()
        last_post = 0.0
        first = True
        store = self.index.store
        while not self.stop.is_set():
            size = store.readable_size()
            if size > self.offset:
                data = store.read_at(self.offset, min(CHUNK, size - self.offset))
                if not data:  # not readable (yet): never spin
                    self.stop.wait(0.05)
                    continue
                self.index.extend(data)
                self.offset += len(data)
                tee = self.tee
                if tee is not None:
                    try:
                        tee.write(data)
                        tee.flush()
                    except (OSError, ValueError):
                        self.tee = None
                pending.extend(self._feed(data))
                now = time.perf_counter()
                if first or now - last_post >= self.interval:
                    self._post(pending, size, False, t0)
                    pending = Changes()
                    last_post = now
                    first = False
                continue
            finished = not self.follow or (self.until is not None and self.until.is_set()
                                           and store.readable_size() <= self.offset)
            if finished:
                pending.extend(self._close())
                self.done = True
                self._post(pending, size, True, t0)
                return
            if self.live is not None:
                pending.extend(self.live.idle(time.monotonic()))
            if pending or first or self._posted_offset != self.offset:
                self._post(pending, size, False, t0)
                pending = Changes()
                last_post = time.perf_counter()
                first = False
            self.wake.wait(0.1)
            self.wake.clear()
            # Let a live source's small reads pile up: parsing 4 KB at a time would take the GIL
            # from the reader thread hundreds of times a second (measured under a flood: 3 MB/s
            # without this pause, 18 MB/s with 50 ms).
            self.stop.wait(self.settle)

    def _run_in_process(self, make: Callable[[], ScanProcess]) -> None:
        """Index the file here and post what the worker process finds (see the module docstring)."""
        from espwatch.errors import EspwatchError

        t0 = time.perf_counter()
        proc = make()
        store = self.index.store
        size = store.readable_size()
        held: list[ScanBatch] = []
        last_post = 0.0
        try:
            while not self.stop.is_set() and self.offset < size:  # one bytes.count per 64 KiB block
                data = store.read_at(self.offset, min(CHUNK, size - self.offset))
                if not data:
                    break
                self.index.extend(data)
                self.offset += len(data)
                held.extend(proc.receive())
                if time.perf_counter() - last_post >= self.interval or not last_post:
                    held = self._post_remote(held, size, t0, final=False)
                    last_post = time.perf_counter()
            while not self.stop.is_set():
                held.extend(proc.receive(0.05))
                if proc.done:
                    break
                if time.perf_counter() - last_post >= self.interval:
                    held = self._post_remote(held, size, t0, final=False)
                    last_post = time.perf_counter()
            if proc.done:
                scanned = max((b.bytes_read for b in held), default=0)
                while self.offset < scanned:  # the file grew while the worker read it: index as far
                    data = store.read_at(self.offset, min(CHUNK, scanned - self.offset))
                    if not data:
                        break
                    self.index.extend(data)
                    self.offset += len(data)
                self.done = True
                self._post_remote(held, max(size, scanned), t0, final=True)
                if proc.error:
                    raise EspwatchError(proc.error)
        finally:
            proc.stop()

    def _post_remote(self, batches: list[ScanBatch], size: int, t0: float, final: bool) -> list[ScanBatch]:
        """Post the batches as one; a batch that says `done` is held back until `final`."""
        if not final and batches and batches[-1].done:
            *batches, last = batches
            self._post_remote(batches, size, t0, final=False)
            return [last]
        events = [e for b in batches for e in b.events]
        sessions: dict[int, SessionInfo] = {}
        for b in batches:
            for st in b.sessions:
                sessions[st.number] = st
        read = batches[-1].bytes_read if batches else self._posted_offset
        self._posted_offset = max(read, 0)
        self.on_batch(Batch(Changes(new=events, committed=list(events)), list(sessions.values()),
                            self.index.line_count, max(read, 0), size, final, time.perf_counter() - t0))
        return []
