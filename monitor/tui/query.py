"""Filters and search over a `LineIndex` (no Textual here): run them in a worker thread.

A filter keeps lines by level (ESP-IDF `E (..) tag:` and Arduino `[E][file:line]` records at or above the
level, plus the own lines of every event at least that severe: its first line and its block, so a panic's
register dump stays visible under "errors"; a finding's evidence span is not an event's own lines and
pulls nothing in), by tag (regex on the record's tag), by boot (its line range) and, in a merged log of
several ports, by port (its label). Host lines written by espwatch always stay.
Search is in the core (espwatch.search).
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from espwatch.device.sessionlog import is_host_line
from espwatch.events import SEVERITY_RANK
from espwatch.lines import clean_text
from espwatch.logformat import parse_line
from espwatch.merge import split_label
from espwatch.search import compile_user_regex
from espwatch.tui.document import LineIndex

LEVEL_ORDER = {"verbose": 0, "debug": 1, "info": 2, "config": 2, "warning": 3, "error": 4}
LEVEL_STEPS: tuple[str | None, ...] = (None, "info", "warning", "error")
LEVEL_TO_SEVERITY = {"info": "info", "warning": "warning", "error": "error"}


@dataclass
class FilterSpec:
    min_level: str | None = None
    tag: str | None = None
    boot: tuple[int, int, int] | None = None  # (number, first line, last line)
    port: str | None = None
    """A merged log of several ports (espwatch.merge): the label of the one port to keep."""
    labelled: bool = False
    """The lines carry port labels (a merged log): levels and tags are read after the label."""

    @property
    def active(self) -> bool:
        return bool(self.min_level or self.tag or self.boot or self.port)

    def describe(self) -> str:
        parts = []
        if self.min_level:
            parts.append(f"level>={self.min_level}")
        if self.tag:
            parts.append(f"tag~{self.tag}")
        if self.boot:
            parts.append(f"boot {self.boot[0]}")
        if self.port:
            parts.append(f"port {self.port} only")
        return ", ".join(parts)


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

    @property
    def hidden(self) -> int:
        """Lines looked at so far and not kept."""
        return max(0, self.scanned_to - len(self.lines))


def min_rank(spec: FilterSpec) -> int | None:
    """The severity rank of the events whose own lines a level filter keeps (None: no level filter)."""
    if spec.min_level is None:
        return None
    return SEVERITY_RANK[LEVEL_TO_SEVERITY.get(spec.min_level, "info")]


def merge_spans(spans: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sorted (first, last) line spans merged into disjoint ones: (firsts, lasts)."""
    firsts: list[int] = []
    lasts: list[int] = []
    for a, b in sorted(spans):
        if lasts and a <= lasts[-1] + 1:
            lasts[-1] = max(lasts[-1], b)
        else:
            firsts.append(a)
            lasts.append(b)
    return firsts, lasts


def run_filter(result: FilterResult, index: LineIndex, spans: tuple[Sequence[int], Sequence[int]],
               upto: int | None = None, progress: Callable[[FilterResult], None] | None = None) -> None:
    """Extend `result` over lines (scanned_to, upto]; call `progress` after each chunk.

    `spans`: the lines of the events whose own lines the level filter keeps, as disjoint sorted spans
    (first lines, last lines), e.g. `EventStore.own_spans`."""
    spec = result.spec
    last = total_last = index.line_count if upto is None else upto
    first = result.scanned_to + 1
    if spec.boot is not None:
        first = max(first, spec.boot[1])
        last = min(last, spec.boot[2])
    if first > last:
        result.scanned_to = max(result.scanned_to, total_last)
        return
    firsts, lasts = spans if spec.min_level is not None else ((), ())
    tag_rx = compile_user_regex(spec.tag) if spec.tag else None
    level_rank = LEVEL_ORDER.get(spec.min_level or "", -1)
    needs_parse = spec.min_level is not None or tag_rx is not None
    port = spec.port.encode() if spec.port else None
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
            if spec.labelled and split_label(raw)[0] is not None:
                if port is not None and raw[:1] != port:
                    n += 1
                    continue
                raw = raw[3:]
            elif port is not None:  # a line of no port (the legend)
                n += 1
                continue
            if needs_parse and not is_host_line(raw):
                rec = parse_line(clean_text(raw))
                keep = True
                if level_rank >= 0:
                    keep = rec.level is not None and LEVEL_ORDER.get(rec.level, 2) >= level_rank
                    if not keep and firsts:
                        i = bisect_right(firsts, n) - 1
                        keep = i >= 0 and n <= lasts[i]
                if keep and tag_rx is not None:
                    keep = rec.tag is not None and tag_rx.search(rec.tag) is not None
            if keep:
                lines.append(n)
            n += 1
        result.scanned_to = n - 1
        if progress is not None:
            progress(result)
    result.scanned_to = max(result.scanned_to, total_last)
