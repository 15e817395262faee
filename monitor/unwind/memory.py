"""Target memory as a few byte regions: the lines of a `Stack memory:` dump, a core dump's segments."""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections.abc import Iterable

_U32 = struct.Struct("<I").unpack_from


class Memory:
    """Little-endian bytes at 32-bit addresses; reads outside every region answer None."""

    def __init__(self, regions: Iterable[tuple[int, bytes]] = ()) -> None:
        self._starts: list[int] = []
        self._data: list[bytes] = []
        for addr, data in regions:
            self.add(addr, data)

    def add(self, addr: int, data: bytes) -> None:
        """Add a region; where it overlaps one already present, the earlier bytes win."""
        if not data:
            return
        i = bisect_right(self._starts, addr)
        if i and self._starts[i - 1] + len(self._data[i - 1]) == addr:
            # extend the region this one continues (the usual case for dump lines)
            prev = self._data[i - 1]
            nxt = self._starts[i] if i < len(self._starts) else None
            if nxt is None or addr + len(data) <= nxt:
                self._data[i - 1] = prev + bytes(data)
                return
        self._starts.insert(i, addr)
        self._data.insert(i, bytes(data))

    @property
    def regions(self) -> list[tuple[int, int]]:
        """(start, end) of each region, in address order."""
        return [(s, s + len(d)) for s, d in zip(self._starts, self._data, strict=True)]

    def region_of(self, addr: int) -> tuple[int, int] | None:
        """(start, end) of the region holding `addr`, else None."""
        i = bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        start = self._starts[i]
        end = start + len(self._data[i])
        return (start, end) if addr < end else None

    def read(self, addr: int, size: int) -> bytes | None:
        """`size` bytes at `addr` when one region holds them all, else None."""
        i = bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        off = addr - self._starts[i]
        data = self._data[i]
        if off + size > len(data):
            return None
        return data[off:off + size]

    def u32(self, addr: int) -> int | None:
        """The little-endian word at `addr`, or None outside the regions."""
        i = bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        off = addr - self._starts[i]
        data = self._data[i]
        if off < 0 or off + 4 > len(data):
            return None
        return _U32(data, off)[0]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __len__(self) -> int:
        return sum(len(d) for d in self._data)
