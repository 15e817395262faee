"""Binary log bytes to the text the device would have printed in text mode: a streaming bytes -> bytes step.

`BinlogDecoder.feed(chunk)` returns the text decoded so far; `close()` the rest. Text between frames (ROM
output, panic dumps, `printf`) passes unchanged. Each record becomes the ESP-IDF line it stands for,
`<colour>L (time) tag: message<reset>` (buffer dumps: one line per 16 bytes, like ESP_LOG_BUFFER_*), with
strings from the app's or the bootloader's ELF by the record's source byte. What cannot be decoded becomes
one marked line, `[espwatch] binlog: ...`, saying what and why (patterns/binlog.toml makes it an event),
and decoding resumes at the next frame:

- a record whose format is not in the ELF, does not start a string there, or does not fit the record's
  arguments (wrong ELF, another build), or for which no ELF was given;
- bytes between frames that are neither text nor a valid frame (damaged or lost bytes, CRC mismatch, a
  frame cut off at the end of the input, output at another baud rate).

Once binary logging is known (an ELF built with it, or frames seen), the bytes between frames are sorted
into text and damage: a run of text ends the damage when it completes a line of at least 4 characters (or
reaches the next frame), so the text lines around damage are kept.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from espwatch.binlog.elfstrings import BUFFER_FORMATS, ElfStrings
from espwatch.binlog.frames import FrameSplitter, Gap, Record
from espwatch.binlog.printf import ArgReader, ArgsShort, format_args, parse_format

MARKER = b"[espwatch] binlog: "
COLORS = {1: b"\x1b[0;31m", 2: b"\x1b[0;33m", 3: b"\x1b[0;32m"}
"""What ESP-IDF's text mode sends before E, W and I lines (D and V have no colour)."""
RESET = b"\x1b[0m"
MIN_TEXT = 4
"""A run of text between damaged bytes counts as text when it completes a line at least this long."""
LONG_TEXT = 256
"""... or when it grows this long without a line break."""
CACHE_MAX = 1 << 16
"""Formats and tags remembered per decoder (a build has a few thousand)."""

# Text for the damage filter: printable ASCII, tab, CR, LF, ESC, and whole UTF-8 sequences.
_TEXT_RUN = re.compile(rb"(?:[\t\n\r\x1b\x20-\x7e]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                       rb"|[\xf0-\xf4][\x80-\xbf]{3})+")
_UTF8_TAIL = re.compile(rb"(?:[\xc2-\xf4]|[\xe0-\xf4][\x80-\xbf]|[\xf0-\xf4][\x80-\xbf]{2})\Z")

_REASONS = {
    "": "neither text nor a binary log frame (bytes damaged or lost on the serial line, "
        "or another baud rate)",
    "crc": "damaged binary log frame (CRC mismatch: bytes changed or lost on the serial line)",
    "cut": "binary log frame cut off (the input ended inside it)",
}


@dataclass
class BinlogStats:
    """What a decoder saw: frames, records decoded and not, damaged bytes, text bytes passed on."""

    records: int = 0
    undecoded: int = 0
    junk_bytes: int = 0
    junk_runs: int = 0
    text_bytes: int = 0
    by_source: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {"records": self.records, "undecoded": self.undecoded, "junk_bytes": self.junk_bytes,
                "junk_runs": self.junk_runs, "text_bytes": self.text_bytes,
                "by_source": dict(self.by_source), "reasons": dict(self.reasons)}


