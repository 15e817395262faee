"""Where each part of a damaged ELF-format dump really is: segments behind lost bytes are shifted back.

When base64 lines are lost on the UART the dump is shorter than its header says, and everything after
the loss sits earlier in the data by the missing amount. The program headers (at the start) still give
every segment's offset, so each segment is checked where the headers put it and where it would be after
the loss: a TCB holds its own address in its state list item (`pvOwner`), a note segment parses into
known notes. Segments before the loss are read in place, those after it shifted, and the part where the
loss happened (between the last segment found in place and the first found shifted) is a hole in memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from espwatch.coredump.errors import CoreDumpError

PT_LOAD, PT_NOTE = 1, 4

KNOWN_NOTES = (b"CORE", b"ESP_CORE_DUMP_INFO", b"ESP_EXTRA_INFO", b"EXTRA_INFO", b"ESP_PANIC_DETAILS",
               b"TASK_INFO", b"ESP_CHIP_REV")
TCB_OWNER = 16  # xStateListItem.pvOwner: the TCB's own address
CHECKED = 20  # bytes of a segment the checks look at


@dataclass
class Placed:
    """One program header and the bytes found for it (in place, shifted, or partly lost)."""

    index: int
    ptype: int
    vaddr: int
    offset: int
    size: int
    parts: list[tuple[int, bytes]] = field(default_factory=list)  # (address, bytes) that are good
    shifted: bool = False
    lost: int = 0  # bytes of it that are not available

    @property
    def data(self) -> bytes:
        """The segment's bytes when all are there, else what is good from its start."""
        if self.parts and self.parts[0][0] == self.vaddr:
            return self.parts[0][1]
        return b""


@dataclass
class Layout:
    segments: list[Placed]
    hole: tuple[int, int] | None = None  # [start, end) offsets of the ELF data where the loss lies
    missing: int = 0


def program_headers(body: bytes) -> list[tuple[int, int, int, int]]:
    """(type, offset, vaddr, filesz) of every program header; CoreDumpError when unreadable."""
    if len(body) < 52 or not body.startswith(b"\x7fELF"):
        raise CoreDumpError("the core dump data does not start with an ELF header (damaged at the start)")
    phoff = struct.unpack_from("<I", body, 28)[0]
    phentsize, phnum = struct.unpack_from("<HH", body, 42)
    if phentsize < 32 or phoff + phnum * phentsize > len(body):
        raise CoreDumpError(f"the core dump's program headers ({phnum} at offset {phoff}) run past the end "
                            f"of its {len(body)} bytes: it is cut off at the start")
    out = []
    for i in range(phnum):
        p_type, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<5I", body, phoff + i * phentsize)
        out.append((p_type, p_offset, p_vaddr, p_filesz))
    return out


def _notes_ok(chunk: bytes) -> bool:
    pos, seen = 0, 0
    while pos + 12 <= len(chunk):
        namesz, descsz, _t = struct.unpack_from("<3I", chunk, pos)
        if not 1 <= namesz <= 32:
            return False
        name = chunk[pos + 12:pos + 12 + namesz].split(b"\0", 1)[0]
        if name not in KNOWN_NOTES:
            return False
        seen += 1
        pos = (pos + 12 + ((namesz + 3) & ~3) + descsz + 3) & ~3
    return seen > 0 and pos == len(chunk)


def _check(body: bytes, ptype: int, off: int, size: int, vaddr: int, tcbs: set[int]) -> bool | None:
    """True/False when the segment can be checked at `off`, None when nothing can be said."""
    if off < 0:
        return False
    chunk = body[off:off + size]
    if ptype == PT_NOTE:
        return len(chunk) == size and _notes_ok(chunk)
    if vaddr in tcbs and size > TCB_OWNER + 4:
        if len(chunk) < TCB_OWNER + 4:
            return False
        return struct.unpack_from("<I", chunk, TCB_OWNER)[0] == vaddr
    return None


def place(body: bytes, headers: list[tuple[int, int, int, int]], missing: int, tcbs: set[int],
          holes: list[tuple[int, int]] = ()) -> Layout:
    """Find each segment's bytes in `body`, which lacks `missing` bytes somewhere after the headers.

    `holes` are offset ranges of `body` known to be lost (zero-filled base64 lines)."""
    segs = [Placed(i, t, v, o, s) for i, (t, o, v, s) in enumerate(headers)]
    order = sorted(segs, key=lambda p: p.offset)
    lo, hi = 0, len(body) + missing  # the loss lies in [lo, hi) of the original offsets
    if missing:
        for p in order:
            if _check(body, p.ptype, p.offset, p.size, p.vaddr, tcbs):
                lo = max(lo, p.offset + min(CHECKED, p.size))
            elif _check(body, p.ptype, p.offset - missing, p.size, p.vaddr, tcbs):
                hi = p.offset
                break
        if hi < lo:
            hi = lo
    for p in order:
        if p.ptype not in (PT_LOAD, PT_NOTE) or p.size == 0:
            continue
        end = p.offset + p.size
        pieces: list[tuple[int, int, int]] = []  # (start, end) in original offsets, and the shift
        if not missing:
            pieces.append((p.offset, end, 0))
        else:
            if p.offset < lo:
                pieces.append((p.offset, min(end, lo), 0))
            if end > hi:
                pieces.append((max(p.offset, hi), end, missing))
            p.shifted = p.offset >= hi
        good = 0
        for start, stop, shift in pieces:
            for a, b in _minus(start - shift, stop - shift, holes):
                data = body[max(a, 0):b]
                if data:
                    p.parts.append((p.vaddr + a + shift - p.offset, data))
                    good += len(data)
        p.lost = p.size - good
    return Layout(segs, (lo, hi) if missing else None, missing)


def _minus(a: int, b: int, holes) -> list[tuple[int, int]]:
    """[a, b) without the `holes` ranges."""
    out = [(a, b)]
    for h0, h1 in holes:
        nxt = []
        for x, y in out:
            if h1 <= x or h0 >= y:
                nxt.append((x, y))
                continue
            if x < h0:
                nxt.append((x, h0))
            if h1 < y:
                nxt.append((h1, y))
        out = nxt
    return [(x, y) for x, y in out if y > x]
