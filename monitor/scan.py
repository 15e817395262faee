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
from espwatch.sanitize import write_json_line
from espwatch.sessions import BootSession

if TYPE_CHECKING:
    from espwatch.binlog import BinlogDecoder


MAX_FOLDED_VALUES = 16
"""Distinct values of each fact remembered from the boots a scan let go of."""


class BootHistory:
    """The boots a scan's tracker let go of (it keeps its last N: `BootTracker.keep_sessions`).

    The first `keep_first` are kept whole (a report lists the first boots of a log); of the others only
    their count, the last value of each fact and up to MAX_FOLDED_VALUES distinct values of each. Boots let
    go of while the events of one chunk are handed out stay reachable (`session`) until the next chunk is
    read: a consumer behind the tracker (the text summary, which prints a boot when the next one begins)
    still finds them. So memory does not grow with the number of boots.
    """

    def __init__(self, keep_first: int) -> None:
        self.keep_first = keep_first
        self.head: list[BootSession] = []
        self.folded = 0
        self.facts: dict[str, Any] = {}
        self.values: dict[str, list[Any]] = {}
        self._recent: dict[int, BootSession] = {}

    def drop(self, s: BootSession) -> None:
        s.events = []  # only its facts and counts are looked at from now on
        self._recent[s.number] = s
        if len(self.head) < self.keep_first:
            self.head.append(s)
            return
        self.folded += 1
        for k, v in s.facts.items():
            if k in ("partitions", "partition_line") or v in (None, ""):
                continue
            self.facts[k] = v
            seen = self.values.setdefault(k, [])
            if v not in seen and len(seen) < MAX_FOLDED_VALUES:
                seen.append(v)

    def settle(self) -> None:
        """The events of the last chunk were handled: the boots let go of during it may go."""
        self._recent.clear()

    def get(self, number: int) -> BootSession | None:
        got = self._recent.get(number)
        if got is None and 1 <= number <= len(self.head):
            got = self.head[number - 1]
        return got


@dataclass
class ScanResult:
    """What one scan found: its events (if kept), boots, and counts."""

    name: str
    pipeline: Pipeline
    events: list[Event] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    note: str | None = None
    """Set when the file looked like text in an encoding espwatch could not read (encoding.sniff)."""
    history: BootHistory | None = None
    """With `keep_sessions`: the boots the tracker let go of."""

    @property
    def sessions(self) -> list[BootSession]:
        """The boots' sessions (with `keep_sessions`: the first and the last N only, in order)."""
        if self.history is None or not self.history.head:
            return self.pipeline.sessions
        return [*self.history.head, *self.pipeline.sessions]

    @property
    def boot_count(self) -> int:
        """The number of boots, kept or not."""
        return self.pipeline.boots.current.number

    def session(self, number: int) -> BootSession:
        """The boot numbered `number` (the current one when out of range or let go of)."""
        got = self.history.get(number) if self.history is not None else None
        return got if got is not None else self.pipeline.boots.session(number)

    def fact_values(self, name: str) -> list[Any]:
        """The values of a boot fact, boot by boot (of the boots let go of: their distinct values)."""
        h = self.history
        head = h.head if h is not None else []
        values = [s.facts[name] for s in head if s.facts.get(name)]
        values += h.values.get(name, []) if h is not None else []
        return values + [s.facts[name] for s in self.pipeline.sessions if s.facts.get(name)]

    def last_facts(self) -> dict[str, Any]:
        """The last value of each boot fact over all boots (the newest boot describes the device best)."""
        facts: dict[str, Any] = {}
        h = self.history
        for s in h.head if h is not None else []:
            facts.update((k, v) for k, v in s.facts.items() if v not in (None, ""))
        facts.update(h.facts if h is not None else {})
        for s in self.pipeline.sessions:
            facts.update((k, v) for k, v in s.facts.items() if v not in (None, ""))
        facts.pop("partitions", None)
        facts.pop("partition_line", None)
        return facts

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
    `keep_sessions=N`: keep the sessions of the first and last N boots only, so memory does not grow with
    the number of boots (`BootHistory`)."""
    fh, name = open_input(path)
    pipe = Pipeline(patterns, list(stages or []), keep_events=keep_events, binlog=binlog)
    plain = is_plain_file(fh)  # the bytes the detector sees are the file's own
    if offsets is not None:
        offsets.exact = plain
        pipe.detector.offsets = offsets if plain else None
    result = ScanResult(name, pipe, note=input_note(fh))
    if keep_sessions is not None:
        result.history = BootHistory(keep_sessions)
        pipe.boots.keep_sessions = keep_sessions
        pipe.boots.on_drop = result.history.drop
    if on_start is not None:
        on_start(result)
    # A reused read buffer for a file, unless a decoder before the detector could keep a reference to it.
    reuse = plain and (binlog is None or getattr(binlog, "copies_input", False))
    chunks = read_reusing(fh) if reuse else read_chunks(fh)
    if on_read is not None:
        chunks = _reporting(chunks, on_read)
    if result.history is not None:
        chunks = _settling(chunks, result.history)
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


def _settling(chunks: Iterator[bytes | bytearray], history: BootHistory) -> Iterator[bytes | bytearray]:
    """The pipeline asks for the next chunk once the events of the last one were handled."""
    for chunk in chunks:
        history.settle()
        yield chunk


def _reporting(chunks: Iterator[bytes | bytearray], on_read: Callable[[int], None]
               ) -> Iterator[bytes | bytearray]:
    for chunk in chunks:
        on_read(len(chunk))
        yield chunk


def write_jsonl(ev: Event, out: TextIO, file: str | None = None) -> None:
    obj = ev.to_json()
    if file is not None:
        obj["file"] = file
    write_json_line(obj, out)  # DEL, C1 and bidi controls escaped: see espwatch.sanitize
