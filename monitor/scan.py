"""The `scan` verb as a library: events of a log for scripts (JSON Lines) and people (a summary)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from espwatch.events import SEVERITY_RANK, Event
from espwatch.lineoffsets import LineOffsets
from espwatch.patterns import PatternSet
from espwatch.pipeline import Pipeline, Stage, open_input, read_reusing
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
                offsets: LineOffsets | None = None,
                on_start: Callable[[ScanResult], None] | None = None) -> ScanResult:
    """Scan one file (`-` for stdin), calling `on_event` for each event as soon as it is known (and
    `on_start` with the result being filled, once the input is open); `offsets` records where the events'
    lines start (see espwatch.lineoffsets)."""
    fh, name = open_input(path)
    pipe = Pipeline(patterns, list(stages or []), keep_events=keep_events)
    pipe.detector.offsets = offsets
    result = ScanResult(name, pipe)
    if on_start is not None:
        on_start(result)
    try:
        for ev in pipe.run(read_reusing(fh)):
            result.counts[ev.severity] += 1
            if keep_events:
                result.events.append(ev)
            if on_event is not None:
                on_event(ev)
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    return result


def _json_encoder() -> Callable[[Any], str]:
    """`json.dumps(obj, ensure_ascii=False)`, byte for byte, with the C encoder made once instead of per
    call. (orjson is not used: it cannot write the `", "` and `": "` separators of the scan --json output.)"""
    from json import encoder

    if encoder.c_make_encoder is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(ensure_ascii=False).encode

    def default(o: Any) -> Any:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    make = encoder.c_make_encoder(None, default, encoder.encode_basestring, None, ": ", ", ", False, False,
                                  True)
    join = "".join
    return lambda obj: join(make(obj, 0))


to_json_text = _json_encoder()
"""One JSON value as `scan --json` writes it."""


def write_jsonl(ev: Event, out: TextIO, file: str | None = None) -> None:
    obj = ev.to_json()
    if file is not None:
        obj["file"] = file
    out.write(to_json_text(obj) + "\n")
