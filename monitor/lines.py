"""Bytes to lines: a streaming splitter that never fails on what a serial port can deliver.

Lines end at `\\n`; `\\r\\n` is one break; a lone `\\r` stays inside its line (events.md counts lines by
`\\n` only) and reads as a space in the text. A last line without `\\n` still counts (`flush`).
Invalid UTF-8 and NUL bytes are kept in `raw` and replaced in `text`. A line longer than `max_line`
bytes keeps its first `max_line` bytes (`truncated` is set); the rest is counted, never stored, so a
10 MB line or gigabytes without a newline cost linear time and bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from espwatch.sanitize import clean_line

MAX_LINE = 1 << 20
"""Bytes of one line kept for display (the session log keeps everything)."""

MATCH_LIMIT = 16 * 1024
"""Bytes of one line that reach the pattern regexes. Device lines are far shorter (a 64-frame backtrace is
1.5 kB); a longer one is binary noise or a missing line break, and matching it whole could only cost time."""


def clean_text(raw: bytes) -> str:
    """The text of a line for matching and display: UTF-8 (bad bytes replaced), no escape sequence (7- or
    8-bit, OSC/DCS payloads included), no C0 or C1 control (see espwatch.sanitize.clean_line)."""
    text = raw.decode("utf-8", "replace")
    if text.endswith("\r"):
        text = text[:-1]
    return clean_line(text)


class PartialLine:
    """The bytes of a line still waiting for its break, keeping at most `limit` of them.

    Pieces are joined once, when the line completes, so a line arriving in many reads costs linear time.
    """

    __slots__ = ("_kept", "_limit", "_parts", "truncated")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._kept = 0
        self.truncated = False

    def __bool__(self) -> bool:
        return bool(self._parts) or self.truncated

    def add(self, piece: bytes) -> None:
        room = self._limit - self._kept
        if len(piece) > room:
            piece = piece[:room]
            self.truncated = True
        if piece:
            self._parts.append(piece)
            self._kept += len(piece)

    def copy(self) -> PartialLine:
        other = PartialLine(self._limit)
        other._parts = list(self._parts)
        other._kept = self._kept
        other.truncated = self.truncated
        return other

    def take(self) -> tuple[bytes, bool]:
        """The line so far and whether bytes were dropped; the buffer is empty afterwards."""
        raw, truncated = b"".join(self._parts), self.truncated
        self._parts.clear()
        self._kept = 0
        self.truncated = False
        return raw, truncated


@dataclass(slots=True)
class Line:
    """One input line: its 1-based number, raw bytes (without the break) and cleaned text."""

    number: int
    raw: bytes
    truncated: bool = False

    @property
    def text(self) -> str:
        return clean_text(self.raw)


class LineSplitter:
    """Feed byte chunks of any size; get complete lines back in order."""

    def __init__(self, max_line: int = MAX_LINE, first_number: int = 1) -> None:
        self._max = max_line
        self._partial = PartialLine(max_line)
        self._next = first_number

    @property
    def pending(self) -> bool:
        """True when a partial line is waiting for its break."""
        return bool(self._partial)

    def feed(self, data: bytes) -> Iterator[Line]:
        start = 0
        find = data.find
        while True:
            nl = find(b"\n", start)
            if nl < 0:
                break
            piece = data[start:nl]
            if self._partial:
                self._partial.add(piece)
                yield self._line(*self._partial.take())
            else:
                yield self._line(piece, False)
            start = nl + 1
        if start < len(data):
            self._partial.add(data[start:])

    def flush(self) -> Iterator[Line]:
        """The last line when the input ends without a break."""
        if self._partial:
            yield self._line(*self._partial.take())

    def _line(self, raw: bytes, truncated: bool) -> Line:
        if len(raw) > self._max:
            raw, truncated = raw[: self._max], True
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        line = Line(self._next, raw, truncated)
        self._next += 1
        return line
