"""The `scan` verb as a library: events of a log for scripts (JSON Lines) and people (a summary)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from espwatch.events import SEVERITY_RANK, Event
from espwatch.lineoffsets import LineOffsets
from espwatch.patterns import PatternSet
from espwatch.pipeline import (
    Pipeline,
    Stage,
    close_input,
    input_note,
    is_plain_file,
    open_input,
    read_chunks,
    read_reusing,
)
from espwatch.sanitize import json_line
from espwatch.sessions import BootSession

if TYPE_CHECKING:
    from espwatch.binlog import BinlogDecoder


@dataclass
class ScanResult:
    """What one scan found: its events (if kept), boots, and counts."""

    name: str
    pipeline: Pipeline
    events: list[Event] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    note: str | None = None
    """Set when the file looked like text in an encoding espwatch could not read (encoding.sniff)."""

    @property
    def sessions(self) -> list[BootSession]:
        """The boots' sessions (with `keep_sessions`: the first and last N only)."""
        return self.pipeline.sessions

    @property
    def boot_count(self) -> int:
        """The number of boots, kept or not."""
        return self.pipeline.boots.total

    def fact_values(self, name: str) -> list[Any]:
        """The values of a boot fact, boot by boot (boots let go of: their distinct values, in order)."""
        boots = self.pipeline.boots
        keep = boots.keep_sessions if boots.folded.count else None
        head = boots.sessions if keep is None else boots.sessions[:keep]
        tail = [] if keep is None else boots.sessions[keep:]
        values = [s.facts[name] for s in head if s.facts.get(name)]
        values += boots.folded.values.get(name, [])
        return values + [s.facts[name] for s in tail if s.facts.get(name)]

    @property
    def worst(self) -> str | None:
        present = [s for s in self.counts if self.counts[s]]
        return max(present, key=SEVERITY_RANK.__getitem__) if present else None


def scan_stream(path: str, patterns: PatternSet, stages: list[Stage] | None = None,
                on_event: Callable[[Event], None] | None = None, keep_events: bool = True,
                offsets: LineOffsets | None = None,
                on_start: Callable[[ScanResult], None] | None = None,
                binlog: BinlogDecoder | None = None,
                on_read: Callable[[int], None] | None = None,
                keep_sessions: int | None = None) -> ScanResult:
    """Scan one file (`-` for stdin), calling `on_event` for each event as soon as it is known (and
    `on_start` with the result being filled, once the input is open; `on_read(n)` after each chunk of
    `n` bytes is read: progress). `binlog`: decode ESP-IDF binary log frames first (see
    `espwatch.binlog`). `offsets` records where the events' lines start (see espwatch.lineoffsets).
    `keep_sessions=N`: keep the sessions of the first and last N boots only (memory bounded on any number
    of boots; see `espwatch.sessions.BootTracker`)."""
    fh, name = open_input(path)
    pipe = Pipeline(patterns, list(stages or []), keep_events=keep_events, binlog=binlog,
                    keep_sessions=keep_sessions)
    plain = is_plain_file(fh)  # the bytes the detector sees are the file's own
    if offsets is not None:
        offsets.exact = plain
        pipe.detector.offsets = offsets if plain else None
    result = ScanResult(name, pipe, note=input_note(fh))
    if on_start is not None:
        on_start(result)
    # A reused read buffer for a file, unless a decoder before the detector could keep a reference to it.
    reuse = plain and (binlog is None or getattr(binlog, "copies_input", False))
    chunks = read_reusing(fh) if reuse else read_chunks(fh)
    if on_read is not None:
        chunks = _reporting(chunks, on_read)
    try:
        for ev in pipe.run(chunks):
            result.counts[ev.severity] += 1
            if keep_events:
                result.events.append(ev)
            if on_event is not None:
                on_event(ev)
    finally:
        close_input(fh, name)
    return result


KEEP_SESSIONS = 64
"""Boots whose sessions the headless verbs keep at each end of a log (scan, report)."""


def _reporting(chunks: Iterator[bytes | bytearray], on_read: Callable[[int], None]
               ) -> Iterator[bytes | bytearray]:
    for chunk in chunks:
        on_read(len(chunk))
        yield chunk


def write_jsonl(ev: Event, out: TextIO, file: str | None = None) -> None:
    obj = ev.to_json()
    if file is not None:
        obj["file"] = file
    out.write(json_line(obj))  # DEL, C1 and bidi controls escaped: see espwatch.sanitize
    out.write("\n")