class _GapFilter:
    """Once armed: bytes between frames -> text (kept) and damage (counted). See the module docstring."""

    def __init__(self) -> None:
        self.clean = True  # no damage since the last frame or the last kept text
        self.qualified = False  # the current text run is kept whatever follows
        self.run = bytearray()  # undecided text
        self.carry = b""  # an incomplete UTF-8 sequence at the end of the last chunk
        self.junk = 0
        self.note = ""

    def feed(self, data: bytes, marks: tuple[tuple[int, str], ...], out: list[tuple[str, Any]]) -> None:
        if self.carry:
            shift = len(self.carry)
            marks = tuple((p + shift, why) for p, why in marks)
            data = self.carry + data
            self.carry = b""
        tail = _UTF8_TAIL.search(data, max(0, len(data) - 3))
        if tail is not None:
            self.carry = data[tail.start():]
            data = data[:tail.start()]
        pos = 0
        for m in _TEXT_RUN.finditer(data):
            if m.start() > pos:
                self._nontext(pos, m.start(), marks)
            self._text(data[m.start():m.end()], out)
            pos = m.end()
        if pos < len(data):
            self._nontext(pos, len(data), marks)

    def _text(self, t: bytes, out: list[tuple[str, Any]]) -> None:
        if self.clean:
            if self.qualified:
                out.append(("text", t))
                return
            self.run += t
            if len(self.run) >= MIN_TEXT:
                out.append(("text", bytes(self.run)))
                self.run.clear()
                self.qualified = True
            return
        self.run += t
        if b"\n" in t or len(self.run) > LONG_TEXT:
            self._try_resume(out)

    def _try_resume(self, out: list[tuple[str, Any]]) -> None:
        """In damage: keep the text run from its first line of MIN_TEXT characters on."""
        run = self.run
        while True:
            nl = run.find(b"\n")
            if nl < 0:
                if len(run) > LONG_TEXT:
                    break
                return
            if len(run[:nl].strip()) >= MIN_TEXT:
                break
            self.junk += nl + 1  # a short fragment before a line break: part of the damage
            del run[:nl + 1]
        self._flush_junk(out)
        out.append(("text", bytes(run)))
        run.clear()
        self.clean = True
        self.qualified = True

    def _nontext(self, start: int, end: int, marks: tuple[tuple[int, str], ...] = ()) -> None:
        for pos, why in marks:  # a frame-like start in these bytes says why they are damage
            if start <= pos < end and self.note != "cut":
                self.note = why
        self.junk += end - start + len(self.run)
        self.run.clear()
        self.clean = False
        self.qualified = False

    def _flush_junk(self, out: list[tuple[str, Any]]) -> None:
        if self.junk:
            out.append(("junk", (self.junk, self.note)))
        self.junk = 0
        self.note = ""

    def boundary(self, out: list[tuple[str, Any]], closing: bool = False) -> None:
        """A frame follows (or the input ends): decide about what is held."""
        if self.carry:
            if self.clean and self.qualified:
                out.append(("text", self.carry))
            else:
                self._nontext(0, len(self.carry))
            self.carry = b""
        if self.clean:
            if self.run:
                out.append(("text", bytes(self.run)))
        elif len(self.run) >= MIN_TEXT:
            self._flush_junk(out)
            out.append(("text", bytes(self.run)))
        else:
            self.junk += len(self.run)
        self._flush_junk(out)
        self.run.clear()
        self.clean = True
        self.qualified = False

    def idle(self, out: list[tuple[str, Any]]) -> None:
        """The input paused: show what is decided (a prompt without a line break, damage so far)."""
        if self.clean and self.run:
            out.append(("text", bytes(self.run)))
            self.run.clear()
            self.qualified = True
        elif not self.clean:
            self._flush_junk(out)


