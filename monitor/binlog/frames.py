"""ESP-IDF binary log frames in a serial byte stream: layout, CRC, and a streaming splitter.

A frame (ESP-IDF v6 `components/log`, `CONFIG_LOG_MODE_BINARY`), every field big-endian:

    [0]      source: 1 = bootloader, 2 = application (which ELF holds its strings)
    [1..2]   control: bits 0-9 frame length (all bytes, CRC included), 10-12 level (1 E .. 5 V),
             13 timestamp is 64 bits, 14-15 version (0)
    format   string reference (below)
    tag      string reference (address 0: no tag)
    time     milliseconds, 4 or 8 bytes
    args     the arguments, 4 or 8 bytes each, strings as references
    [last]   CRC-8 (polynomial 0x07, initial 0) of the bytes before it: the CRC of a whole frame is 0

A string reference is either a 32-bit address in the ELF (`.noload` when its top byte is 0, else a loaded
section such as flash rodata), or an inline string: a 16-bit `1 - n` (so the first byte is 0xFC-0xFF, which
no address has) followed by the `n >= 2` bytes of the string, NUL-padded when it is shorter than 2.

`FrameSplitter` takes bytes as they come and returns, in order, the runs of bytes between frames (`Gap`)
and the frames (`Record`). A frame is a candidate where a source byte is followed by a plausible control
word and its string fields fit; it counts only when its CRC is right. Until the stream is known to carry
binary logging ("armed": given, or two frames back to back, or a first frame the decoder can read), a
lone frame-like run stays text.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass

SOURCES = {1: "bootloader", 2: "app"}
LEVEL_LETTERS = b"?EWIDV"
MIN_FRAME = 16
"""source + control + two 4-byte string references + 32-bit time + CRC."""
MAX_FRAME = 0x3FF

_START = re.compile(rb"[\x01\x02]")


def _control_table() -> array:
    """Frame length for each control word, 0 for implausible ones (version, level, length)."""
    table = array("H", bytes(2 * 65536))
    for hi in range(256):
        if hi >> 6 == 0 and 1 <= (hi >> 2) & 7 <= 5:  # version 0, level E..V
            base = (hi & 3) << 8
            table[hi << 8:(hi + 1) << 8] = array("H", (base + lo if base + lo >= MIN_FRAME else 0
                                                       for lo in range(256)))
    return table


_CTRL_LEN = _control_table()


def _crc_table() -> bytes:
    out = bytearray(256)
    for i in range(256):
        c = i
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        out[i] = c
    return bytes(out)


CRC8_TABLE = _crc_table()


def crc8(data: bytes | bytearray | memoryview) -> int:
    """CRC-8 (polynomial 0x07, initial value 0, no reflection) as the device computes it."""
    table = CRC8_TABLE
    c = 0
    for b in data:
        c = table[c ^ b]
    return c


StrRef = int | bytes
"""An address in the ELF (int) or an inline string (bytes)."""


@dataclass(slots=True)
class Record:
    """One frame, split into its fields (strings not yet resolved)."""

    source: int
    level: int
    timestamp: int
    fmt: StrRef
    tag: StrRef
    args: bytes
    size: int

    @property
    def level_letter(self) -> str:
        return chr(LEVEL_LETTERS[self.level])

    @property
    def source_name(self) -> str:
        return SOURCES.get(self.source, str(self.source))


def read_ref(data: bytes, pos: int, end: int) -> tuple[StrRef, int] | None:
    """The string reference at `pos` and the position after it, or None when it runs past `end`."""
    if pos + 4 > end:
        return None
    if data[pos] >= 0xFC:
        n = 1 - int.from_bytes(data[pos:pos + 2], "big", signed=True)
        stop = pos + 2 + n
        if stop > end:
            return None
        return bytes(data[pos + 2:stop]), stop
    return int.from_bytes(data[pos:pos + 4], "big"), pos + 4


def parse_record(frame: bytes) -> Record | None:
    """The fields of a frame (its CRC not checked), or None when they do not fit its length."""
    ctrl = (frame[1] << 8) | frame[2]
    size = ctrl & 0x3FF
    end = size - 1  # before the CRC
    got = read_ref(frame, 3, end)
    if got is None:
        return None
    fmt, pos = got
    got = read_ref(frame, pos, end)
    if got is None:
        return None
    tag, pos = got
    tsize = 8 if ctrl & 0x2000 else 4
    if pos + tsize > end:
        return None
    ts = int.from_bytes(frame[pos:pos + tsize], "big")
    return Record(frame[0], (ctrl >> 10) & 7, ts, fmt, tag, bytes(frame[pos + tsize:end]), size)


@dataclass(slots=True)
class Gap:
    """Bytes between frames. `marks`: (offset, why) of the frame-like starts in them that were not frames:
    "crc" (a wrong CRC: a damaged frame), "cut" (the input ended inside it)."""

    data: bytes
    marks: tuple[tuple[int, str], ...] = ()
    armed: bool = False
    """Whether binary logging was known when these bytes came (before it, they are text as they are)."""


class FrameSplitter:
    """Bytes in, `Gap` and `Record` items out, in input order, whatever the read sizes.

    At most one frame (1023 bytes) plus what precedes its start is held back while waiting for the rest
    of a candidate. `accept` decides about a lone first frame while not armed.
    """

    def __init__(self, armed: bool = False, accept: Callable[[Record], bool] | None = None) -> None:
        self.armed = armed
        self.accept = accept or (lambda rec: False)
        self._buf = bytearray()
        self.frames = 0
        self.bad_crc = 0

    @property
    def pending(self) -> int:
        """Bytes held back."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Gap | Record]:
        if not self._buf and b"\x01" not in data and b"\x02" not in data:
            return [Gap(data, (), self.armed)] if data else []
        self._buf += data
        return self._scan(final=False)

    def idle(self) -> list[Gap | Record]:
        """The input paused: give up waiting for incomplete candidates (a frame is sent in one go)."""
        return self._scan(final=False, give_up=True) if self._buf else []

    def close(self) -> list[Gap | Record]:
        return self._scan(final=True) if self._buf else []

    # -- scanning ----------------------------------------------------------------------------------------
    def _frame_at(self, buf: bytearray, s: int, n: int) -> tuple[str, Record | None]:
        """("frame", record) / ("no", None) / ("wait", None) for a candidate at `s` of `n` bytes."""
        if s >= n:
            return "wait", None
        if buf[s] not in (1, 2):
            return "no", None
        if s + 3 > n:
            return "wait", None
        size = _CTRL_LEN[(buf[s + 1] << 8) | buf[s + 2]]
        if not size:
            return "no", None
        if s + size > n:
            return "wait", None
        frame = bytes(buf[s:s + size])
        rec = parse_record(frame)
        if rec is None or crc8(frame):
            return "bad", None
        return "frame", rec

    def _scan(self, final: bool, give_up: bool = False) -> list[Gap | Record]:
        buf = self._buf
        n = len(buf)
        out: list[Gap | Record] = []
        i = gap_start = 0
        marks: list[tuple[int, str]] = []
        search = _START.search
        stop_early = not (final or give_up)
        while True:
            m = search(buf, i)
            if m is None:
                i = n
                break
            s = m.start()
            state, rec = self._frame_at(buf, s, n)
            if state == "wait":
                if stop_early:
                    i = s
                    break
                if final:
                    marks.append((s, "cut"))
                i = s + 1
                continue
            if state != "frame":
                if state == "bad":
                    self.bad_crc += 1
                    marks.append((s, "crc"))
                i = s + 1
                continue
            assert rec is not None
            was_armed = self.armed
            if not was_armed:
                nxt, _ = self._frame_at(buf, s + rec.size, n)
                if nxt == "wait" and stop_early:
                    i = s
                    break
                if nxt != "frame" and not self.accept(rec):
                    i = s + 1
                    continue
                self.armed = True
            if s > gap_start:
                out.append(Gap(bytes(buf[gap_start:s]), _marks(marks, gap_start), was_armed))
                marks = []
            out.append(rec)
            self.frames += 1
            i = gap_start = s + rec.size
        if i > gap_start:
            out.append(Gap(bytes(buf[gap_start:i]), _marks(marks, gap_start), self.armed))
        del buf[:i]
        return out


def _marks(marks: list[tuple[int, str]], base: int) -> tuple[tuple[int, str], ...]:
    return tuple((pos - base, why) for pos, why in marks)
