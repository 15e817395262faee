"""The one direction of flow: bytes -> lines -> events -> enrichment -> diagnosis -> sinks.

`Pipeline` is what every verb and the TUI use: feed it bytes from any source, read events from its
return values or subscribe to them. Stages after detection (boot sessions, address decoding, diagnosis)
see each event once, in input order, and may add derived events.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from espwatch.detector import Detector
from espwatch.encoding import SNIFF_BYTES, Sniffed, utf8_stream
from espwatch.events import Event
from espwatch.patterns import PatternSet, load_patterns
from espwatch.sessions import BootSession, BootTracker

CHUNK = 1 << 20


class Stage(Protocol):
    """An enrichment step: sees every event once, may return more events."""

    def process(self, ev: Event) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


class InputError(Exception):
    """A file that cannot be scanned: one line for the user."""


@dataclass
class Pipeline:
    """Detector + boot sessions + optional stages, with subscribers for live sinks."""

    patterns: PatternSet
    stages: list[Stage] = field(default_factory=list)
    keep_events: bool = True

    def __post_init__(self) -> None:
        self.detector = Detector(self.patterns)
        self.boots = BootTracker(self.patterns, keep_events=self.keep_events)
        self.subscribers: list[Callable[[Event], None]] = []

    @property
    def sessions(self) -> list[BootSession]:
        return self.boots.sessions

    @property
    def lines(self) -> int:
        return self.detector.lines_seen

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self.subscribers.append(callback)

    def feed(self, data: bytes) -> list[Event]:
        out = self._enrich(self.detector.feed(data))
        self.boots.note_line(self.detector.lines_seen)
        return out

    def close(self) -> list[Event]:
        out = self._enrich(self.detector.close())
        self.boots.note_line(self.detector.lines_seen)
        for i, stage in enumerate(self.stages):
            extra = stage.finish()
            for later in self.stages[i + 1 :]:
                extra = [e2 for e in extra for e2 in later.process(e)]
            out.extend(self._publish(extra))
        return out

    def _enrich(self, events: list[Event]) -> list[Event]:
        if not events:
            return events
        out: list[Event] = []
        for ev in events:
            batch = self.boots.process(ev)
            for stage in self.stages:
                batch = [e2 for e in batch for e2 in stage.process(e)]
            out.extend(batch)
        return self._publish(out)

    def _publish(self, events: list[Event]) -> list[Event]:
        for ev in events:
            for cb in self.subscribers:
                cb(ev)
        return events

    def run(self, chunks: Iterable[bytes]) -> Iterator[Event]:
        for chunk in chunks:
            yield from self.feed(chunk)
        yield from self.close()


def _sniff_binary(head: bytes, name: str) -> None:
    if head.startswith(b"\x7fELF"):
        raise InputError(f"{name} is an ELF file, not a log (decode with `espwatch decode --elf {name} LOG`)")
    if head[:1] == b"\xe9" and head.count(b"\x00") > len(head) // 8:
        raise InputError(f"{name} looks like an ESP app image, not a log "
                         f"(check it with `espwatch image {name}`)")
    if head.startswith(b"\xaa\x50") and head.count(b"\xff") > len(head) // 4:
        raise InputError(f"{name} looks like a partition table binary, not a log "
                         f"(print it with `espwatch image partitions {name}`)")


STDIN_NAME = "<stdin>"


def open_input(path: str) -> tuple[BinaryIO, str]:
    """Open a log for reading (`-` is stdin); InputError with one line on any problem.

    The stream gives UTF-8: a log in UTF-16 or with a BOM is transcoded (espwatch.encoding); the stream's
    `sniffed` attribute says what was found. Close it with `close_input`.
    """
    if path == "-":
        stdin = sys.stdin.buffer
        try:
            head = getattr(stdin, "read1", stdin.read)(SNIFF_BYTES)
        except OSError as exc:
            raise InputError(f"read error: {exc.strerror or exc}") from None
        stream, sniffed = utf8_stream(stdin, head, seekable=False)
        return _tagged(stream, sniffed), STDIN_NAME
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path} is a directory, not a log file")
    try:
        fh = open(p, "rb")  # noqa: SIM115 - returned to the caller
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        head = fh.read(SNIFF_BYTES)
        fh.seek(0)
    except OSError as exc:
        fh.close()
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        _sniff_binary(head, path)
    except InputError:
        fh.close()
        raise
    stream, sniffed = utf8_stream(fh, head, seekable=True)
    return _tagged(stream, sniffed), path


def _tagged(stream: BinaryIO, sniffed: Sniffed) -> BinaryIO:
    try:
        stream.sniffed = sniffed  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - every stream used here takes attributes
        pass
    return stream


def input_note(stream: BinaryIO) -> str | None:
    """What open_input found odd about a stream's encoding (None when it read as expected)."""
    sniffed = getattr(stream, "sniffed", None)
    return sniffed.note if sniffed is not None else None


def close_input(stream: BinaryIO, name: str) -> None:
    """Close what open_input opened (standard input stays open)."""
    if name != STDIN_NAME:
        stream.close()


def read_chunks(fh: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    stdin = fh is sys.stdin.buffer or getattr(fh, "raw", None) is sys.stdin.buffer
    read = getattr(fh, "read1", fh.read) if stdin else fh.read
    while True:
        try:
            chunk = read(size)
        except OSError as exc:
            raise InputError(f"read error: {exc.strerror or exc}") from None
        if not chunk:
            return
        yield chunk


def scan_file(path: str | os.PathLike[str], patterns: PatternSet | None = None,
              stages: list[Stage] | None = None, keep_events: bool = True) -> tuple[Pipeline, list[Event]]:
    """Scan a whole file; return the pipeline (sessions, counters) and its events."""
    from espwatch.scan import scan_stream

    result = scan_stream(str(path), patterns or load_patterns(), stages=stages, keep_events=keep_events)
    return result.pipeline, result.events
