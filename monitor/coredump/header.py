"""The header ESP-IDF puts before a core dump (`core_dump_header_t`), its versions and its checksum.

Layout (little-endian words): total length (header + data + checksum), version (chip id in the high 16
bits, format version in the low 16: major 0 binary format, major 1 ELF format), then depending on the
version: task count, TCB size, memory segment count, chip revision. The checksum at the end covers
everything before it: CRC-32 (4 bytes) or SHA-256 (32 bytes).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from espwatch.errors import CoreDumpError
from espwatch.image.chips import chip_by_id

# format version -> (data format, checksum, header fields after tot_len and version)
VERSIONS: dict[int, tuple[str, str, tuple[str, ...]]] = {
    0x0001: ("binary", "crc32", ("task_num", "tcb_size")),
    0x0002: ("binary", "crc32", ("task_num", "tcb_size", "segs_num")),
    0x0003: ("binary", "crc32", ("task_num", "tcb_size", "segs_num", "chip_rev")),
    0x0100: ("elf", "crc32", ("task_num", "tcb_size", "segs_num")),
    0x0101: ("elf", "sha256", ("task_num", "tcb_size", "segs_num")),
    0x0102: ("elf", "crc32", ("task_num", "tcb_size", "segs_num", "chip_rev")),
    0x0103: ("elf", "sha256", ("task_num", "tcb_size", "segs_num", "chip_rev")),
    0x0104: ("elf", "sha256", ("chip_rev",)),
}
CHECKSUM_SIZE = {"crc32": 4, "sha256": 32}
FLASH_MAGIC_OLD = 0xE32C04ED  # ESP-IDF v3.x wrote this word before the dump in flash


@dataclass(frozen=True, slots=True)
class DumpHeader:
    tot_len: int
    version: int
    fmt: str  # "elf" or "binary"
    checksum: str  # "crc32" or "sha256"
    size: int  # header bytes
    task_num: int | None = None
    tcb_size: int | None = None
    segs_num: int | None = None
    chip_rev: int | None = None

    @property
    def dump_version(self) -> int:
        return self.version & 0xFFFF

    @property
    def version_text(self) -> str:
        return f"{self.dump_version >> 8}.{self.dump_version & 0xFF}"

    @property
    def chip_id(self) -> int:
        return self.version >> 16

    @property
    def chip_key(self) -> str | None:
        chip = chip_by_id(self.chip_id)
        return chip.key if chip else None

    @property
    def chip_name(self) -> str:
        chip = chip_by_id(self.chip_id)
        return chip.name if chip else f"unknown chip (id {self.chip_id})"

    @property
    def arch(self) -> str | None:
        chip = chip_by_id(self.chip_id)
        return chip.arch if chip else None

    @property
    def chip_rev_text(self) -> str | None:
        """`v3.0` style: the header holds major * 100 + minor."""
        if self.chip_rev is None:
            return None
        return f"v{self.chip_rev // 100}.{self.chip_rev % 100}"

    @property
    def checksum_size(self) -> int:
        return CHECKSUM_SIZE[self.checksum]

    @property
    def data_end(self) -> int:
        """Offset of the checksum (end of the data it covers)."""
        return self.tot_len - self.checksum_size


def looks_like_header(data: bytes) -> bool:
    """A known format version and chip id, and a total length that can hold a header and checksum."""
    if len(data) < 8:
        return False
    tot_len, version = struct.unpack_from("<II", data)
    spec = VERSIONS.get(version & 0xFFFF)
    if spec is None or chip_by_id(version >> 16) is None:
        return False
    return 8 + 4 * len(spec[2]) + CHECKSUM_SIZE[spec[1]] < tot_len < 64 << 20


def parse_header(data: bytes) -> DumpHeader:
    """The header at the start of `data`; CoreDumpError when it is no core dump header."""
    if len(data) < 8:
        raise CoreDumpError(f"only {len(data)} bytes: too short for a core dump header")
    tot_len, version = struct.unpack_from("<II", data)
    spec = VERSIONS.get(version & 0xFFFF)
    if spec is None:
        raise CoreDumpError(f"unknown core dump format version 0x{version & 0xFFFF:04x} "
                            f"(known: {', '.join(f'{v >> 8}.{v & 0xFF}' for v in VERSIONS)})")
    fmt, checksum, names = spec
    size = 8 + 4 * len(names)
    if len(data) < size:
        raise CoreDumpError(f"only {len(data)} bytes: the core dump header needs {size}")
    values = dict(zip(names, struct.unpack_from(f"<{len(names)}I", data, 8), strict=True))
    hdr = DumpHeader(tot_len, version, fmt, checksum, size, **values)
    if tot_len < size + hdr.checksum_size:
        raise CoreDumpError(f"the core dump header gives a total length of {tot_len} bytes, less than "
                            "its own header and checksum: not a core dump, or damaged")
    return hdr


@dataclass(frozen=True, slots=True)
class Checksum:
    kind: str
    stored: str | None  # hex, None when the data ends before it
    computed: str | None

    @property
    def ok(self) -> bool | None:
        if self.stored is None or self.computed is None:
            return None
        return self.stored == self.computed


def verify(data: bytes, hdr: DumpHeader) -> Checksum:
    """The stored and the computed checksum of a dump (as much of it as `data` holds)."""
    end = hdr.data_end
    if len(data) < hdr.tot_len:
        return Checksum(hdr.checksum, None, None)
    body = data[:end]
    stored = data[end:hdr.tot_len]
    if hdr.checksum == "crc32":
        stored_crc = struct.unpack("<I", stored)[0]
        return Checksum("crc32", f"{stored_crc:08x}", f"{zlib.crc32(body) & 0xFFFFFFFF:08x}")
    return Checksum("sha256", stored.hex(), hashlib.sha256(body).hexdigest())
