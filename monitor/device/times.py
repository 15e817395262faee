"""Host arrival times of a session log's bytes: compact in memory, and a small sidecar file beside the log.

An entry `(offset, time)` says: the bytes from `offset` up to the next entry's offset arrived from the
device within `RESOLUTION` (100 ms) after `time` (a Unix time, seconds). A new entry is made for a read
batch only when its time is at least `RESOLUTION` away from the last entry's, so there is at most one
entry per read batch and per 100 ms: 16 bytes each in two `array`s, at most 576 KB for an hour of
continuous output, whatever the read sizes.

The sidecar `<log>.times` (see `times_path`) holds the same entries for the session log file:

    header   16 bytes: b"ESPWTIME", uint16 version (1), uint16 record size (16), uint32 reserved (0)
    records  16 bytes each: int64 byte offset in the session log, float64 Unix time; little-endian,
             offsets non-decreasing

It is appended (one unbuffered write per batch of records) together with the log; a reader ignores a
partial last record (a crash in the middle of a write) and stops at an offset that goes backwards.
`ArrivalTimes.load(path)` reads it back; `time_at(offset)` maps a byte offset (e.g. a line's start) to
the host time it arrived at, for `replay`'s time column and for merging several ports' logs by time.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from bisect import bisect_right
from pathlib import Path

from espwatch.errors import TimesFileError

RESOLUTION = 0.1
MAGIC = b"ESPWTIME"
VERSION = 1
RECORD = struct.Struct("<qd")
HEADER = struct.Struct("<8sHHI")
SUFFIX = ".times"


def times_path(log_path: str | os.PathLike[str]) -> Path:
    """The sidecar of a session log: the log's name with `.times` appended."""
    p = Path(log_path)
    return p.with_name(p.name + SUFFIX)


def header_bytes() -> bytes:
    return HEADER.pack(MAGIC, VERSION, RECORD.size, 0)


def pack_records(entries: list[tuple[int, float]]) -> bytes:
    return b"".join(RECORD.pack(off, t) for off, t in entries)


class ArrivalTimes:
    """Entries `(offset, time)` in two arrays; see the module docstring. Appends from one thread, lookups
    from any (times are appended before offsets, so a lookup never sees an offset without its time)."""

    def __init__(self, resolution: float = RESOLUTION) -> None:
        self.resolution = resolution
        self.offsets = array("q")
        self.times = array("d")

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def nbytes(self) -> int:
        return len(self.offsets) * (self.offsets.itemsize + self.times.itemsize)

    def note(self, offset: int, when: float) -> bool:
        """Record that the bytes from `offset` on arrived at `when`; False when within the resolution of
        the last entry (the bytes then count as arrived at that entry's time)."""
        times = self.times
        if times and abs(when - times[-1]) < self.resolution - 1e-6:  # (1e-6: float sums of 0.05 s)
            return False
        if self.offsets and offset < self.offsets[-1]:
            return False
        times.append(when)
        self.offsets.append(offset)
        return True

    def time_at(self, offset: int) -> float | None:
        """Host time at which the byte at `offset` arrived (None before the first entry)."""
        i = bisect_right(self.offsets, offset) - 1
        if i < 0:
            return None
        return self.times[i]

    def entries(self) -> list[tuple[int, float]]:
        return list(zip(self.offsets, self.times, strict=False))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "times file") -> ArrivalTimes:
        """Parse a sidecar's bytes; raises `TimesFileError` when it is not one."""
        if len(data) < HEADER.size:
            raise TimesFileError(f"{name}: too short for an espwatch times file ({len(data)} bytes)")
        magic, version, record, _ = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise TimesFileError(f"{name}: not an espwatch times file")
        if version != VERSION or record != RECORD.size:
            raise TimesFileError(f"{name}: unsupported times file version {version} (record {record} bytes)")
        n = (len(data) - HEADER.size) // RECORD.size  # a partial last record is ignored
        body = data[HEADER.size : HEADER.size + n * RECORD.size]
        ints, floats = array("q"), array("d")
        ints.frombytes(body)
        floats.frombytes(body)
        if sys.byteorder == "big":
            ints.byteswap()
            floats.byteswap()
        offsets, times = ints[0::2], floats[1::2]
        out = cls()
        last = 0
        for i, off in enumerate(offsets):  # stop where offsets go backwards (a damaged file)
            if off < last:
                offsets, times = offsets[:i], times[:i]
                break
            last = off
        out.offsets, out.times = offsets, times
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ArrivalTimes:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise TimesFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
        return cls.from_bytes(data, str(path))


def load_times_for(log_path: str | os.PathLike[str]) -> ArrivalTimes | None:
    """The arrival times saved beside a session log, or None when it has no sidecar."""
    side = times_path(log_path)
    if not side.is_file():
        return None
    return ArrivalTimes.load(side)
