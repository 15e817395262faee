"""Several ports (or several session logs) as one log: their lines merged by arrival time, each labelled.

Each port keeps its own session log, recorded exactly as for one port; the merged log is a view made from
them. Every merged line starts with the port's label (a capital letter) and a mark:

    A| I (312) wifi: connected          a whole line of port A (its line break is the device's)
    B~ esp32>                           a piece of a line port B has not finished yet (the monitor shows it
                                        after `PIECE_WAIT` s of quiet); the rest follows on a later B line

Order (the tie rules): the lines of one port keep their order; across ports, lines are ordered by the
arrival time of the read that completed the line (its last byte's entry in the port's arrival times); equal
times keep the order of the ports as given. Live, the merger takes the lines completed since its last
pass and merges them by that rule; it reads the ports one after the other, so a line completed while a pass
is reading may go to the next pass, after a line of another port that completed a little later (by at most
the time of one pass; the arrival times themselves have a 100 ms resolution, `espwatch.device.times`).

For saved logs (`merge_logs`): each log's `.times` sidecar gives the arrival times; a log without one is
placed by the host timestamps written in its lines when it has them (times of day, put on the date of the
other logs' first time), else after all the others. Each such case is said in a note.

Lines at the top of a merged log that carry no label (a legend: which label is which port) belong to no
port. `espwatch.portpipe.PortsPipeline` reads a merged log back into each port's own pipeline.
"""

from __future__ import annotations

import heapq
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from espwatch.errors import TimesFileError, UsageError

if TYPE_CHECKING:
    from espwatch.device.sessionlog import SessionLog

LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
WHOLE = b"| "
PIECE = b"~ "
PIECE_WAIT = 0.5
"""Seconds a port's unfinished line waits before the merged log shows it as a piece."""
CHUNK = 1 << 20


def labels_for(n: int) -> list[str]:
    if n > len(LABELS):
        raise UsageError(f"{n} ports: at most {len(LABELS)} can be merged in one monitor")
    return list(LABELS[:n])


def labelled(label: str, line: bytes, whole: bool = True) -> bytes:
    """A merged line: `line` (with its break when whole) of the port `label`."""
    if whole:
        return label.encode() + WHOLE + line
    return label.encode() + PIECE + line + b"\n"


def split_label(raw: bytes) -> tuple[str | None, bool, bytes]:
    """(label, whole, the port's bytes) of a merged line; (None, True, raw) for a line of no port."""
    if len(raw) >= 3 and 65 <= raw[0] <= 90 and raw[1:3] in (WHOLE, PIECE):
        whole = raw[1:3] == WHOLE
        body = raw[3:]
        if not whole and body.endswith(b"\n"):
            body = body[:-1]
        return chr(raw[0]), whole, body
    return None, True, raw


class Store(Protocol):
    def readable_size(self) -> int: ...

    def read_at(self, offset: int, size: int) -> bytes: ...


@dataclass(slots=True)
class Line:
    """A line (or a piece) of one port, with the key it is merged by."""

    when: float
    lane: int
    data: bytes
    whole: bool = True


@dataclass
class Lane:
    """One port's session log as the merger reads it: complete lines from `offset` on."""

    label: str
    name: str
    store: Store
    time_at: Callable[[int], float | None] | None = None
    offset: int = 0
    partial: bytearray = field(default_factory=bytearray)
    partial_end: int = 0
    """Offset just after the partial line's last byte."""
    grew_at: float = 0.0
    last_time: float = float("-inf")
    pending: deque[Line] = field(default_factory=deque)
    """Lines taken and not merged yet (later than what another port that is behind has given so far)."""

    def _when(self, end: int, now: float) -> float:
        t = self.time_at(end - 1) if self.time_at is not None else None
        if t is None:
            t = now if self.last_time == float("-inf") else self.last_time
        self.last_time = t
        return t

    def behind(self) -> bool:
        """Bytes of the port not read yet."""
        return self.offset < self.store.readable_size()

    def take(self, index: int, now: float, wall: float, piece_wait: float | None,
             budget: int | None = None) -> list[Line]:
        """The lines completed since the last call, reading at most about `budget` bytes (and, after
        `piece_wait` s without bytes, the piece of an unfinished line)."""
        out: list[Line] = []
        size = self.store.readable_size()
        if budget is not None:
            size = min(size, self.offset + budget)
        while self.offset < size:
            data = self.store.read_at(self.offset, min(CHUNK, size - self.offset))
            if not data:
                break
            base = self.offset
            self.offset += len(data)
            self.grew_at = now
            pos = 0
            while True:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    break
                line = data[pos : nl + 1]
                if self.partial:
                    self.partial += line
                    line = bytes(self.partial)
                    self.partial.clear()
                out.append(Line(self._when(base + nl + 1, wall), index, line))
                pos = nl + 1
            if pos < len(data):
                self.partial += data[pos:]
                self.partial_end = self.offset
        if piece_wait is not None and self.partial and now - self.grew_at >= piece_wait and not self.behind():
            out.append(Line(self._when(self.partial_end, wall), index, bytes(self.partial), whole=False))
            self.partial.clear()
        return out


