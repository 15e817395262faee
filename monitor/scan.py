"""The `scan` verb as a library: events of a log for scripts (JSON Lines) and people (a summary)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from espwatch.events import SEVERITY_RANK, Event
from espwatch.patterns import PatternSet
from espwatch.pipeline import Pipeline, Stage, open_input, read_chunks
from espwatch.sessions import BootSession


@dataclass
class ScanResult:
    """What one scan found: its events (if kept), boots, and counts."""

    name: str
    pipeline: Pipeline
    events: list[Event] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    @property
    def sessions(self) -> list[BootSession]:
        return self.pipeline.sessions

    @property
    def worst(self) -> str | None:
        present = [s for s in self.counts if self.counts[s]]
        return max(present, key=SEVERITY_RANK.__getitem__) if present else None


def scan_stream(path: str, patterns: PatternSet, stages: list[Stage] | None = None,
                on_event: Callable[[Event], None] | None = None, keep_events: bool = True,
                on_start: Callable[[ScanResult], None] | None = None) -> ScanResult:
    """Scan one file (`-` for stdin), calling `on_event` for each event as soon as it is known (and
    `on_start` with the result being filled, once the input is open)."""
    fh, name = open_input(path)
    pipe = Pipeline(patterns, list(stages or []), keep_events=keep_events)
    result = ScanResult(name, pipe)
    if on_start is not None:
        on_start(result)
    try:
        for ev in pipe.run(read_chunks(fh)):
            result.counts[ev.severity] += 1
            if keep_events:
                result.events.append(ev)
            if on_event is not None:
                on_event(ev)
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    return result


def write_jsonl(ev: Event, out: TextIO, file: str | None = None) -> None:
    obj = ev.to_json()
    if file is not None:
        obj["file"] = file
    out.write(json.dumps(obj, ensure_ascii=False))
    out.write("\n")