class BinlogDecoder:
    """Streaming decoder; see the module docstring.

    `app` / `bootloader`: the ELFs (ElfStrings) whose strings the records name. `armed`: treat the input as
    binary logging from the start (default: when the app ELF was built with binary logging); otherwise it
    arms itself on the first frames. `colors`: add the colour codes text mode would send.
    """

    def __init__(self, app: ElfStrings | None = None, bootloader: ElfStrings | None = None, *,
                 armed: bool | None = None, colors: bool = True) -> None:
        self.app = app
        self.bootloader = bootloader
        self.colors = colors
        if armed is None:
            armed = bool(app is not None and app.has_binlog)
        self._armed_at_start = armed
        self.splitter = FrameSplitter(armed=armed, accept=self._readable)
        self.gaps = _GapFilter()
        self.stats = BinlogStats()
        self._at_line_start = True
        self.notes: list[str] = []
        """What the caller should tell the user about the ELFs (set by `open_decoder`)."""
        self._fmt_cache: dict[tuple[int, StrKey], tuple] = {}
        self._tag_cache: dict[tuple[int, StrKey], tuple] = {}
        self._readers = {1: self._string_reader(bootloader), 2: self._string_reader(app)}
        self._prefixes: dict[tuple, tuple[bytes, bytes, bytes]] = {}

    def fresh(self) -> BinlogDecoder:
        """A new decoder with the same ELFs and settings (its own stream state)."""
        dec = BinlogDecoder(self.app, self.bootloader, armed=self._armed_at_start, colors=self.colors)
        dec.notes = list(self.notes)
        return dec

    @property
    def active(self) -> bool:
        """True once the input is known to carry binary logging."""
        return self.splitter.armed

    # -- streaming ------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        items = self.splitter.feed(data)
        if len(items) == 1 and type(items[0]) is Gap and not items[0].armed:
            text = items[0].data  # the common case of a text-only log: no copy
            self.stats.text_bytes += len(text)
            if text:
                self._at_line_start = text.endswith(b"\n")
            return text
        return self._emit(items)

    def idle(self) -> bytes:
        """Call when the input paused (live): releases what waits for bytes that may not come."""
        out = self._emit(self.splitter.idle())
        if self.splitter.armed:
            parts: list[tuple[str, Any]] = []
            self.gaps.idle(parts)
            out += self._render_parts(parts)
        return out

    def close(self) -> bytes:
        out = self._emit(self.splitter.close())
        if self.splitter.armed:
            parts: list[tuple[str, Any]] = []
            self.gaps.boundary(parts, closing=True)
            out += self._render_parts(parts)
        return out

    def _emit(self, items: list[Gap | Record]) -> bytes:
        out = bytearray()
        parts: list[tuple[str, Any]] = []
        for item in items:
            if type(item) is Gap:
                if item.armed:
                    self.gaps.feed(item.data, item.marks, parts)
                else:
                    parts.append(("text", item.data))
            else:
                self.gaps.boundary(parts)
                parts.append(("record", item))
        out += self._render_parts(parts)
        return bytes(out)

    def _render_parts(self, parts: list[tuple[str, Any]]) -> bytes:
        out = bytearray()
        for kind, value in parts:
            if kind == "text":
                if value:
                    out += value
                    self.stats.text_bytes += len(value)
                    self._at_line_start = value.endswith(b"\n")
                continue
            if kind == "record":
                rendered, ok = self.render(value)
                if not ok and not self._at_line_start:
                    out += b"\n"
            else:
                n, note = value
                self.stats.junk_bytes += n
                self.stats.junk_runs += 1
                plural = "s" if n != 1 else ""
                rendered = MARKER + f"{n} byte{plural} not decoded: {_REASONS[note]}\n".encode()
                if not self._at_line_start:
                    out += b"\n"
            if rendered:
                out += rendered
                self._at_line_start = rendered.endswith(b"\n")
        return bytes(out)

    # -- records --------------------------------------------------------------------------------------
    def _elf(self, rec: Record) -> ElfStrings | None:
        return self.bootloader if rec.source == 1 else self.app

    def _readable(self, rec: Record) -> bool:
        """Whether a lone frame seen before binary logging is known names a format in a given ELF and
        decodes cleanly with it (then it arms the decoder)."""
        if not isinstance(rec.fmt, int) or self._elf(rec) is None:
            return False
        try:
            _, ok = self.render(rec, count=False)
        except Exception:  # a frame-like run of text must never stop a scan
            return False
        return ok

    def render(self, rec: Record, count: bool = True) -> tuple[bytes, bool]:
        """The text line(s) of a record, or its marked line; and whether it decoded."""
        stats = self.stats
        fmt_info = self._fmt_cache.get((rec.source, rec.fmt))
        if fmt_info is None:
            fmt_info = self._format_info(rec)
            if len(self._fmt_cache) < CACHE_MAX:
                self._fmt_cache[(rec.source, rec.fmt)] = fmt_info
        pieces, kind, fmt, elf, failure = fmt_info
        tag = None
        if failure is None:
            tag_info = self._tag_cache.get((rec.source, rec.tag))
            if tag_info is None:
                tag_info = self._tag_info(rec)
                if len(self._tag_cache) < CACHE_MAX:
                    self._tag_cache[(rec.source, rec.tag)] = tag_info
            tag, failure = tag_info
        if failure is None:
            try:
                if kind is not None:
                    text = self._buffer_lines(rec, elf, kind, tag)
                else:
                    if len(pieces) == 1 and pieces[0].__class__ is bytes and not rec.args:
                        msg = pieces[0]  # no conversions
                    elif not pieces:
                        if rec.args:
                            raise ArgsShort
                        msg = b""
                    else:
                        reader = ArgReader(rec.args, self._readers[rec.source])
                        msg = format_args(pieces, reader)
                        if reader.pos != len(rec.args):
                            raise ArgsShort
                    if rec.timestamp == 0 and msg.endswith(b"\n"):
                        text = msg  # esp_log_write(): the message carries its own header and line break
                    else:
                        start, end = self._prefix(rec, tag)
                        text = start + msg + end
            except ArgsShort:
                failure = ("arguments do not fit the format",
                           f"its {len(rec.args)} argument bytes do not fit the format \"{_printable(fmt)}\""
                           f"{' of ' + elf.name if elf is not None and isinstance(rec.fmt, int) else ''} "
                           "(wrong ELF, another build, or a format/argument mismatch in the code)")
            else:
                if count:
                    stats.records += 1
                    stats.by_source[rec.source_name] += 1
                return text, True
        if count:
            stats.undecoded += 1
            stats.by_source[rec.source_name] += 1
            stats.reasons[failure[0]] += 1
        line = (MARKER + f"{rec.source_name} record {rec.level_letter} ({rec.timestamp}) "
                         f"not decoded: {failure[1]}\n".encode())
        return line, False

    def _format_info(self, rec: Record) -> tuple:
        """(pieces, buffer kind, format text, ELF, None), or (.., (short reason, sentence)) when the format
        cannot be had: no ELF for an address, an address not in the ELF or not at a string's start."""
        elf = self._elf(rec)
        ref = rec.fmt
        if isinstance(ref, bytes):
            fmt = ref.split(b"\x00", 1)[0]
        else:
            why = self._missing(rec, elf, "format", ref)
            if why is not None:
                return None, None, b"", elf, why
            assert elf is not None
            if not elf.starts_string(ref):
                why = (f"format address 0x{ref:08x} does not start a string in {elf.name} "
                       "(wrong ELF or another build?)")
                return None, None, b"", elf, ("format inside a string", why)
            if ref == 0:
                return None, None, b"", elf, ("NULL format", "its format is a NULL pointer")
            fmt = elf.string_at(ref) or b""
        kind = _buffer_kind(fmt)
        return (parse_format(fmt) if kind is None else ()), kind, fmt, elf, None

    def _tag_info(self, rec: Record) -> tuple[bytes | None, tuple[str, str] | None]:
        ref = rec.tag
        if isinstance(ref, bytes):
            return ref.split(b"\x00", 1)[0], None
        if ref == 0:
            return None, None  # a NULL tag: no "tag: "
        elf = self._elf(rec)
        why = self._missing(rec, elf, "tag", ref)
        if why is not None:
            return None, why
        assert elf is not None
        return elf.string_at(ref), None

    @staticmethod
    def _missing(rec: Record, elf: ElfStrings | None, what: str, ref: int) -> tuple[str, str] | None:
        if elf is None:
            flag = "--bootloader-elf BOOTLOADER.elf" if rec.source == 1 else "--elf APP.elf"
            return "no ELF", f"no {rec.source_name} ELF to look up its {what} (give {flag})"
        if elf.string_at(ref) is None:
            return (f"{what} not in the ELF",
                    f"{what} address 0x{ref:08x} is not in {elf.name} (wrong ELF or another build?)")
        return None

    def _string_reader(self, elf: ElfStrings | None):
        def read(reader: ArgReader, size: int | None) -> bytes | None:
            data, p = reader.data, reader.pos
            if p + 2 > len(data):
                raise ArgsShort
            if data[p] >= 0xFC:
                n = 1 - int.from_bytes(data[p:p + 2], "big", signed=True)
                if p + 2 + n > len(data):
                    raise ArgsShort
                reader.pos = p + 2 + n
                value = data[p + 2:p + 2 + n]
                return value[:size] if size is not None else value.split(b"\x00", 1)[0]
            addr = reader.u32()
            if addr == 0:
                return None
            if elf is None:
                return f"<0x{addr:08x}: no ELF>".encode()
            found = elf.bytes_at(addr, size) if size is not None else elf.string_at(addr)
            return found if found is not None else f"<0x{addr:08x}: not in {elf.name}>".encode()

        return read

    # -- rendering --------------------------------------------------------------------------------------
    def _prefix(self, rec: Record, tag: bytes | None) -> tuple[bytes, bytes]:
        """(start of each line, end of each line) as ESP-IDF's text mode writes them."""
        ts = rec.timestamp
        key = (rec.level, tag, ts == 0)
        parts = self._prefixes.get(key)
        if parts is None:
            letter = rec.level_letter.encode()
            tail = tag + b": " if tag is not None else b""
            if ts:
                color = COLORS.get(rec.level, b"") if self.colors else b""
                parts = (color + letter + b" (", b") " + tail, (RESET + b"\n") if color else b"\n")
            else:  # ESP_DRAM_LOGx and early logs without time: no time, no colour (text mode does the same)
                parts = (letter + b" " + tail, b"", b"\n")
            if len(self._prefixes) < CACHE_MAX:
                self._prefixes[key] = parts
        if ts:
            return b"%s%d%s" % (parts[0], ts, parts[1]), parts[2]
        return parts[0], parts[2]

    def _buffer_lines(self, rec: Record, elf: ElfStrings | None, kind: str, tag: bytes | None) -> bytes:
        reader = ArgReader(rec.args, self._readers[rec.source])
        length = reader.u32() & 0xFFFF
        data = reader.string(reader, length) or b""
        addr = reader.u32()
        if reader.left:
            raise ArgsShort
        start, end = self._prefix(rec, tag)
        out = bytearray()
        for k in range(0, min(length, len(data)), 16):
            chunk = data[k:k + 16]
            if kind == "hex":
                body = chunk.hex(" ").encode()
            elif kind == "char":
                body = chunk.split(b"\x00", 1)[0]
            else:
                body = _hexdump_line(addr + k, chunk)
            out += start + body + end
        return bytes(out)


StrKey = int | bytes


def _buffer_kind(fmt: bytes) -> str | None:
    if fmt.startswith(b"__ESP_BUFFER_"):
        for prefix, kind in BUFFER_FORMATS.items():
            if fmt.startswith(prefix):
                return kind
    return None


def _hexdump_line(addr: int, chunk: bytes) -> bytes:
    """One ESP_LOG_BUFFER_HEXDUMP line: `0x3ffb5bc0   54 68 65 20 ...  |The ...|`."""
    cells = []
    for i in range(16):
        sep = "  " if i % 8 == 0 else " "
        cells.append(sep + (f"{chunk[i]:02x}" if i < len(chunk) else "  "))
    chars = "".join(chr(b) if 32 <= b <= 126 else "." for b in chunk)
    return f"0x{addr & 0xFFFFFFFF:04x} {''.join(cells)}  |{chars}|".encode()


def _printable(fmt: bytes, limit: int = 60) -> str:
    text = fmt.split(b"\x00", 1)[0].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
