"""The `scan` verb as a library: events of a log for scripts (JSON Lines) and people (a summary)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from espwatch.events import SEVERITY_RANK, Event
from espwatch.patterns import PatternSet
from espwatch.pipeline import Pipeline, Stage, close_input, input_note, open_input, read_chunks
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
        return self.pipeline.sessions

    @property
    def worst(self) -> str | None:
        present = [s for s in self.counts if self.counts[s]]
        return max(present, key=SEVERITY_RANK.__getitem__) if present else None


def scan_stream(path: str, patterns: PatternSet, stages: list[Stage] | None = None,
                on_event: Callable[[Event], None] | None = None, keep_events: bool = True,
                on_start: Callable[[ScanResult], None] | None = None,
                binlog: BinlogDecoder | None = None,
                on_read: Callable[[int], None] | None = None) -> ScanResult:
    """Scan one file (`-` for stdin), calling `on_event` for each event as soon as it is known (and
    `on_start` with the result being filled, once the input is open; `on_read(n)` after each chunk of
    `n` bytes is read: progress). `binlog`: decode ESP-IDF binary log frames first (see
    `espwatch.binlog`)."""
    fh, name = open_input(path)
    pipe = Pipeline(patterns, list(stages or []), keep_events=keep_events, binlog=binlog)
    result = ScanResult(name, pipe, note=input_note(fh))
    if on_start is not None:
        on_start(result)
    chunks = read_chunks(fh)
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


def _reporting(chunks: Iterator[bytes], on_read: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        on_read(len(chunk))
        yield chunk


def write_jsonl(ev: Event, out: TextIO, file: str | None = None) -> None:
    obj = ev.to_json()
    if file is not None:
        obj["file"] = file
    out.write(json_line(obj))  # DEL, C1 and bidi controls escaped: see espwatch.sanitize
    out.write("\n")
