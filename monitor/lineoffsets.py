"""Where lines start in a log file, recorded during the scan, and reading numbered lines back from there.

The detector notes `(line number, byte offset)` of the lines its events start on (`LineOffsets.note`),
keeping one every `stride` bytes at most, so memory stays bounded (at most size / stride pairs) and every
event line has a recorded line at most `stride` bytes before it. `LineReader` then reads only the lines a
report shows: forward from the recorded line before a range, or backward from one inside it, numbered
and cut exactly as `espwatch.lines.LineSplitter` numbers and cuts them (events.md's line count).
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from espwatch.lines import LineSplitter, clean_text

STRIDE = 4096
"""Bytes between two recorded lines at least."""
WINDOW = 1 << 16
"""Bytes read at a time."""


class LineOffsets:
    """Sparse, ordered record of where numbered lines start."""

    def __init__(self, stride: int = STRIDE) -> None:
        self.stride = stride
        self.exact = True
        """False when the scan read transformed bytes (a transcoded log): the offsets are not the file's."""
        self.lines = array("Q")
        self.offsets = array("Q")
        self._next = 0  # offset from which the next line is recorded

    def __len__(self) -> int:
        return len(self.lines)

    def note(self, line: int, offset: int) -> None:
        """Line `line` starts at byte `offset` (calls come in file order)."""
        if offset >= self._next and (not self.lines or line > self.lines[-1]):
            self.lines.append(line)
            self.offsets.append(offset)
            self._next = offset + self.stride

    def before(self, line: int) -> tuple[int, int]:
        """(line, offset) of the last recorded line at or before `line`; (1, 0) when there is none."""
        i = bisect_right(self.lines, line) - 1
        return (self.lines[i], self.offsets[i]) if i >= 0 else (1, 0)

    def within(self, first: int, last: int) -> tuple[int, int] | None:
        """(line, offset) of the first recorded line in first..last, or None."""
        i = bisect_left(self.lines, first)
        if i < len(self.lines) and self.lines[i] <= last:
            return self.lines[i], self.offsets[i]
        return None


def _back(fd: int, offset: int, count: int, floor: int) -> int:
    """Offset of the start of the line `count` lines before the line starting at `offset`; `floor` is the
    start of a line at or before that one (reaching it means it is that line)."""
    pos = offset
    need = count + 1  # breaks to find going back: the one ending the line before, then one per line
    while pos > floor:
        lo = max(floor, pos - WINDOW)
        buf = os.pread(fd, pos - lo, lo)
        end = len(buf)
        while need:
            k = buf.rfind(b"\n", 0, end)
            if k < 0:
                break
            need -= 1
            if not need:
                return lo + k + 1
            end = k
        pos = lo
    return floor


class LineReader:
    """Numbered lines of a file read back from recorded offsets; a context manager (one open file)."""

    def __init__(self, path: str, offsets: LineOffsets, max_line: int) -> None:
        self.offsets = offsets
        self.max_line = max_line
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._fd = self._fh.fileno()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> LineReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lines(self, first: int, last: int) -> Iterator[tuple[int, int, str]]:
        """(number, start offset, text) of lines first..last (1-based), numbered, cut and cleaned as
        `LineSplitter(max_line)` does, without reading the rest of the file; lines past its end are left
        out."""
        inside = self.offsets.within(first, last)
        known_line, known_at = self.offsets.before(first)
        if inside is not None:  # a recorded line in the range: go back from it
            start, number = _back(self._fd, inside[1], inside[0] - first, known_at), first
        else:
            start, number = known_at, known_line
        return _forward(self._fd, start, number, first, last, self.max_line)


def _forward(fd: int, start: int, number: int, first: int, last: int, max_line: int
             ) -> Iterator[tuple[int, int, str]]:
    """Lines first..last, reading from `start`, the offset of line `number` (<= first)."""
    splitter = LineSplitter(max_line=max_line, first_number=number)
    pos = start
    line_start = start
    while True:
        buf = os.pread(fd, WINDOW, pos)
        if not buf:
            for line in splitter.flush():
                if first <= line.number <= last:
                    yield line.number, line_start, line.text
            return
        cut = 0
        for line in splitter.feed(buf):
            nl = buf.find(b"\n", cut)
            here = line_start
            line_start = pos + nl + 1
            cut = nl + 1
            if line.number > last:
                return
            if line.number >= first:
                yield line.number, here, line.text
        pos += len(buf)


def line_text(fd: int, start: int, max_line: int) -> str:
    """The text of the line starting at byte `start`, kept and cleaned as `LineSplitter(max_line)` does."""
    buf = os.pread(fd, max_line + 2, start)
    nl = buf.find(b"\n")
    raw = buf[:nl] if nl >= 0 else buf
    if len(raw) > max_line:
        raw = raw[:max_line]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return clean_text(raw)


def _line_start(fd: int, pos: int) -> int:
    """Offset of the start of the line holding byte `pos`."""
    while pos > 0:
        lo = max(0, pos - WINDOW)
        k = os.pread(fd, pos - lo, lo).rfind(b"\n")
        if k >= 0:
            return lo + k + 1
        pos = lo
    return 0


def lines_holding(path: str, needle: bytes, max_line: int, size: int = 1 << 20,
                  use_stringzilla: bool | None = None) -> Iterator[tuple[int, str]]:
    """(start offset, text) of each line whose bytes hold `needle`, in file order, found by a byte search
    (StringZilla's SIMD `find` when it is installed, ~7 GB/s; else the prefilter's engine); the rest of the
    file is never split into lines or decoded."""
    from espwatch.linecount import _stringzilla

    sz = _stringzilla() if use_stringzilla is not False else None
    if use_stringzilla and sz is None:
        raise RuntimeError("StringZilla is not installed")
    keep = len(needle) - 1
    if sz is not None:
        find = sz.find

        def hits_in(data: bytearray, n: int) -> Iterator[int]:
            i = find(data, needle, 0, n)
            while i >= 0:
                yield i
                i = find(data, needle, i + 1, n)
    else:
        from espwatch.prefilter import Prefilter

        pf = Prefilter([needle.decode("latin-1")]).find if needle.isascii() else None

        def hits_in(data: bytearray, n: int) -> Iterator[int]:
            view = bytes(memoryview(data)[:n])
            yield from ([i for _, i in pf(view)] if pf is not None else _all(view, needle))

    buf = bytearray(keep + size)
    with open(path, "rb", buffering=0) as fh:
        fd = fh.fileno()
        carried = 0  # bytes at the start of buf kept from the chunk before (a needle may straddle)
        base = 0  # file offset of the next chunk
        last = -1
        while True:
            got = fh.readinto(memoryview(buf)[carried:])
            if not got:
                break
            n = carried + got
            at = base - carried  # file offset of buf[0]
            for i in hits_in(buf, n):
                k = buf.rfind(b"\n", 0, i)
                start = at + k + 1 if k >= 0 else _line_start(fd, at + i)
                if start != last:
                    last = start
                    yield start, line_text(fd, start, max_line)
            base += got
            carried = min(keep, n)
            buf[:carried] = buf[n - carried : n]


def _all(data: bytes, needle: bytes) -> list[int]:
    out = []
    i = data.find(needle)
    while i >= 0:
        out.append(i)
        i = data.find(needle, i + 1)
    return out
