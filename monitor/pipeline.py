"""The one direction of flow: bytes -> lines -> events -> enrichment -> diagnosis -> sinks.

`Pipeline` is what every verb and the TUI use: feed it bytes from any source and read the events from its
return values. After detection, the boot tracker places each event in its boot; then the stages (address
decoding, diagnosis — made by `espwatch.enrich.Enrichment`) see each event once, in input order, with its
boot, and may add derived events.

What comes out of `feed` is final. A live consumer that cannot wait for the end of input asks
`speculate()`: what `close()` would add if the input ended now (an open register dump, an event held
behind it, a rule that fires at the end of a boot or of the log), computed on a copy of the state, so the
pipeline itself goes on exactly as `scan` does (espwatch.live reconciles the two for the monitor).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from espwatch.detector import Detector
from espwatch.encoding import SNIFF_BYTES, Sniffed, utf8_stream
from espwatch.errors import InputError, unreadable
from espwatch.events import Event
from espwatch.patterns import PatternSet
from espwatch.sessions import BootSession, BootTracker

if TYPE_CHECKING:
    from espwatch.binlog import BinlogDecoder

CHUNK = 1 << 20


class Stage(Protocol):
    """An enrichment step: sees every event once, with the boot it belongs to; may return more events."""

    def process(self, ev: Event, boot: BootSession) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


def fork_stage(stage: Stage, memo: dict[int, object]) -> Stage:
    """A copy of a stage for a what-if run: its own `fork(memo)` when it has one, else a deep copy."""
    fork = getattr(stage, "fork", None)
    return fork(memo) if fork is not None else copy.deepcopy(stage, memo)


@dataclass
class Pipeline:
    """Detector + boot sessions + stages; `feed` and `close` return the events in input order.

    `binlog`: a bytes -> bytes step before line splitting (ESP-IDF binary log frames back to text lines);
    line numbers are then those of the decoded text.
    """

    patterns: PatternSet
    stages: list[Stage] = field(default_factory=list)
    keep_events: bool = True
    binlog: BinlogDecoder | None = None

    def __post_init__(self) -> None:
        self.detector = Detector(self.patterns)
        self.boots = BootTracker(self.patterns, keep_events=self.keep_events)

    @property
    def sessions(self) -> list[BootSession]:
        return self.boots.sessions

    @property
    def lines(self) -> int:
        return self.detector.lines_seen

    def feed(self, data: bytes) -> list[Event]:
        if self.binlog is not None:
            data = self.binlog.feed(data)
        return self._detect(data)

    def _detect(self, text: bytes) -> list[Event]:
        out = self._enrich(self.detector.feed(text))
        self.boots.note_line(self.detector.lines_seen)
        return out

    def close(self) -> list[Event]:
        out = self._detect(self.binlog.close()) if self.binlog is not None else []
        out += self._enrich(self.detector.close())
        self.boots.note_line(self.detector.lines_seen)
        out.extend(self._finish_stages())
        return out

    def fork(self) -> Pipeline:
        """A copy of the pipeline's state to run ahead on (see `speculate`); patterns and ELF index shared."""
        other = Pipeline.__new__(Pipeline)
        other.patterns, other.keep_events = self.patterns, False
        other.detector = self.detector.fork()
        other.boots = self.boots.fork()
        memo: dict[int, object] = {id(self.boots.current): other.boots.current}
        other.stages = [fork_stage(s, memo) for s in self.stages]
        return other

    def speculate(self, pending: bool = True) -> list[Event]:
        """What `close()` would add if the input ended now, without changing this pipeline.

        With `pending`, the events the detector still holds (an open block, events behind it, a last line
        without a break) go through the stages first; without, only the stages' end-of-input pass runs
        (findings of rules over the boot or the whole log)."""
        other = self.fork()
        return other.close() if pending else other._finish_stages()

    def _finish_stages(self) -> list[Event]:
        out: list[Event] = []
        for i, stage in enumerate(self.stages):
            extra = stage.finish()
            for later in self.stages[i + 1 :]:
                extra = self._through(later, extra)
            out.extend(extra)
        return out

    def _through(self, stage: Stage, events: list[Event]) -> list[Event]:
        session = self.boots.session
        return [e2 for e in events for e2 in stage.process(e, session(e.boot))]

    def _enrich(self, events: list[Event]) -> list[Event]:
        if not events:
            return events
        out: list[Event] = []
        boots, stages = self.boots, self.stages
        place, session, kept = boots.process, boots.session, boots.sessions
        for ev in events:
            batch = place(ev)
            for stage in stages:
                if len(batch) == 1:  # the common case, without a comprehension per stage
                    one = batch[0]
                    cur = kept[-1]  # (the tracker's list, changed in place)
                    batch = stage.process(one, cur if cur.number == one.boot else session(one.boot))
                else:
                    batch = [e2 for e in batch for e2 in stage.process(e, session(e.boot))]
            out.extend(batch)
        return out

    def run(self, chunks: Iterable[bytes]) -> Iterator[Event]:
        for chunk in chunks:
            yield from self.feed(chunk)
        yield from self.close()


