"""Where each part of a damaged ELF-format dump really is: what follows lost bytes is shifted back.

When base64 lines are lost on the UART the dump is shorter than its header says, and everything after
the loss sits earlier in the data by the missing amount. The program headers (at the start) still give
every segment's offset, so each segment is checked where the headers put it and where it would be after
the loss:
- a note segment must parse into known notes (`CORE`, `ESP_CORE_DUMP_INFO`, ...) up to its exact end; one
  damaged in the middle is read in place up to the loss and shifted from a note boundary after it;
- a TCB holds its own address in its state list item (`pvOwner`) and a printable name;
- a task's stack starts with the frame its registers note was made from (same PC, RA, SP).
Segments before the loss are read in place, those after it shifted, and the span where the loss must lie
(after the last thing found in place, before the first found shifted) is a hole in memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from espwatch.errors import CoreDumpError

PT_LOAD, PT_NOTE = 1, 4
KNOWN_NOTES = (b"CORE", b"ESP_CORE_DUMP_INFO", b"ESP_EXTRA_INFO", b"EXTRA_INFO", b"ESP_PANIC_DETAILS",
               b"TASK_INFO", b"ESP_CHIP_REV")
TCB_OWNER_OFFSETS = (16, 20)  # xStateListItem.pvOwner (20 with ESP-IDF v4's MPU word)
TCB_CHECKED = 76  # through the name and the end of stack pointer


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
        """The segment's bytes from its start, as far as they are good."""
        if self.parts and self.parts[0][0] == self.vaddr:
            return self.parts[0][1]
        return b""


@dataclass
class Layout:
    segments: list[Placed]
    hole: tuple[int, int] | None = None  # [start, end) in the ELF's own offsets: where the loss lies
    missing: int = 0


def program_headers(body: bytes, missing: int = 0) -> tuple[list[tuple[int, int, int, int]], int]:
    """(type, offset, vaddr, filesz) of the program headers, and how many were lost.

    ESP-IDF writes the segments back to back after the header table, so each header's offset must be
    where the previous segment ends. When bytes are missing and a header does not fit there, it is read
    where it would be after the loss; headers that fit neither way were in the lost part."""
    if len(body) < 52 or not body.startswith(b"\x7fELF"):
        raise CoreDumpError("the core dump data does not start with an ELF header (damaged at the start)")
    phoff = struct.unpack_from("<I", body, 28)[0]
    phentsize, phnum = struct.unpack_from("<HH", body, 42)
    table_end = phoff + phnum * phentsize
    if phentsize < 32 or phnum == 0 or table_end > len(body) + missing:
        raise CoreDumpError(f"the core dump's program headers ({phnum} at offset {phoff}) run past the end "
                            f"of its {len(body)} bytes: it is cut off at the start")
    limit = len(body) + missing
    out: list[tuple[int, int, int, int]] = []
    lost = 0
    expected: int | None = table_end  # where the next segment must start; None after a lost header
    least = table_end  # no segment starts before this
    in_place_end = phoff  # end of the last header read in place
    shift = 0

    def read(at: int) -> tuple[int, int, int, int] | None:
        if at < 0 or at + 20 > len(body):
            return None
        p_type, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<5I", body, at)
        return p_type, p_offset, p_vaddr, p_filesz

    def fits(e: tuple[int, int, int, int] | None) -> bool:
        if e is None or e[0] not in (PT_LOAD, PT_NOTE) or e[1] & 3 or e[1] + e[3] > limit:
            return False
        return e[1] == expected if expected is not None else e[1] >= least

    for i in range(phnum):
        at = phoff + i * phentsize
        if not shift:
            entry = read(at)
            if not missing:
                if entry is None or entry[0] not in (PT_LOAD, PT_NOTE):
                    lost += 1
                else:
                    out.append(entry)
                continue
            if fits(entry):
                in_place_end = at + phentsize
                out.append(entry)
                expected = least = entry[1] + ((entry[3] + 3) & ~3)
                continue
            shift = missing  # the loss ends before this header does: the rest sits `missing` earlier
        entry = read(at - shift) if at - shift >= in_place_end else None
        if fits(entry):
            assert entry is not None
            out.append(entry)
            expected = least = entry[1] + ((entry[3] + 3) & ~3)
        else:
            lost += 1
            expected = None
    return out, lost


