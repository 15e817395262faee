"""Filters and search over a `LineIndex` (no Textual here): run them in a worker thread.

A filter keeps lines by level (ESP-IDF `E (..) tag:` and Arduino `[E][file:line]` records, plus every
line of an event at least that severe, so a panic's register dump stays visible under "errors"), by tag
(regex on the record's tag) and by boot (its line range). Host lines written by espwatch always stay.
Search is a regex over the cleaned text (ANSI removed), line by line, smart case.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import regex

from espwatch.device.sessionlog import is_host_line
from espwatch.events import SEVERITY_RANK, Event
from espwatch.lines import clean_text
from espwatch.logformat import parse_line
from espwatch.tui.document import LineIndex

LEVEL_ORDER = {"verbose": 0, "debug": 1, "info": 2, "config": 2, "warning": 3, "error": 4}
LEVEL_STEPS: tuple[str | None, ...] = (None, "info", "warning", "error")
LEVEL_TO_SEVERITY = {"info": "info", "warning": "warning", "error": "error"}


@dataclass
class FilterSpec:
    min_level: str | None = None
    tag: str | None = None
    boot: tuple[int, int, int] | None = None  # (number, first line, last line)

    @property
    def active(self) -> bool:
        return bool(self.min_level or self.tag or self.boot)

    def describe(self) -> str:
        parts = []
        if self.min_level:
            parts.append(f"level>={self.min_level}")
        if self.tag:
            parts.append(f"tag~{self.tag}")
        if self.boot:
            parts.append(f"boot {self.boot[0]}")
        return ", ".join(parts)


def compile_user_regex(text: str) -> regex.Pattern[str]:
    """Smart case: a pattern without capitals ignores case. Raises regex.error on a bad pattern."""
    flags = regex.MULTILINE | regex.V0
    if text == text.lower():
        flags |= regex.IGNORECASE
    return regex.compile(text, flags)


class FilterResult:
    """The line numbers a filter keeps, growing as the worker goes."""

    def __init__(self, spec: FilterSpec) -> None:
        self.spec = spec
        self.lines = array("Q")
        self.scanned_to = 0  # last line looked at
        self.complete = False
        self.cancel = threading.Event()

    def row_of(self, line: int) -> int:
        """The row showing `line`, or of the next kept line after it."""
        return bisect_left(self.lines, line)


def _event_ranges(events: Iterable[Event], minimum: str | None) -> list[tuple[int, int]]:
    if minimum is None:
        return []
    want = SEVERITY_RANK[LEVEL_TO_SEVERITY.get(minimum, "info")]
    return sorted((e.line, e.end_line) for e in events if SEVERITY_RANK[e.severity] >= want)


def run_filter(result: FilterResult, index: LineIndex, events: list[Event], upto: int | None = None,
               progress: Callable[[FilterResult], None] | None = None) -> None:
    """Extend `result` over lines (scanned_to, upto]; call `progress` after each chunk."""
    spec = result.spec
    last = total_last = index.line_count if upto is None else upto
    first = result.scanned_to + 1
    if spec.boot is not None:
        first = max(first, spec.boot[1])
        last = min(last, spec.boot[2])
    if first > last:
        result.scanned_to = max(result.scanned_to, total_last)
        return
    ranges = _event_ranges(events, spec.min_level)
    starts = [r[0] for r in ranges]
    tag_rx = compile_user_regex(spec.tag) if spec.tag else None
    min_rank = LEVEL_ORDER.get(spec.min_level or "", -1)
    needs_parse = spec.min_level is not None or tag_rx is not None
    lines = result.lines
    for number, buf in index.iter_ranges(first, last):
        if result.cancel.is_set():
            return
        n = number
        parts = buf.split(b"\n")
        if buf.endswith(b"\n"):
            parts.pop()
        for raw in parts:
            keep = True
            if needs_parse and not is_host_line(raw):
                rec = parse_line(clean_text(raw))
                keep = True
                if min_rank >= 0:
                    keep = rec.level is not None and LEVEL_ORDER.get(rec.level, 2) >= min_rank
                    if not keep and ranges:
                        i = bisect_left(starts, n + 1) - 1
                        # any event range covering n (ranges are short: look back a little)
                        while i >= 0 and i >= bisect_left(starts, n - 2000):
                            if ranges[i][0] <= n <= ranges[i][1]:
                                keep = True
                                break
                            i -= 1
                if keep and tag_rx is not None:
                    keep = rec.tag is not None and tag_rx.search(rec.tag) is not None
            if keep:
                lines.append(n)
            n += 1
        result.scanned_to = n - 1
        if progress is not None:
            progress(result)
    result.scanned_to = max(result.scanned_to, total_last)


def search(index: LineIndex, rx: regex.Pattern[str], start: int, backward: bool = False,
           allowed: Callable[[int], bool] | None = None, cancel: threading.Event | None = None) -> int | None:
    """The first line after `start` (before it when `backward`) whose text matches; wraps around."""
    total = index.line_count
    if total == 0:
        return None

    def scan(first: int, last: int, want_last: bool) -> int | None:
        found = None
        for number, buf in index.iter_ranges(first, last):
            if cancel is not None and cancel.is_set():
                return None
            text = buf.decode("utf-8", "replace")
            if "\x1b" in text or "\u241b" in text or "?[" in text or "\r" in text or "\x00" in text:
                text = "\n".join(clean_text(part.encode()) for part in text.split("\n"))
            for m in rx.finditer(text):
                line = number + text.count("\n", 0, m.start())
                if allowed is not None and not allowed(line):
                    continue
                if not want_last:
                    return line
                found = line
        return found

    if not backward:
        hit = scan(start + 1, total, False)
        if hit is None and start >= 1:
            hit = scan(1, min(start, total), False)
        return hit
    hit = scan(1, start - 1, True) if start > 1 else None
    if hit is None:
        hit = scan(max(start, 1), total, True)
    return hit