def merge_order(lists: Sequence[Sequence[Line]] | Sequence[Iterator[Line]]) -> Iterator[Line]:
    """The lines of several ports in merged order (see the module docstring): a merge of each port's lines
    in its own order, by arrival time, equal times in the order of the ports."""
    return heapq.merge(*lists, key=lambda ln: ln.when)


def legend_lines(lanes: Sequence[tuple[str, str]]) -> bytes:
    """Lines naming each label's port (or log), for the top of a merged log (host lines: they start with
    `--- espwatch ` and end with ` ---`, see `espwatch.device.sessionlog.is_host_line`)."""
    from espwatch.sanitize import for_terminal

    lines = (f"--- espwatch merged log: port {label} = {for_terminal(name)} ---\n" for label, name in lanes)
    return "".join(lines).encode("utf-8", "replace")


class Merger:
    """Merges the lines of several live session logs into one `SessionLog` (see the module docstring).

    `poll()` does one pass; `start()` runs passes in a thread, woken by `wake` (the ports' session logs
    set it after each write) and at least every 0.1 s (for pieces of unfinished lines)."""

    def __init__(self, lanes: Sequence[Lane], out: SessionLog, piece_wait: float | None = PIECE_WAIT,
                 legend: bool = True) -> None:
        self.lanes = list(lanes)
        self.out = out
        self.piece_wait = piece_wait
        self.budget = CHUNK
        self.lines = 0
        self.wake = threading.Event()
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if legend:
            out.write(legend_lines([(ln.label, ln.name) for ln in self.lanes]))

    def poll(self) -> int:
        """Merge what the ports completed since the last pass; returns the lines written.

        Each port gives at most `budget` bytes a pass (memory stays bounded when the merger is behind); a
        line is merged once no port that is still behind can give an earlier one: up to the time of the
        last line taken from each port that is behind."""
        with self._lock:
            now, wall = time.monotonic(), time.time()
            water = math.inf
            for i, ln in enumerate(self.lanes):
                if len(ln.pending) < 1024:
                    ln.pending.extend(ln.take(i, now, wall, self.piece_wait, self.budget))
                if ln.behind():
                    water = min(water, ln.pending[-1].when if ln.pending else -math.inf)
            ready: list[list[Line]] = []
            for ln in self.lanes:
                pend = ln.pending
                if not pend or pend[-1].when <= water:
                    ready.append(list(pend))
                    pend.clear()
                    continue
                out = []
                while pend and pend[0].when <= water:
                    out.append(pend.popleft())
                ready.append(out)
            n = write_merged(merge_order(ready), [ln.label for ln in self.lanes], self.out.write)
            self.lines += n
            return n

    def behind(self) -> bool:
        """Lines of a port not merged yet."""
        return any(ln.pending or ln.behind() for ln in self.lanes)

    def _run(self) -> None:
        while not self.stop.is_set():
            if not self.behind():
                self.wake.wait(0.1)
            self.wake.clear()
            try:
                self.poll()
            except Exception as exc:  # the ports' own logs go on; the merged view says why it stopped
                self.out.mark(f"merging stopped: {exc!r}")
                return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="espwatch-merger", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread, merge what is left (an unfinished line as a piece) and close the merged log."""
        self.stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self.piece_wait, wait = 0.0, self.piece_wait
        try:
            while True:
                self.poll()
                if not self.behind():
                    break
            self.poll()  # the pieces of unfinished lines
        finally:
            self.piece_wait = wait
        self.out.close()


def write_merged(lines: Iterator[Line], labels: Sequence[str], write: Callable[[bytes, float], Any],
                 resolution: float = 0.1, batch: int = 1 << 16) -> int:
    """Write merged lines, several per call when their times are within `resolution` (the arrival-time
    sidecar's resolution: the merged log's own times stay as exact as the ports'). Lines without a time
    (placed after the others) are written with NaN: no arrival time is noted for them."""
    buf: list[bytes] = []
    size = 0
    first = 0.0
    n = 0
    for ln in lines:
        if buf and (not abs(ln.when - first) < resolution or size >= batch):
            write(b"".join(buf), first if math.isfinite(first) else math.nan)
            buf, size = [], 0
        if not buf:
            first = ln.when
        piece = labelled(labels[ln.lane], ln.data, ln.whole)
        buf.append(piece)
        size += len(piece)
        n += 1
    if buf:
        write(b"".join(buf), first if math.isfinite(first) else math.nan)
    return n


# -- saved logs ---------------------------------------------------------------------------------------
@dataclass
class LogLane:
    """A saved log to merge, and how its lines are placed in time."""

    path: Path
    label: str
    how: str = "sidecar"
    """"sidecar", "host times" or "after" (no times: after the other logs)."""
    note: str | None = None


def _file_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(end offset, line with its break) of a file; a last line without a break comes as it is."""
    with open(path, "rb") as fh:
        rest = b""
        offset = 0
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            data = rest + chunk
            pos = 0
            while True:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    break
                offset += nl + 1 - pos
                yield offset, data[pos : nl + 1]
                pos = nl + 1
            rest = data[pos:]
        if rest:
            yield offset + len(rest), rest + b"\n"


def _host_time(line: bytes) -> float | None:
    from espwatch.lines import clean_text
    from espwatch.logformat import host_seconds, split_host_time

    ts, _ = split_host_time(clean_text(line[:64]))
    return host_seconds(ts)


def plan_logs(paths: Sequence[str | os.PathLike[str]]) -> list[LogLane]:
    """How each saved log will be placed (see the module docstring); raises `UsageError` for too many."""
    from espwatch.device.times import load_times_for

    out = []
    for label, p in zip(labels_for(len(paths)), paths, strict=True):
        path = Path(p)
        lane = LogLane(path, label)
        try:
            times = load_times_for(path)
        except TimesFileError as exc:
            times, why = None, f"its arrival times are unusable ({exc})"
        else:
            why = "it has no arrival-time sidecar"
        if times is None or not len(times):
            if times is not None:
                why = "its arrival-time sidecar is empty"
            if _has_host_times(path):
                lane.how = "host times"
                lane.note = f"{path.name} ({label}): {why}; placed by the host times written in its lines"
            else:
                lane.how = "after"
                lane.note = (f"{path.name} ({label}): {why} and no host times in its lines; its lines come "
                             f"after the other logs'")
        out.append(lane)
    return out


def _has_host_times(path: Path, lines: int = 200) -> bool:
    for i, (_, line) in enumerate(_file_lines(path)):
        if i >= lines:
            return False
        if _host_time(line) is not None:
            return True
    return False


def _lane_lines(lane: LogLane, index: int, day: float) -> Iterator[Line]:
    """The lines of a saved log with their merge keys."""
    from espwatch.device.times import load_times_for

    if lane.how == "sidecar":
        times = load_times_for(lane.path)
        assert times is not None
        last = times.times[0] if len(times) else 0.0
        for end, line in _file_lines(lane.path):
            t = times.time_at(end - 1)
            if t is not None:
                last = t
            yield Line(last, index, line)
    elif lane.how == "host times":
        last: float | None = None
        shift = 0.0
        for _, line in _file_lines(lane.path):
            t = _host_time(line)
            if t is not None:
                if last is not None and t + shift < last - 43200:  # past midnight
                    shift += 86400.0
                last = day + t + shift
            yield Line(last if last is not None else day, index, line)
    else:
        for _, line in _file_lines(lane.path):
            yield Line(float("inf"), index, line)


def _day_of(lanes: Sequence[LogLane]) -> float:
    """Local midnight of the earliest sidecar time (host times of day are placed on that date)."""
    from espwatch.device.times import load_times_for

    firsts = []
    for lane in lanes:
        if lane.how == "sidecar":
            times = load_times_for(lane.path)
            if times is not None and len(times):
                firsts.append(times.times[0])
    if not firsts:
        return 0.0
    d = datetime.fromtimestamp(min(firsts))
    return datetime(d.year, d.month, d.day).timestamp()


def merge_logs(lanes: Sequence[LogLane], write: Callable[[bytes, float], Any],
               stop: threading.Event | None = None) -> int:
    """Write the merged log of saved logs through `write(data, time)` (legend first); returns its lines."""
    legend = legend_lines([(ln.label, str(ln.path)) for ln in lanes])
    write(legend, math.nan)
    day = _day_of(lanes)
    streams = [_lane_lines(ln, i, day) for i, ln in enumerate(lanes)]
    merged = merge_order(streams)
    if stop is not None:
        merged = _until(merged, stop)

    return write_merged(merged, [ln.label for ln in lanes], write)


def _until(lines: Iterator[Line], stop: threading.Event) -> Iterator[Line]:
    for i, ln in enumerate(lines):
        if not i & 1023 and stop.is_set():
            return
        yield ln