def note_run(chunk: bytes, pos: int = 0) -> tuple[int, int]:
    """Parse known notes from `pos`: (where the clean run ends, where its last note starts).

    Only note headers are checked, so when the run stops early the last note it took may hold the loss."""
    last = pos
    while pos + 12 <= len(chunk):
        namesz, descsz, _t = struct.unpack_from("<3I", chunk, pos)
        if not 2 <= namesz <= 32:
            break
        name = chunk[pos + 12:pos + 12 + namesz].split(b"\0", 1)[0]
        end = pos + 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
        if name not in KNOWN_NOTES or end > len(chunk):
            break
        last, pos = pos, end
    return pos, last


def tcb_looks_valid(chunk: bytes, vaddr: int) -> bool:
    """Does `chunk` look like a FreeRTOS TCB at `vaddr`: owner of its own state item, printable name?"""
    if len(chunk) < TCB_CHECKED:
        return False
    for owner in TCB_OWNER_OFFSETS:
        if struct.unpack_from("<I", chunk, owner)[0] == vaddr:
            name = chunk[owner + 36:owner + 52].split(b"\0", 1)[0]
            return all(0x20 <= b < 0x7F for b in name)
    return False


def _frame_ok(chunk: bytes, expect: dict[int, int]) -> bool:
    need = 4 * (max(expect) + 1)
    if len(chunk) < need:
        return False
    return all(struct.unpack_from("<I", chunk, 4 * i)[0] == v for i, v in expect.items())


def frame_words(arch: str, regs: dict[str, int]) -> list[dict[int, int]]:
    """What the first words of a task's stack segment may hold: the frame its registers came from."""
    if arch == "riscv":
        return [{0: regs["pc"], 1: regs["ra"], 2: regs["sp"]}] if {"pc", "ra", "sp"} <= regs.keys() else []
    if "a1" not in regs:
        return []
    return [{1: regs["pc"], 4: regs["a1"]}, {5: regs["a1"]}]  # XtExcFrame, XtSolFrame


def _bounds(body: bytes, p: Placed, shift: int, tcbs: set[int], frames: dict[int, list[dict[int, int]]]
            ) -> tuple[int, int, int] | None:
    """(first, end, sure_end) original offsets of the part of segment `p` that checks out when read
    `shift` back; `sure_end` <= end is where it is certainly intact if the loss comes right after it."""
    start = p.offset - shift
    if start < 0:
        return None
    chunk = body[start:start + p.size]
    if p.ptype == PT_NOTE:
        if not shift:
            stop, last = note_run(chunk)
            if stop == 0:
                return None
            return p.offset, p.offset + stop, p.offset + last  # the last note's bytes are not checked
        if len(chunk) < p.size:
            return None
        for pos in range(0, len(chunk), 4):  # the first note boundary from which the rest parses cleanly
            if note_run(chunk, pos)[0] == p.size:
                return p.offset + pos, p.offset + p.size, p.offset + p.size
        return None
    if p.vaddr in tcbs:
        end = p.offset + TCB_CHECKED
        return (p.offset, end, end) if tcb_looks_valid(chunk, p.vaddr) else None
    for expect in frames.get(p.vaddr, ()):
        if _frame_ok(chunk, expect):
            end = p.offset + 4 * (max(expect) + 1)
            return p.offset, end, end
    return None


def place(body: bytes, headers: list[tuple[int, int, int, int]], missing: int, tcbs: set[int],
          frames: dict[int, list[dict[int, int]]] | None = None, holes: list[tuple[int, int]] = ()) -> Layout:
    """Find each segment's bytes in `body`, which lacks `missing` bytes somewhere after the headers.

    `tcbs`: TCB addresses; `frames`: stack segment address -> what its first words may hold
    (`frame_words`); `holes`: offset ranges of `body` known to be lost (zero-filled base64 lines)."""
    frames = frames or {}
    segs = [Placed(i, t, v, o, s) for i, (t, o, v, s) in enumerate(headers)]
    order = sorted((p for p in segs if p.size), key=lambda p: p.offset)
    lo, hi = 0, len(body) + missing  # the loss lies in [lo, hi) of the original offsets
    if missing:
        for p in order:
            here = _bounds(body, p, 0, tcbs, frames)
            if here is not None and here[1] == p.offset + p.size:
                lo = max(lo, here[2])
                continue
            later = _bounds(body, p, missing, tcbs, frames)
            if here is not None:  # good from its start, up to the loss
                lo = max(lo, here[1] if later is not None and later[0] == here[1] else here[2])
            if later is not None and later[0] >= lo:
                hi = later[0]
                break
        hi = max(hi, lo)
        lo = min(lo, hi - missing)  # the lost bytes are all in [lo, hi): a check may pass over them
    for p in order:
        if p.ptype not in (PT_LOAD, PT_NOTE):
            continue
        end = p.offset + p.size
        pieces: list[tuple[int, int, int]] = []  # [start, end) in original offsets, and the shift
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
