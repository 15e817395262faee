"""What the session log keeps in memory while its file cannot be written: the unsaved bytes (`Pending`
segments) and, for bytes that had to be dropped, where their lines broke (`Holes`)."""

from __future__ import annotations

import zlib
from bisect import bisect_right

DROP_CHUNK = 1 << 20
HOLE_FILL = b"~"
_SKELETON = bytes(10 if b == 10 else HOLE_FILL[0] for b in range(256))


class Holes:
    """Where dropped bytes were, with their line structure: each dropped chunk is kept as its bytes with
    every byte but `\\n` replaced by `HOLE_FILL`, compressed (a few bytes per line), so that a screen that
    already counted those lines still finds the lines after them. Compressed skeletons beyond `budget`
    bytes are forgotten, oldest first (their bytes then read as `HOLE_FILL` without breaks)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.skeletons: list[bytes | None] = []
        self.kept = 0
        self._oldest_kept = 0
        self._cache: tuple[int, bytes] | None = None

    def add(self, start: int, data: bytes) -> None:
        skel = zlib.compress(data.translate(_SKELETON), 1)
        self.starts.append(start)
        self.lengths.append(len(data))
        self.skeletons.append(skel)
        self.kept += len(skel)
        while self.kept > self.budget and self._oldest_kept < len(self.skeletons):
            old = self.skeletons[self._oldest_kept]
            self.kept -= len(old or b"")
            self.skeletons[self._oldest_kept] = None
            self._oldest_kept += 1

    def read(self, pos: int, end: int) -> bytes:
        """The stand-in bytes of [pos, end) as far as holes cover them (b"" when pos is in none)."""
        out = []
        i = bisect_right(self.starts, pos) - 1
        while 0 <= i < len(self.starts) and pos < end:
            h_start, h_len = self.starts[i], self.lengths[i]
            if not h_start <= pos < h_start + h_len:
                break
            take = min(end, h_start + h_len)
            if self._cache is not None and self._cache[0] == i:
                full = self._cache[1]
            else:
                skel = self.skeletons[i]
                full = zlib.decompress(skel) if skel is not None else HOLE_FILL * h_len
                self._cache = (i, full)
            out.append(full[pos - h_start : take - h_start])
            pos = take
            i += 1
        return b"".join(out)


class Pending:
    __slots__ = ("data", "device", "start")

    def __init__(self, start: int, data: bytes, device: bool) -> None:
        self.start = start
        self.data = bytearray(data)
        self.device = device