# Files that are certainly not a log: (magic at offset, what it is). Logs may start with any garbage a
# wrong baud rate gives, so only signatures are trusted, never a share of odd bytes.
_NOT_A_LOG: list[tuple[int, tuple[bytes, ...], str]] = [
    (0, (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"), "a zip archive"),
    (0, (b"\x1f\x8b",), "a gzip file"),
    (0, (b"\xfd7zXZ\x00",), "an xz file"),
    (0, (b"BZh",), "a bzip2 file"),
    (0, (b"\x28\xb5\x2f\xfd",), "a zstd file"),
    (0, (b"7z\xbc\xaf\x27\x1c",), "a 7-Zip archive"),
    (0, (b"\x89PNG\r\n\x1a\n",), "a PNG image"),
    (0, (b"\xff\xd8\xff",), "a JPEG image"),
    (0, (b"GIF87a", b"GIF89a"), "a GIF image"),
    (0, (b"%PDF-",), "a PDF document"),
    (0, (b"SQLite format 3\x00",), "an SQLite database"),
    (0, (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"),
     "a Mach-O executable"),
    (257, (b"ustar",), "a tar archive"),
]


_DECOMPRESS = {what: f" (decompress it first: `{tool} FILE > FILE.log`{also})" for what, tool, also in (
    ("a gzip file", "zcat", "; `espwatch triage` reads .gz logs as they are"),
    ("a zstd file", "zstdcat", "; `espwatch triage` reads .zst logs as they are"),
    ("an xz file", "xzcat", ""), ("a bzip2 file", "bzcat", ""))}


def sniff_binary(head: bytes, name: str) -> None:
    """Raise InputError (one line) when the first bytes of an input show it is a known binary, not a log."""
    for offset, magics, what in _NOT_A_LOG:
        if head[offset:].startswith(magics) and (what != "a bzip2 file" or head[3:4].isdigit()):
            raise InputError(f"{name} is {what}, not a log{_DECOMPRESS.get(what, '')}")
    if head.startswith(b"MZ") and len(head) >= 0x40:
        pe = int.from_bytes(head[0x3C:0x40], "little")
        if head[pe:pe + 4] == b"PE\x00\x00":
            raise InputError(f"{name} is a Windows executable, not a log")
    if head.startswith(b"\x7fELF"):
        hint = "" if name.startswith("<") else f" (decode with `espwatch decode --elf {name} LOG`)"
        raise InputError(f"{name} is an ELF file, not a log{hint}")
    if head[:1] == b"\xe9" and head.count(b"\x00") > len(head) // 8:
        raise InputError(f"{name} looks like an ESP app image, not a log "
                         f"(check it with `espwatch image {name}`)")
    if head.startswith(b"\xaa\x50") and head.count(b"\xff") > len(head) // 4:
        raise InputError(f"{name} looks like a partition table binary, not a log "
                         f"(print it with `espwatch image partitions {name}`)")


STDIN_NAME = "<stdin>"


def open_input(path: str) -> tuple[BinaryIO, str]:
    """Open a log for reading (`-` is stdin); InputError with one line on any problem.

    The stream gives UTF-8: a log in UTF-16 or with a BOM is transcoded (espwatch.encoding); its `sniffed`
    attribute says what was found. Close it with `close_input`.
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
    except OSError as exc:
        raise unreadable(path, exc) from None
    try:
        head = fh.read(SNIFF_BYTES)
        fh.seek(0)
    except OSError as exc:
        fh.close()
        raise unreadable(path, exc) from None
    try:
        sniff_binary(head, path)
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


def is_plain_file(fh: BinaryIO) -> bool:
    """True when `fh` (from open_input) reads a file's own bytes: not standard input, not transcoded."""
    import io

    return isinstance(fh, io.BufferedReader) and fh is not sys.stdin.buffer and fh.seekable()


def read_reusing(fh: BinaryIO, size: int = CHUNK) -> Iterator[bytes | bytearray]:
    """Like `read_chunks`, but full chunks of a file come in one reused buffer, valid until the next one
    is asked for (a consumer that keeps bytes copies them; the detector does). The last, short read comes
    as bytes; anything but a plain file (standard input, a transcoding reader) goes through `read_chunks`."""
    if not is_plain_file(fh):
        yield from read_chunks(fh, size)
        return
    buf = bytearray(size)
    while True:
        try:
            n = fh.readinto(buf)
        except OSError as exc:
            raise InputError(f"read error: {exc.strerror or exc}") from None
        if not n:
            return
        yield buf if n == size else bytes(buf[:n])
