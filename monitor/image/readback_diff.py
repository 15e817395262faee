"""Compare an app image with what was read back from flash (`esptool read-flash`), and say how they differ.

Typical findings:
- a truncated write: the read-back is 0xFF from some offset on where the original has data
  ("only 62840 of 149824 bytes written");
- corrupted bytes: runs where the read-back has 0x00 (or other values) where the original has data;
- a read-back of the whole partition: longer than the image, the rest should be 0xFF.

Memory does not grow with the files: both are read in `CHUNK`-sized pieces (equal chunks and 4 KiB blocks
are skipped with `bytes ==`; differing blocks are XORed as big integers and scanned for runs with a
regular expression). Runs are summarised as they are found (count, differing bytes, kinds, regions); the
first `max_kept_runs` are kept with their first `RUN_BYTES` bytes, the hex views read the files again. The
image itself is parsed from the part of the original its segment headers span (at most `MAX_APP_FILE`).
Working set: about 12 x CHUNK plus that image part (docs/hardening.md has measured figures).
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from espwatch.errors import InputError, unreadable
from espwatch.image._files import stat_input
from espwatch.image.app_image import (
    ESP_IMAGE_MAGIC,
    HEADER_LEN,
    MAX_APP_FILE,
    SECTOR,
    SEGMENT_HEADER_LEN,
    AppImage,
    parse_app_image,
)

BLOCK = 4096
CHUNK = 1 << 20
RUN_BYTES = 64  # bytes of each kept run stored for `describe()` and JSON
MAX_KEPT_RUNS = 1000
MAX_PIPE = 4 << 30  # a pipe or device is copied to a temporary file, up to this size
_NONZERO_BYTE = bytes([0]) + bytes([0xFF]) * 255  # translate: 0 -> 0, anything else -> 0xFF
_NOT_FF_BYTE = bytes([0xFF]) * 255 + bytes([0])  # translate: 0xFF -> 0, anything else -> 0xFF
_KINDS = ("zeroed", "erased", "bits-cleared", "bits-set")


# -- inputs -----------------------------------------------------------------------------------------------
class _Source:
    """Random access to one input (a file, a pipe spooled to a temporary file, or bytes in memory)."""

    def __init__(self, name: str, size: int, read_at: Callable[[int, int], bytes]) -> None:
        self.name = name
        self.size = size
        self.read_at = read_at

    def chunks(self, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        pos = start
        while pos < end:
            n = min(CHUNK, end - pos)
            data = self.read_at(pos, n)
            if not data:
                return
            yield pos, data
            pos += len(data)

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> _Source:
        mv = memoryview(data)
        return cls(name, len(data), lambda off, n: bytes(mv[off:off + n]))

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], what: str) -> _Source:
        p, st = stat_input(path, what)
        try:
            fh: BinaryIO = open(p, "rb")  # noqa: SIM115 - kept open by the source, closed by its finaliser
        except OSError as exc:
            raise unreadable(p, exc) from None
        if not p.is_file():  # a pipe or a device: spool it to a temporary file (disk, not memory)
            spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the source's finaliser
            try:
                with fh:
                    while block := fh.read(CHUNK):
                        spool.write(block)
                        if spool.tell() > MAX_PIPE:
                            spool.close()
                            raise InputError(f"{p}: more than {MAX_PIPE >> 30} GiB from a pipe or "
                                                 "device: save it to a file first")
            except OSError as exc:
                spool.close()
                raise unreadable(p, exc) from None
            spool.flush()
            fh, size = spool, spool.tell()
        else:
            size = st.st_size
        fd = fh.fileno()

        def read_at(off: int, n: int) -> bytes:
            try:
                return os.pread(fd, n, off)
            except OSError as exc:
                raise unreadable(p, exc) from None

        src = cls(str(path), size, read_at)
        weakref.finalize(src, fh.close)
        return src


def _image_extent(src: _Source) -> int:
    """How many bytes of an input to parse as an app image: the span its segment headers describe (plus
    the checksum, digest and signature sectors), at most MAX_APP_FILE; 64 KiB of anything else."""
    head = src.read_at(0, HEADER_LEN)
    if len(head) < HEADER_LEN or head[0] != ESP_IMAGE_MAGIC:
        return min(src.size, 64 * 1024)
    pos = HEADER_LEN
    for _ in range(head[1]):
        seg = src.read_at(pos, SEGMENT_HEADER_LEN)
        if len(seg) < SEGMENT_HEADER_LEN:
            break
        addr, length = struct.unpack("<II", seg)
        if addr == length == 0xFFFFFFFF:
            break
        pos += SEGMENT_HEADER_LEN + length
        if pos >= min(src.size, MAX_APP_FILE):
            break
    return min(src.size, MAX_APP_FILE, pos + 16 + 32 + 2 * SECTOR + 64 * 1024)


# -- results ----------------------------------------------------------------------------------------------
@dataclass
class DiffRun:
    """Differing bytes at [offset, offset+length) (equal bytes in short gaps included).

    `original` / `readback` hold the first RUN_BYTES bytes of the run (all of a short run)."""

    offset: int
    length: int
    differing: int  # bytes that differ inside the run
    original: bytes
    readback: bytes
    kind: str  # "zeroed", "erased", "bits-cleared", "bits-set", "changed"
    where: str  # segment, header, ...

    @property
    def end(self) -> int:
        return self.offset + self.length

    def describe(self) -> str:
        if self.length <= 4:
            vals = f"{self.original.hex(' ')} -> {self.readback.hex(' ')}"
        else:
            vals = f"{self.original[:4].hex(' ')} ... -> {self.readback[:4].hex(' ')} ..."
        return {
            "zeroed": "0x00 where the original has data (corrupted)",
            "erased": "0xFF where the original has data (not written)",
            "bits-cleared": "only 1->0 bit flips",
            "bits-set": "only 0->1 bit flips",
            "changed": "changed",
        }[self.kind] + f": {vals}"

    def to_json(self) -> dict[str, Any]:
        return {"offset": self.offset, "length": self.length, "differing": self.differing,
                "kind": self.kind, "where": self.where,
                "original": self.original[:RUN_BYTES].hex(), "readback": self.readback[:RUN_BYTES].hex()}


@dataclass
class ImageDiff:
    original_path: str | None
    readback_path: str | None
    original_size: int
    readback_size: int
    image: AppImage  # the original, parsed
    readback_image: AppImage  # the read-back cut to the original's length, parsed
    written: int  # bytes of the original present in the read-back before the trailing 0xFF region
    truncated: bool
    tail_start: int | None  # where the "not written" 0xFF region starts, when truncated
    runs: list[DiffRun] = field(default_factory=list)  # the first max_kept_runs runs before the cut
    differing_bytes: int = 0  # in the compared range, including the unwritten tail
    extra_bytes: int = 0  # read-back bytes beyond the original's length
    extra_non_ff: int = 0
    run_count: int = 0  # all runs, listed or not
    run_differing: int = 0  # differing bytes in all runs
    run_kinds: Counter[str] = field(default_factory=Counter)
    run_regions: Counter[str] = field(default_factory=Counter)
    _original: _Source | None = field(default=None, repr=False)
    _readback: _Source | None = field(default=None, repr=False)

    @property
    def identical(self) -> bool:
        return self.differing_bytes == 0 and self.readback_size >= self.original_size

    @property
    def runs_omitted(self) -> int:
        """Runs found but not kept in `runs` (only counted)."""
        return self.run_count - len(self.runs)

    def kinds(self) -> Counter[str]:
        return self.run_kinds

    def by_region(self) -> Counter[str]:
        return self.run_regions

    def read_original(self, offset: int, n: int) -> bytes:
        return self._original.read_at(offset, n) if self._original is not None else b""

    def read_readback(self, offset: int, n: int) -> bytes:
        return self._readback.read_at(offset, n) if self._readback is not None else b""

    def verdict(self) -> str:
        if self.identical:
            extra = f" (+{self.extra_bytes} bytes after it" + (
                ", all 0xFF)" if not self.extra_non_ff else f", {self.extra_non_ff} not 0xFF)")
            return f"IDENTICAL: the read-back holds all {self.original_size} bytes of the image" + (
                extra if self.extra_bytes else "")
        parts = []
        if self.truncated:
            parts.append(f"only {self.written} of {self.original_size} bytes written")
        if self.run_count:
            k = self.kinds()
            parts.append(f"{self.run_differing} bytes differ in {self.run_count} run(s) ("
                         + ", ".join(f"{n} {kind}" for kind, n in k.most_common()) + ")")
        return "DIFFERENT: " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        rb = self.readback_image
        return {
            "original": self.original_path, "readback": self.readback_path,
            "original_size": self.original_size, "readback_size": self.readback_size,
            "identical": self.identical, "verdict": self.verdict(),
            "written": self.written, "truncated": self.truncated, "tail_start": self.tail_start,
            "differing_bytes": self.differing_bytes,
            "runs": [r.to_json() for r in self.runs],
            "run_count": self.run_count, "runs_omitted": self.runs_omitted,
            "run_kinds": dict(self.kinds()),
            "runs_by_region": dict(self.by_region()),
            "extra_bytes": self.extra_bytes, "extra_non_ff": self.extra_non_ff,
            "original_image": {"valid": self.image.valid, "verdict": self.image.verdict()},
            "readback_image": {"valid": rb.valid, "verdict": rb.verdict(),
                               "checksum_stored": rb.checksum_stored,
                               "checksum_calculated": rb.checksum_calculated},
        }


# -- finding runs -----------------------------------------------------------------------------------------
def _piece_kinds(o: bytes, r: bytes, x: int, differing: int, wanted: list[bool]) -> list[bool]:
    """Which of _KINDS still hold for a piece (o, r: its bytes; x: their XOR as an integer)."""
    out = list(wanted)
    if out[0]:  # zeroed: every differing byte reads 0x00
        out[0] = r.count(0) >= differing and not int.from_bytes(r.translate(_NONZERO_BYTE), "little") & x
    if out[1]:  # erased: every differing byte reads 0xFF
        out[1] = r.count(0xFF) >= differing and not int.from_bytes(r.translate(_NOT_FF_BYTE), "little") & x
    if out[2] or out[3]:
        if len(o) > 256:  # a cheap look at the start first: random data fails there
            head = _piece_kinds(o[:256], r[:256], x & ((1 << 2048) - 1), 0, [False, False, out[2], out[3]])
            out[2], out[3] = head[2], head[3]
        if out[2] or out[3]:
            oi, ri = int.from_bytes(o, "little"), int.from_bytes(r, "little")
            out[2] = out[2] and (oi | ri) == oi  # only 1 -> 0 flips
            out[3] = out[3] and (oi | ri) == ri  # only 0 -> 1 flips
    return out


class _RunCollector:
    """Merges differing pieces into runs and summarises each run as soon as it is complete."""

    def __init__(self, image: AppImage, original: _Source, readback: _Source, merge_gap: int,
                 max_kept: int) -> None:
        self.image = image
        self.original = original
        self.readback = readback
        self.gap = merge_gap
        self.max_kept = max_kept
        self.open: list[Any] | None = None  # [start, end, differing, kinds]
        self.count = 0
        self.differing = 0
        self.kinds: Counter[str] = Counter()
        self.regions: Counter[str] = Counter()
        self.kept: list[DiffRun] = []

    def add(self, start: int, end: int, differing: int, kinds: list[bool]) -> None:
        run = self.open
        if run is not None and start - run[1] <= self.gap:
            run[1] = end
            run[2] += differing
            run[3] = [a and b for a, b in zip(run[3], kinds, strict=True)]
            return
        self.close()
        self.open = [start, end, differing, kinds]

    def wanted(self, start: int) -> list[bool]:
        """The kinds still possible for a piece at `start` (those of the open run it would join)."""
        run = self.open
        if run is not None and start - run[1] <= self.gap:
            return list(run[3])
        return [True] * len(_KINDS)

    def close(self) -> None:
        run = self.open
        if run is None:
            return
        self.open = None
        start, end, differing, kinds = run
        kind = next((k for k, ok in zip(_KINDS, kinds, strict=True) if ok), "changed")
        where = self.image.describe_offset(start)
        self.count += 1
        self.differing += differing
        self.kinds[kind] += 1
        self.regions[where.split(" +", 1)[0]] += 1
        if len(self.kept) < self.max_kept:
            n = min(end - start, RUN_BYTES)
            self.kept.append(DiffRun(start, end - start, differing, self.original.read_at(start, n),
                                     self.readback.read_at(start, n), kind, where))


def _run_regex(merge_gap: int) -> re.Pattern[bytes]:
    """Maximal stretches of non-zero XOR bytes, joined across at most `merge_gap` zero bytes."""
    if merge_gap <= 0:
        return re.compile(rb"[^\x00]+")
    gap = min(merge_gap, 1 << 30)
    return re.compile(rb"[^\x00]+(?:\x00{1,%d}+[^\x00]+)*" % gap)


def _differing_ranges(a: bytes, b: bytes) -> Iterator[tuple[int, int]]:
    """[i, j) ranges of consecutive differing BLOCKs of two equal-length byte strings."""
    n = len(a)
    i = 0
    while i < n:
        if a[i:i + BLOCK] == b[i:i + BLOCK]:
            i += BLOCK
            continue
        j = i + BLOCK
        while j < n and a[j:j + BLOCK] != b[j:j + BLOCK]:
            j += BLOCK
        j = min(j, n)
        yield i, j
        i = j


def _collect_runs(original: _Source, readback: _Source, limit: int, runs: _RunCollector) -> None:
    rx = _run_regex(runs.gap)
    for (base, a), (_, b) in zip(original.chunks(0, limit), readback.chunks(0, limit), strict=False):
        if a == b:
            continue
        for i, j in _differing_ranges(a, b):
            o, r = a[i:j], b[i:j]
            x = int.from_bytes(o, "little") ^ int.from_bytes(r, "little")
            xb = x.to_bytes(j - i, "little")
            for m in rx.finditer(xb):
                s, e = m.span()
                differing = (e - s) - xb.count(0, s, e)
                px = int.from_bytes(xb[s:e], "little") if (s or e != j - i) else x
                kinds = _piece_kinds(o[s:e], r[s:e], px, differing, runs.wanted(base + i + s))
                runs.add(base + i + s, base + i + e, differing, kinds)
    runs.close()


def _unwritten_tail(original: _Source, readback: _Source, compared: int) -> tuple[int, int]:
    """(L, n): the read-back is 0xFF from L to `compared`, and the original has n bytes other than 0xFF
    there. Read backwards, so only the 0xFF tail (and one chunk) is read."""
    end = compared
    data_in_tail = 0
    while end > 0:
        start = max(0, end - CHUNK)
        r = readback.read_at(start, end - start)
        o = original.read_at(start, end - start)
        kept = len(r.rstrip(b"\xff"))
        if kept:
            return start + kept, data_in_tail + (len(o) - kept) - o.count(0xFF, kept)
        data_in_tail += len(o) - o.count(0xFF)
        end = start
    return 0, data_in_tail


def diff_sources(original: _Source, readback: _Source, *, merge_gap: int = 8,
                 max_kept_runs: int = MAX_KEPT_RUNS) -> ImageDiff:
    """Compare two inputs as image + read-back (see the module doc). Raises InputError for an empty
    original: there is nothing to compare the read-back with."""
    n, m = original.size, readback.size
    if n == 0:
        raise InputError(f"{original.name}: empty file (0 bytes): there is no image to compare "
                             "the read-back with")
    image = parse_app_image(original.read_at(0, _image_extent(original)), original.name)
    compared = min(n, m)
    rb_image = parse_app_image(readback.read_at(0, min(compared, _image_extent(original))), readback.name)

    last, data_in_tail = _unwritten_tail(original, readback, compared)
    truncated = False
    tail_start: int | None = None
    if m < n:
        truncated = True
        tail_start = last if data_in_tail else compared
    elif last < compared and data_in_tail:
        truncated = True
        tail_start = last
    limit = tail_start if truncated and tail_start is not None else compared

    runs = _RunCollector(image, original, readback, max(0, merge_gap), max(0, max_kept_runs))
    _collect_runs(original, readback, limit, runs)
    differing = runs.differing
    if truncated:
        differing += (data_in_tail if limit == last else 0) + (n - compared)
    extra_non_ff = sum(len(c) - c.count(0xFF) for _, c in readback.chunks(n, m)) if m > n else 0
    return ImageDiff(
        original.name, readback.name, n, m, image, rb_image, limit, truncated,
        tail_start if truncated else None, runs.kept, differing, max(0, m - n), extra_non_ff,
        runs.count, runs.differing, runs.kinds, runs.regions, original, readback,
    )


def diff_image_bytes(original: bytes, readback: bytes, *, merge_gap: int = 8,
                     original_path: str | None = None, readback_path: str | None = None,
                     max_kept_runs: int = MAX_KEPT_RUNS) -> ImageDiff:
    """Compare two byte strings as image + read-back. `merge_gap`: equal bytes allowed inside a run."""
    return diff_sources(_Source.from_bytes(original, original_path or "original"),
                        _Source.from_bytes(readback, readback_path or "read-back"),
                        merge_gap=merge_gap, max_kept_runs=max_kept_runs)


def diff_images(original: str | os.PathLike[str], readback: str | os.PathLike[str], *,
                merge_gap: int = 8, max_kept_runs: int = MAX_KEPT_RUNS) -> ImageDiff:
    """Compare two files of any size with bounded memory. Raises InputError for an unreadable path
    or an empty original."""
    return diff_sources(_Source.from_path(original, "an app image"),
                        _Source.from_path(readback, "a read-back"),
                        merge_gap=merge_gap, max_kept_runs=max_kept_runs)


def hex_view(diff: ImageDiff, run: DiffRun, context: int = 16, max_rows: int = 6) -> list[str]:
    """Rows of 16 bytes around a run: the original, the read-back, and ^^ under each differing byte."""
    start = max(0, (run.offset - context) // 16 * 16)
    end = (min(diff.original_size, run.end + context) + 15) // 16 * 16
    all_rows = range(start, end, 16)  # never a list: a run may span the whole file
    rows: list[int | None] = list(all_rows)[:max_rows] if len(all_rows) <= max_rows else [
        *all_rows[: max_rows // 2], None, *all_rows[len(all_rows) - max_rows // 2:]]
    lines = []
    for row in rows:
        if row is None:
            lines.append("          ...")
            continue
        o = diff.read_original(row, min(16, diff.original_size - row))
        r = diff.read_readback(row, min(16, diff.original_size - row))
        lines.append(f"{row:08x}  orig  {o.hex(' ')}")
        lines.append(f"          read  {r.hex(' ')}")
        marks = " ".join("^^" if i >= len(r) or o[i] != r[i] else "  " for i in range(len(o)))
        if marks.strip():
            lines.append(f"                {marks.rstrip()}")
    return lines
