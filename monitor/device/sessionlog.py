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

When the file cannot be written (a full disk, EIO, a removed USB stick, a file size limit) nothing is
raised to the reader: the bytes are kept in memory (at most `max_pending`; beyond it the oldest unsaved
bytes are dropped and counted), `read_at` still returns them so the screen shows them, `problem_listeners`
hear about it at once, the write is retried (every `retry_interval` s, and at close), and `summary()` says
exactly how many of the device's bytes are in the file and how many are not. A host line marks where the
failure started and where saving resumed; where bytes had to be dropped, a host line in the file says how
many are missing at that place.

Offsets: `size` and `read_at` count the bytes of the session as the screen sees it (device bytes and host
lines, in order). They are the file's offsets too, unless bytes had to be dropped: the file then lacks them
(and has the marker line instead), and `file_offset()` maps one to the other. Arrival times
(`espwatch.device.times`) are kept in memory in session offsets and written to the `.times` sidecar in
file offsets.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from espwatch.device.times import HEADER as TIMES_HEADER
from espwatch.device.times import MAGIC as TIMES_MAGIC
from espwatch.device.times import RECORD as TIMES_RECORD
from espwatch.device.times import RESOLUTION, ArrivalTimes, header_bytes, pack_records, times_path
from espwatch.device.unsaved import DROP_CHUNK, Holes, Pending

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
    name = re.split(r"[/\\]", port.rstrip("/\\"))[-1] if "://" not in port else port.split("://", 1)[1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")
    return name or "port"


def default_log_path(port: str, when: float | None = None) -> Path:
    """`<user_log_dir>/espwatch/<port>-<YYYYmmdd-HHMMSS>.log`."""
    from platformdirs import user_log_dir

    stamp = datetime.fromtimestamp(time.time() if when is None else when).strftime("%Y%m%d-%H%M%S")
    return Path(user_log_dir("espwatch")) / f"{safe_port_name(port)}-{stamp}.log"


MAX_PENDING = 64 << 20
"""Bytes kept in memory while the session log cannot be written (about 1.5 hours at 115200 baud)."""
RETRY_INTERVAL = 1.0
NOTE_STEP = RESOLUTION - 1e-6


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def describe_os_error(exc: OSError) -> str:
    """'No space left on device (ENOSPC)'."""
    name = errno.errorcode.get(exc.errno or 0)
    text = exc.strerror or str(exc)
    return f"{text} ({name})" if name else text


@dataclass
class SaveSummary:
    """What a session log holds at the end: device byte counts that add up and match the file."""

    path: Path
    received: int
    """Bytes from the device."""
    saved: int
    """Of those, bytes in the file (= len(strip_host_lines(file)) for a log started empty)."""
    dropped: int
    """Bytes dropped from memory while the file could not be written."""
    unwritten: int
    """Bytes still in memory when the log was closed (the last retry failed)."""
    failures: int
    last_error: str | None
    file_bytes: int
    times_path: Path | None

    @property
    def complete(self) -> bool:
        return self.saved == self.received

    def text(self) -> str:
        """One line for the end of a session."""
        if self.complete and not self.failures:
            return f"session log {self.path} ({self.received:,} bytes from the device)"
        if self.complete:
            return (f"session log {self.path} ({self.received:,} bytes from the device, all saved after "
                    f"{self.failures} write failure(s): {self.last_error})")
        missing = self.received - self.saved
        why = []
        if self.dropped:
            why.append(f"{self.dropped:,} dropped from memory while it could not be written")
        if self.unwritten:
            why.append(f"{self.unwritten:,} still unwritten at exit")
        return (f"session log {self.path}: {self.saved:,} of {self.received:,} bytes from the device saved, "
                f"{missing:,} NOT saved ({', '.join(why)}; {self.last_error})")


ProblemListener = Callable[[str, str], None]
"""(state, message): state is "log_failing", "log_dropping" or "log_ok"."""


class SessionLog:
    """Append-only log of a monitor session; see the module docstring. Thread-safe: one writer thread
    (the reader) and any number of readers (`read_at`)."""

    def __init__(self, path: str | os.PathLike[str], *, max_pending: int = MAX_PENDING,
                 retry_interval: float = RETRY_INTERVAL, times: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0),
                           0o644)
        self.max_pending = max_pending
        self.retry_interval = retry_interval
        self._lock = threading.Lock()
        self._pread_lock = threading.Lock()
        st = os.fstat(self._fd)
        regular = stat.S_ISREG(st.st_mode)
        self.size = st.st_size if regular else 0
        """Bytes of the session (device bytes and host lines) as `read_at` addresses them."""
        self.file_size = self.size
        self.device_bytes = 0
        """Bytes received from the device."""
        self.device_saved = 0
        self.device_dropped = 0
        self.host_bytes = 0
        self._run_l: list[int] = [0] if self.size else []  # saved runs: session offset, file offset, length
        self._run_f: list[int] = [0] if self.size else []
        self._run_n: list[int] = [self.size] if self.size else []
        self._run_open = bool(self.size)  # the last run ends where the session and the file end
        self._rfd = -1
        self._at_line_start = True
        if regular:
            self._rfd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            if self.size:
                self._at_line_start = self._pread(self.size - 1, 1) == b"\n"
        self._file_at_line_start = self._at_line_start
        self._pending: deque[Pending] = deque()
        self.pending_bytes = 0
        self._file_only = bytearray()  # marker lines owed to the file before the pending bytes
        self._holes = Holes(max(max_pending // 8, 1 << 16))
        self._dropped_episode = 0
        self._lost_episode = 0
        self._saved_late_episode = 0
        self.problem: str | None = None
        """Why the file cannot be written right now (None when it can)."""
        self.last_error: str | None = None
        self.failures = 0
        self._last_attempt = 0.0
        self._closed = False
        self._events: list[tuple[str, str]] = []
        self.listeners: list[Callable[[], None]] = []
        """Callables run (in the writer's thread) after each write: e.g. to wake a follower."""
        self.problem_listeners: list[ProblemListener] = []
        """Told at once when the file stops or starts again being written (state, message)."""
        self.times = ArrivalTimes()
        self._last_noted = float("-inf")
        self.times_path: Path | None = None
        self.times_problem: str | None = None
        self._times_fd = -1
        self._times_written = 0  # entries of `times` in the sidecar
        if times and regular:
            self._open_times()

    # -- the .times sidecar --------------------------------------------------------------------------
    def _open_times(self) -> None:
        side = times_path(self.path)
        try:
            fd = os.open(side, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as exc:
            self.times_problem = f"cannot write {side}: {describe_os_error(exc)}"
            return
        size = os.fstat(fd).st_size
        try:
            if size:
                with open(side, "rb") as fh:
                    head = fh.read(TIMES_HEADER.size)
                if not head.startswith(TIMES_MAGIC) or size < TIMES_HEADER.size:
                    os.close(fd)
                    self.times_problem = f"{side} exists and is not an espwatch times file: left alone"
                    return
                # ours: a new log starts it again; a torn last record (a crash) is cut off
                keep = 0 if self.size == 0 else size - (size - TIMES_HEADER.size) % TIMES_RECORD.size
                if keep != size:
                    os.ftruncate(fd, keep)
                size = keep
            if size == 0:
                os.write(fd, header_bytes())
        except OSError as exc:
            os.close(fd)
            self.times_problem = f"cannot write {side}: {describe_os_error(exc)}"
            return
        self._times_fd = fd
        self.times_path = side

    def _note_time(self, start: int, when: float) -> None:
        if self.times.note(start, when):
            self._last_noted = when

    def _flush_times(self) -> None:
        """Append to the sidecar the arrival times not written yet whose bytes are in the file (or were
        dropped before saved ones): the sidecar is written from `self.times`, in file offsets."""
        offsets, times = self.times.offsets, self.times.times
        i, n = self._times_written, len(offsets)
        if i >= n or self._times_fd < 0 or not self._run_l:
            return
        end = self._run_l[-1] + self._run_n[-1]
        j = i
        while j < n and offsets[j] < end:
            j += 1
        if j == i:
            return
        data = pack_records([(self.file_offset(offsets[k]), times[k]) for k in range(i, j)])
        try:
            written = os.write(self._times_fd, data)
        except OSError as exc:
            self.times_problem = f"cannot write {self.times_path}: {describe_os_error(exc)}"
            return
        if written != len(data):  # a torn record would misalign the rest: stop writing the sidecar
            self.times_problem = f"{self.times_path}: short write; arrival times no longer saved"
            os.close(self._times_fd)
            self._times_fd = -1
            return
        self._times_written = j
        self.times_problem = None

    # -- offsets -------------------------------------------------------------------------------------
    def file_offset(self, offset: int) -> int:
        """File offset of session offset `offset` (of the next saved byte when it was dropped)."""
        i = bisect_right(self._run_l, offset) - 1
        if i < 0:
            return self._run_f[0] if self._run_f else 0
        if offset < self._run_l[i] + self._run_n[i]:
            return self._run_f[i] + offset - self._run_l[i]
        if i + 1 < len(self._run_f):
            return self._run_f[i + 1]
        return self._run_f[i] + self._run_n[i]

    # -- writing -------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def failing(self) -> bool:
        return self.problem is not None

    def write(self, data: bytes, when: float | None = None) -> None:
        """Append device bytes that arrived at `when` (default: now). Never raises for a write error."""
        n = len(data)
        if not n:
            return
        if when is None:
            when = time.time()
        with self._lock:
            start = self.size
            self.size = start + n
            self.device_bytes += n
            self._at_line_start = data[-1] == 10
            if abs(when - self._last_noted) >= NOTE_STEP:
                self._note_time(start, when)
            if self._pending or self._closed:
                self._queue(start, data, True)
                self._retry_locked(False)
            else:
                # the common case, kept short: one write, the last saved run grows
                try:
                    done = os.write(self._fd, data)
                except OSError:
                    done = -1
                if done == n and self._run_open:
                    self._run_n[-1] += n
                    self.file_size += n
                    self.device_saved += n
                    self._file_at_line_start = self._at_line_start
                elif done == n:
                    self._saved(start, data, True)
                else:  # a short write or an error: the rest through the careful path
                    if done > 0:
                        self._saved(start, memoryview(data)[:done], True)
                    done = max(done, 0)
                    self._append(start + done, data[done:], True)
                if self._times_written < len(self.times.offsets):
                    self._flush_times()
            events = self._take_events() if self._events else ()
        if events:
            self._emit(events)
        for cb in self.listeners:
            cb()

    def mark(self, message: str, when: float | None = None) -> bytes:
        """Append a host line; returns its bytes."""
        with self._lock:
            data = self._mark_locked(message, when)
            if not self._pending:
                self._flush_times()
            events = self._take_events()
        self._emit(events)
        for cb in self.listeners:
            cb()
        return data

    def retry(self) -> bool:
        """Try again to write what is kept in memory (at most every `retry_interval` s). True when
        everything is saved. Cheap when the log is healthy: the reader calls it often."""
        if not self._pending and not self._file_only:
            return True
        with self._lock:
            ok = self._retry_locked(False)
            events = self._take_events()
        self._emit(events)
        if events:
            for cb in self.listeners:
                cb()
        return ok

    def _mark_locked(self, message: str, when: float | None = None) -> bytes:
        t = time.time() if when is None else when
        data = host_line(message, cut=not self._at_line_start, when=t)
        start = self.size
        self.size += len(data)
        self.host_bytes += len(data)
        self._at_line_start = True
        self._note_time(start, t)
        if self._pending or self._closed:
            self._queue(start, data, False)
        else:
            self._append(start, data, False)
        return data

    def _os_write(self, data: bytes | bytearray | memoryview) -> tuple[int, OSError | None]:
        done = 0
        error: OSError | None = None
        with memoryview(data) as view:
            try:
                while done < len(view):
                    n = os.write(self._fd, view[done:])
                    if n <= 0:
                        raise OSError(errno.EIO, "the write made no progress")
                    done += n
            except OSError as exc:
                # a fresh exception: the caught one's traceback would keep `view` (and `data`) exported
                error = OSError(exc.errno, exc.strerror or str(exc))
        return done, error

    def _saved(self, start: int, chunk: bytes | bytearray | memoryview, device: bool) -> None:
        n = len(chunk)
        if (self._run_l and self._run_l[-1] + self._run_n[-1] == start
                and self._run_f[-1] + self._run_n[-1] == self.file_size):
            self._run_n[-1] += n
        else:
            self._run_l.append(start)
            self._run_f.append(self.file_size)
            self._run_n.append(n)
        self.file_size += n
        self._run_open = True
        if device:
            self.device_saved += n
        self._file_at_line_start = bytes(chunk[-1:]) == b"\n"

    def _append(self, start: int, data: bytes, device: bool) -> None:
        """Write `data` (session bytes from `start`); what cannot be written goes to memory."""
        n, exc = self._os_write(data)
        if n:
            self._saved(start, memoryview(data)[:n], device)
        if exc is not None:
            self._queue(start + n, data[n:], device)
            self._failed(exc)

    def _queue(self, start: int, data: bytes | bytearray, device: bool) -> None:
        self._run_open = False
        last = self._pending[-1] if self._pending else None
        if last is not None and last.device == device and last.start + len(last.data) == start:
            last.data += data
        else:
            self._pending.append(Pending(start, data, device))
        self.pending_bytes += len(data)
        if self.pending_bytes > self.max_pending:
            self._drop(self.pending_bytes - self.max_pending)

    def _drop(self, k: int) -> None:
        """Drop the oldest `k` unsaved bytes (in chunks of up to DROP_CHUNK), keeping where lines broke."""
        first = not self._dropped_episode
        k = min(max(k, min(DROP_CHUNK, self.max_pending // 4)), self.pending_bytes)
        start = self._pending[0].start
        parts = []
        while k > 0 and self._pending:
            seg = self._pending[0]
            m = min(k, len(seg.data))
            parts.append(bytes(seg.data[:m]))
            del seg.data[:m]
            seg.start += m
            k -= m
            self.pending_bytes -= m
            self._dropped_episode += m
            if seg.device:
                self.device_dropped += m
            if not seg.data:
                self._pending.popleft()
        self._holes.add(start, b"".join(parts))
        if first:
            self._events.append(("log_dropping", f"session log {self.path} still cannot be written "
                                 f"({self.problem}): the memory buffer ({human_bytes(self.max_pending)}) "
                                 f"is full, the oldest unsaved bytes are being DROPPED"))

    def _failed(self, exc: OSError) -> None:
        reason = describe_os_error(exc)
        self._last_attempt = time.monotonic()
        self.last_error = reason
        if self.problem is not None:
            self.problem = reason
            return
        self.problem = reason
        self.failures += 1
        self._saved_late_episode = 0
        self._events.append(("log_failing", f"session log {self.path} cannot be written ({reason}): keeping "
                             f"the device's bytes in memory (up to {human_bytes(self.max_pending)}) and "
                             f"retrying every {self.retry_interval:g} s"))
        self._mark_locked(f"session log write failed ({reason}); what follows is kept in memory until it "
                          f"can be written")

    def _retry_locked(self, force: bool) -> bool:
        if not self._pending and not self._file_only:
            return True
        if self._closed and not force:
            return False
        if not force and time.monotonic() - self._last_attempt < self.retry_interval:
            return False
        self._last_attempt = time.monotonic()
        if self._file_only:  # the rest of a marker line written in part
            n, exc = self._os_write(self._file_only)
            if n:
                self._run_open = False
                self.file_size += n
                self._file_at_line_start = self._file_only[n - 1 : n] == b"\n"
                del self._file_only[:n]
            if exc is not None:
                self._failed(exc)
                return False
        if self._dropped_episode:  # one marker line where the dropped bytes are missing from the file
            lost = self._dropped_episode
            marker = host_line(
                f"{lost:,} bytes of this session are missing here: the session log could not be written "
                f"({self.last_error}) and the memory buffer ({human_bytes(self.max_pending)}) was full",
                cut=not self._file_at_line_start)
            n, exc = self._os_write(marker)
            if n:
                self._run_open = False
                self.file_size += n
                self._file_at_line_start = marker[n - 1 : n] == b"\n"
                self._file_only += marker[n:]
                self._dropped_episode = 0
                self._lost_episode += lost
            if exc is not None:
                self._failed(exc)
                return False
        while self._pending:
            seg = self._pending[0]
            n, exc = self._os_write(seg.data)
            if n:
                self._saved(seg.start, memoryview(seg.data)[:n], seg.device)
                del seg.data[:n]
                seg.start += n
                self.pending_bytes -= n
                self._saved_late_episode += n
            if exc is not None:
                self._failed(exc)
                return False
            self._pending.popleft()
        if self.problem is not None:
            late = self._saved_late_episode
            lost = self._lost_episode
            self._lost_episode = 0
            self.problem = None
            tail = f", {lost:,} bytes were lost" if lost else ""
            msg = f"session log {self.path} is written again: {late:,} bytes kept in memory were saved{tail}"
            self._events.append(("log_ok", msg))
            self._mark_locked(f"session log written again: {late:,} bytes kept in memory saved{tail}")
        self._flush_times()
        return not self._pending

    def _take_events(self) -> list[tuple[str, str]]:
        events, self._events = self._events, []
        return events

    def _emit(self, events: list[tuple[str, str]]) -> None:
        for state, message in events:
            for cb in list(self.problem_listeners):
                try:
                    cb(state, message)
                except Exception:
                    pass

    # -- reading (the screen follows the session through these) ------------------------------------
    def readable_size(self) -> int:
        return self.size

    def _pread(self, offset: int, size: int) -> bytes:
        with self._pread_lock:  # also keeps close() from freeing the descriptor during a read
            if self._rfd < 0 or size <= 0:
                return b""
            if hasattr(os, "pread"):
                return os.pread(self._rfd, size, offset)
            os.lseek(self._rfd, offset, os.SEEK_SET)
            return os.read(self._rfd, size)

    def _pending_slice(self, pos: int, end: int) -> bytes:
        out = []
        for seg in self._pending:
            seg_end = seg.start + len(seg.data)
            if seg_end <= pos:
                continue
            if seg.start > pos:
                break
            take = min(end, seg_end)
            out.append(bytes(seg.data[pos - seg.start : take - seg.start]))
            pos = take
            if pos >= end:
                break
        return b"".join(out)

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to `size` bytes of the session from `offset`: from the file, or from memory while they are
        unsaved; bytes that had to be dropped read as `unsaved.HOLE_FILL` with their line breaks kept."""
        out: list[bytes] = []
        pos = offset
        end = offset + size
        while pos < end:
            with self._lock:
                end = min(end, self.size)
                if pos >= end:
                    break
                i = bisect_right(self._run_l, pos) - 1
                if i >= 0 and pos < self._run_l[i] + self._run_n[i]:
                    foff = self._run_f[i] + pos - self._run_l[i]
                    take = min(end, self._run_l[i] + self._run_n[i]) - pos
                    piece = None
                else:
                    piece = self._pending_slice(pos, end) or self._holes.read(pos, end)
                    if not piece:
                        break
            if piece is None:
                try:
                    piece = self._pread(foff, take)
                except OSError:
                    break
                out.append(piece)
                pos += len(piece)
                if len(piece) < take:
                    break
            else:
                out.append(piece)
                pos += len(piece)
        return b"".join(out)

    # -- end -----------------------------------------------------------------------------------------
    def summary(self) -> SaveSummary:
        with self._lock:
            unwritten = sum(len(s.data) for s in self._pending if s.device)
            return SaveSummary(self.path, self.device_bytes, self.device_saved, self.device_dropped,
                               unwritten, self.failures, self.last_error, self.file_size, self.times_path)

    def status_text(self) -> str | None:
        """A loud short text for a status line while the file cannot be written (None when it can)."""
        if self.problem is None and not self.device_dropped:
            return None
        if self.problem is None:
            return f"LOG INCOMPLETE: {human_bytes(self.device_dropped)} lost"
        lost = f", {human_bytes(self.device_dropped)} lost" if self.device_dropped else ""
        return f"LOG NOT SAVED ({self.problem}): {human_bytes(self.pending_bytes)} in memory{lost}"

    def close(self) -> None:
        """Last try to write what is in memory, then close (`summary()` says what is still unsaved)."""
        with self._lock:
            if self._closed:
                return
            self._retry_locked(True)
            self._flush_times()
            self._closed = True
            for fd in (self._fd, self._times_fd):
                if fd >= 0:
                    try:
                        os.fsync(fd)
                    except OSError:
                        pass
                    os.close(fd)
            self._fd = self._times_fd = -1
            events = self._take_events()
        with self._pread_lock:
            if self._rfd >= 0:
                os.close(self._rfd)
                self._rfd = -1
        self._emit(events)

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
