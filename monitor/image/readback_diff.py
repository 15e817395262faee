"""Compare an app image with what was read back from flash (`esptool read-flash`), and say how they differ.

Typical findings:
- a truncated write: the read-back is 0xFF from some offset on where the original has data
  ("only 62840 of 149824 bytes written");
- corrupted bytes: runs where the read-back has 0x00 (or other values) where the original has data;
- a read-back of the whole partition: longer than the image, the rest should be 0xFF.

Pure Python and fast: blocks are compared with `bytes ==`; only differing blocks are XORed (as big
integers) and scanned for non-zero runs with a regular expression, so a 16 MB flash dump with a few
damaged bytes takes milliseconds.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from espwatch.image._files import MiB, read_input
from espwatch.image.app_image import AppImage, parse_app_image

BLOCK = 4096
MAX_READBACK_FILE = 256 * MiB
_NONZERO = re.compile(rb"[^\x00]+")


@dataclass
class DiffRun:
    """Differing bytes at [offset, offset+length) (equal bytes in short gaps included)."""

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
                "original": self.original[:64].hex(), "readback": self.readback[:64].hex()}


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
    runs: list[DiffRun] = field(default_factory=list)  # before the truncation point
    differing_bytes: int = 0  # in the compared range, including the unwritten tail
    extra_bytes: int = 0  # read-back bytes beyond the original's length
    extra_non_ff: int = 0
    original_bytes: bytes = field(default=b"", repr=False)
    readback_bytes: bytes = field(default=b"", repr=False)

    @property
    def identical(self) -> bool:
        return self.differing_bytes == 0 and self.readback_size >= self.original_size

    def kinds(self) -> Counter[str]:
        return Counter(r.kind for r in self.runs)

    def by_region(self) -> Counter[str]:
        return Counter(r.where.split(" +", 1)[0] for r in self.runs)

    def verdict(self) -> str:
        if self.identical:
            extra = f" (+{self.extra_bytes} bytes after it" + (
                ", all 0xFF)" if not self.extra_non_ff else f", {self.extra_non_ff} not 0xFF)")
            return f"IDENTICAL: the read-back holds all {self.original_size} bytes of the image" + (
                extra if self.extra_bytes else "")
        parts = []
        if self.truncated:
            parts.append(f"only {self.written} of {self.original_size} bytes written")
        if self.runs:
            k = self.kinds()
            parts.append(f"{sum(r.differing for r in self.runs)} bytes differ in {len(self.runs)} run(s) ("
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
            "run_kinds": dict(self.kinds()),
            "runs_by_region": dict(self.by_region()),
            "extra_bytes": self.extra_bytes, "extra_non_ff": self.extra_non_ff,
            "original_image": {"valid": self.image.valid, "verdict": self.image.verdict()},
            "readback_image": {"valid": rb.valid, "verdict": rb.verdict(),
                               "checksum_stored": rb.checksum_stored,
                               "checksum_calculated": rb.checksum_calculated},
        }


def _classify(orig: bytes, rb: bytes) -> str:
    pairs = [(o, r) for o, r in zip(orig, rb, strict=True) if o != r]
    if all(r == 0 for _, r in pairs):
        return "zeroed"
    if all(r == 0xFF for _, r in pairs):
        return "erased"
    if all(r & ~o == 0 for o, r in pairs):
        return "bits-cleared"
    if all(o & ~r == 0 for o, r in pairs):
        return "bits-set"
    return "changed"


def _diff_spans(a: bytes, b: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """Maximal spans [s, e) of differing bytes in a[start:end] vs b[start:end]."""
    spans: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        if a[pos:pos + BLOCK] == b[pos:pos + BLOCK]:
            pos += BLOCK
            continue
        # a range of consecutive differing blocks
        hi = pos + BLOCK
        while hi < end and a[hi:hi + BLOCK] != b[hi:hi + BLOCK]:
            hi += BLOCK
        hi = min(hi, end)
        x = int.from_bytes(a[pos:hi], "little") ^ int.from_bytes(b[pos:hi], "little")
        xb = x.to_bytes(hi - pos, "little")
        for m in _NONZERO.finditer(xb):
            s, e = pos + m.start(), pos + m.end()
            if spans and spans[-1][1] == s:
                spans[-1] = (spans[-1][0], e)
            else:
                spans.append((s, e))
        pos = hi
    return spans


def diff_image_bytes(original: bytes, readback: bytes, *, merge_gap: int = 8,
                     original_path: str | None = None, readback_path: str | None = None) -> ImageDiff:
    """Compare two byte strings as image + read-back. `merge_gap`: equal bytes allowed inside a run."""
    n = len(original)
    image = parse_app_image(original, original_path)
    compared = min(n, len(readback))
    rb_cut = readback[:compared]
    # Trailing 0xFF region of the read-back (within the original's length) where the original has data.
    stripped = len(rb_cut.rstrip(b"\xff"))
    tail_start: int | None = None
    truncated = False
    if len(readback) < n:
        truncated = True
        tail_start = stripped if original[stripped:compared] != rb_cut[stripped:] else compared
    elif stripped < compared and original[stripped:compared].count(0xFF) != compared - stripped:
        truncated = True
        tail_start = stripped
    limit = tail_start if truncated and tail_start is not None else compared
    # the original may itself hold 0xFF bytes right before the cut: they were (or need not be) written
    written = limit
    spans = _diff_spans(original, readback, 0, limit)
    runs: list[DiffRun] = []
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s - merged[-1][1] <= merge_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    differing = 0
    for s, e in merged:
        o, r = original[s:e], readback[s:e]
        d = sum(1 for x, y in zip(o, r, strict=True) if x != y)
        differing += d
        runs.append(DiffRun(s, e - s, d, o, r, _classify(o, r), image.describe_offset(s)))
    if truncated:
        tail = original[limit:n]
        rb_tail = readback[limit:n]
        differing += sum(1 for x, y in zip(tail, rb_tail, strict=False) if x != y) + (n - compared)
    extra = readback[n:]
    return ImageDiff(
        original_path, readback_path, n, len(readback), image, parse_app_image(rb_cut, readback_path),
        written, truncated, tail_start if truncated else None, runs, differing,
        len(extra), len(extra) - extra.count(0xFF), original, readback,
    )


def diff_images(original: str | os.PathLike[str], readback: str | os.PathLike[str], *,
                merge_gap: int = 8) -> ImageDiff:
    """Read both files and compare them. Raises InputError for an unreadable path."""
    a = read_input(original, "an app image", MAX_READBACK_FILE)
    b = read_input(readback, "a read-back", MAX_READBACK_FILE)
    return diff_image_bytes(a, b, merge_gap=merge_gap, original_path=str(original),
                            readback_path=str(readback))


def hex_view(diff: ImageDiff, run: DiffRun, context: int = 16, max_rows: int = 6) -> list[str]:
    """Rows of 16 bytes around a run: the original, the read-back, and ^^ under each differing byte."""
    a, b = diff.original_bytes, diff.readback_bytes
    start = max(0, (run.offset - context) // 16 * 16)
    end = (min(len(a), run.end + context) + 15) // 16 * 16
    rows: list[int | None] = list(range(start, end, 16))
    if len(rows) > max_rows:
        rows = [*rows[: max_rows // 2], None, *rows[-(max_rows // 2):]]
    lines = []
    for row in rows:
        if row is None:
            lines.append("          ...")
            continue
        o, r = a[row:row + 16], b[row:row + 16]
        lines.append(f"{row:08x}  orig  {o.hex(' ')}")
        lines.append(f"          read  {r.hex(' ')}")
        marks = " ".join("^^" if i >= len(r) or o[i] != r[i] else "  " for i in range(len(o)))
        if marks.strip():
            lines.append(f"                {marks.rstrip()}")
    return lines
