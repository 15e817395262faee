"""ESP32-family app image parser: header, segments, checksum, SHA-256, app descriptor, signature.

Layout (ESP-IDF "App Image Format"), all little-endian:

- 8-byte header: magic 0xE9, segment count, flash mode, flash size (high nibble) | frequency (low nibble),
  entry point (u32);
- 16-byte extended header: WP pin, three bytes of SPI drive strengths, chip id (u16), legacy min revision
  (u8), min/max chip revision "full" (u16 each, major*100+minor), 4 reserved bytes, hash-appended flag;
- segments: load address (u32), length (u32), data;
- padding so that the checksum byte is the last byte of a 16-byte block; the checksum is 0xEF XOR every
  byte of segment data;
- when the hash-appended flag is 1, the SHA-256 of everything before it (header to checksum byte);
- optionally a signature (Secure Boot v2: a 4 KB sector at the next 4 KB boundary; v1: 68 bytes).

The first flash-mapped data segment (DROM) of an app starts with `esp_app_desc_t` (256 bytes, magic
0xABCD5432); a bootloader's first DRAM segment starts with `esp_bootloader_desc_t` (magic byte 0x50).

This parser never raises on damaged content: it parses as far as the bytes allow and records what is
wrong in `AppImage.findings`. Only an unreadable path raises `InputError`.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import os
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

from espwatch.image._files import MiB, read_input
from espwatch.image.chips import FLASH_MODES, FLASH_SIZES, Chip, chip_by_id

ESP_IMAGE_MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
HEADER_LEN = 24
SEGMENT_HEADER_LEN = 8
MAX_SEGMENTS = 16
APP_DESC_MAGIC = 0xABCD5432
APP_DESC_LEN = 256
BOOTLOADER_DESC_MAGIC = 0x50
BOOTLOADER_DESC_LEN = 80
SIG_V2_MAGIC = 0xE7
SIG_V2_BLOCK_LEN = 1216
SECTOR = 0x1000
MAX_APP_FILE = 64 * MiB  # no ESP32-family chip maps more than 32 MB of flash for code

_APP_DESC_FMT = "<II8s32s32s16s16s32s32sHHB3s72s"
_BOOT_DESC_FMT = "<B3sI32s24s16s"


@dataclass
class Finding:
    """One thing found wrong ("error") or worth knowing ("warning", "info")."""

    level: str
    code: str
    message: str


@dataclass
class Segment:
    """One image segment. `header_offset` is the file offset of its 8-byte header (esptool's "File offs")."""

    index: int
    load_addr: int
    length: int  # as the segment header says
    header_offset: int
    available: int  # data bytes present in the file (less than `length` when the file is cut short)
    regions: list[str]

    @property
    def data_offset(self) -> int:
        return self.header_offset + SEGMENT_HEADER_LEN

    @property
    def end_offset(self) -> int:
        return self.data_offset + self.length

    @property
    def truncated(self) -> bool:
        return self.available < self.length

    @property
    def region(self) -> str:
        return ", ".join(self.regions) if self.regions else "?"

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "load_addr": self.load_addr,
            "length": self.length,
            "file_offset": self.header_offset,
            "data_offset": self.data_offset,
            "available": self.available,
            "regions": list(self.regions),
        }


def _cstr(raw: bytes) -> str:
    """A NUL-padded C char array as text (bytes after the first NUL dropped, undecodable bytes escaped)."""
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="backslashreplace")


@dataclass
class AppDescriptor:
    """`esp_app_desc_t` as found at the start of the app's first DROM segment."""

    offset: int  # file offset
    magic: int
    secure_version: int
    version: str
    project_name: str
    compile_time: str
    compile_date: str
    idf_version: str
    elf_sha256: str  # hex, 64 digits
    min_efuse_blk_rev_full: int
    max_efuse_blk_rev_full: int
    mmu_page_size: int | None  # bytes; None when the field is 0 (older IDF)

    @staticmethod
    def efuse_rev(full: int) -> str:
        return f"{full // 100}.{full % 100}"

    @classmethod
    def parse(cls, raw: bytes, offset: int) -> AppDescriptor | None:
        if len(raw) < APP_DESC_LEN:
            return None
        (magic, secure_version, _r1, version, project, time_, date, idf, elf_sha, min_blk, max_blk,
         mmu_log2, _r3, _r2) = struct.unpack(_APP_DESC_FMT, raw[:APP_DESC_LEN])
        if magic != APP_DESC_MAGIC:
            return None
        return cls(
            offset=offset, magic=magic, secure_version=secure_version, version=_cstr(version),
            project_name=_cstr(project), compile_time=_cstr(time_), compile_date=_cstr(date),
            idf_version=_cstr(idf), elf_sha256=elf_sha.hex(), min_efuse_blk_rev_full=min_blk,
            max_efuse_blk_rev_full=max_blk, mmu_page_size=(1 << mmu_log2) if mmu_log2 else None,
        )

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["min_efuse_blk_rev"] = self.efuse_rev(self.min_efuse_blk_rev_full)
        d["max_efuse_blk_rev"] = self.efuse_rev(self.max_efuse_blk_rev_full)
        return d


@dataclass
class BootloaderDescriptor:
    """`esp_bootloader_desc_t` at the start of a bootloader image's first DRAM segment."""

    offset: int
    version: int
    idf_version: str
    date_time: str

    @classmethod
    def parse(cls, raw: bytes, offset: int) -> BootloaderDescriptor | None:
        if len(raw) < BOOTLOADER_DESC_LEN or raw[0] != BOOTLOADER_DESC_MAGIC:
            return None
        _magic, _r, version, idf, date_time, _r2 = struct.unpack(_BOOT_DESC_FMT, raw[:BOOTLOADER_DESC_LEN])
        return cls(offset=offset, version=version, idf_version=_cstr(idf), date_time=_cstr(date_time))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SignatureInfo:
    """A signature block found after the image."""

    scheme: str  # "secure boot v2 (RSA-PSS)", "secure boot v2 (ECDSA)", "secure boot v1 (ECDSA)?"
    offset: int
    blocks: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def xor_checksum(data: bytes | bytearray | memoryview, seed: int = CHECKSUM_SEED) -> int:
    """The ROM's image checksum: `seed` XOR every byte of `data` (8 bytes at a time, then folded)."""
    mv = memoryview(data).cast("B")
    head = len(mv) - len(mv) % 8
    acc = functools.reduce(operator.xor, mv[:head].cast("Q"), 0) if head else 0
    acc ^= acc >> 32
    acc ^= acc >> 16
    acc ^= acc >> 8
    result = (seed ^ acc) & 0xFF
    for b in mv[head:]:
        result ^= b
    return result


@dataclass
class AppImage:
    """Everything read from one app (or bootloader) image file. See `findings` for what is wrong."""

    path: str | None
    file_size: int
    magic: int | None = None
    segment_count: int = 0  # as the header says
    flash_mode: int | None = None
    flash_size_freq: int | None = None
    entry_point: int | None = None
    wp_pin: int | None = None
    spi_drive: dict[str, int] = field(default_factory=dict)
    chip_id: int | None = None
    chip: Chip | None = None
    min_rev: int | None = None
    min_rev_full: int | None = None
    max_rev_full: int | None = None
    hash_appended: bool | None = None
    segments: list[Segment] = field(default_factory=list)
    checksum_offset: int | None = None
    checksum_stored: int | None = None
    checksum_calculated: int | None = None
    sha256_stored: str | None = None
    sha256_calculated: str | None = None
    app_desc: AppDescriptor | None = None
    bootloader_desc: BootloaderDescriptor | None = None
    signature: SignatureInfo | None = None
    trailing_bytes: int = 0  # after the checksum/digest/signature
    trailing_blank: bool = True  # all trailing bytes are 0xFF
    findings: list[Finding] = field(default_factory=list)

    # ---- derived figures ----
    @property
    def is_image(self) -> bool:
        """The file starts like an ESP32-family image (magic byte and a readable header)."""
        return self.magic == ESP_IMAGE_MAGIC and self.entry_point is not None

    @property
    def kind(self) -> str:
        if not self.is_image:
            return "not an image"
        if self.app_desc:
            return "app"
        if self.bootloader_desc:
            return "bootloader"
        return "image"

    @property
    def chip_name(self) -> str | None:
        return self.chip.name if self.chip else None

    @property
    def flash_mode_name(self) -> str | None:
        return None if self.flash_mode is None else FLASH_MODES.get(self.flash_mode)

    @property
    def flash_size(self) -> str | None:
        return None if self.flash_size_freq is None else FLASH_SIZES.get(self.flash_size_freq & 0xF0)

    @property
    def flash_freq(self) -> str | None:
        if self.flash_size_freq is None or self.chip is None:
            return None
        return self.chip.flash_freqs.get(self.flash_size_freq & 0x0F)

    @property
    def image_length(self) -> int | None:
        """Bytes from the header to the checksum byte (what the SHA-256 covers)."""
        return None if self.checksum_offset is None else self.checksum_offset + 1

    @property
    def end_offset(self) -> int | None:
        """End of the image proper: checksum byte plus the appended digest, if any."""
        n = self.image_length
        if n is None:
            return None
        return n + (32 if self.hash_appended else 0)

    @property
    def checksum_ok(self) -> bool | None:
        if self.checksum_stored is None or self.checksum_calculated is None:
            return None
        return self.checksum_stored == self.checksum_calculated

    @property
    def sha256_ok(self) -> bool | None:
        if not self.hash_appended or self.sha256_stored is None or self.sha256_calculated is None:
            return None
        return self.sha256_stored == self.sha256_calculated

    @property
    def truncated(self) -> bool:
        return any(f.code.startswith("truncated") for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def valid(self) -> bool:
        return self.is_image and not self.errors

    def segment_at_offset(self, offset: int) -> Segment | None:
        """The segment whose header or data holds file offset `offset`."""
        for seg in self.segments:
            if seg.header_offset <= offset < seg.end_offset:
                return seg
        return None

    def describe_offset(self, offset: int) -> str:
        """Where in the image a file offset lies, in words ("segment 1 (DRAM) data +0x12")."""
        if offset < 8:
            return "image header"
        if offset < HEADER_LEN:
            return "extended header"
        seg = self.segment_at_offset(offset)
        if seg is not None:
            if offset < seg.data_offset:
                return f"segment {seg.index} header"
            return f"segment {seg.index} ({seg.region}) +0x{offset - seg.data_offset:x}"
        if self.checksum_offset is not None:
            if offset < self.checksum_offset:
                return "padding before checksum"
            if offset == self.checksum_offset:
                return "checksum byte"
            if self.hash_appended and offset < self.checksum_offset + 33:
                return "appended SHA-256"
            if self.signature and self.signature.offset <= offset < self.signature.offset + SECTOR:
                return "signature block"
        return "after the image"

    def verdict(self) -> str:
        """One line: VALID/INVALID and why."""
        if not self.is_image:
            return "INVALID: " + (self.errors[0].message if self.errors else "not an ESP image")
        what = self.chip_name or f"chip id {self.chip_id}"
        if self.app_desc:
            what += f" app '{self.app_desc.project_name}' {self.app_desc.version}"
        elif self.bootloader_desc:
            what += " bootloader"
        else:
            what += " image"
        if self.errors:
            return f"INVALID: {what}: " + "; ".join(f.message for f in self.errors)
        checks = ["checksum"]
        if self.hash_appended:
            checks.append("SHA-256")
        return f"VALID: {what}, {self.file_size} bytes, {' and '.join(checks)} match"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "file_size": self.file_size,
            "kind": self.kind,
            "valid": self.valid,
            "verdict": self.verdict(),
            "header": None if not self.is_image else {
                "magic": self.magic,
                "segment_count": self.segment_count,
                "chip_id": self.chip_id,
                "chip": self.chip_name,
                "flash_mode": self.flash_mode_name,
                "flash_mode_code": self.flash_mode,
                "flash_size": self.flash_size,
                "flash_freq": self.flash_freq,
                "flash_size_freq_code": self.flash_size_freq,
                "entry_point": self.entry_point,
                "wp_pin": self.wp_pin,
                "spi_drive": dict(self.spi_drive),
                "min_rev": self.min_rev,
                "min_rev_full": self.min_rev_full,
                "max_rev_full": self.max_rev_full,
                "hash_appended": self.hash_appended,
            },
            "segments": [s.to_json() for s in self.segments],
            "checksum": {
                "offset": self.checksum_offset,
                "stored": self.checksum_stored,
                "calculated": self.checksum_calculated,
                "ok": self.checksum_ok,
            },
            "sha256": {
                "appended": self.hash_appended,
                "stored": self.sha256_stored,
                "calculated": self.sha256_calculated,
                "ok": self.sha256_ok,
            },
            "image_length": self.image_length,
            "app_desc": self.app_desc.to_json() if self.app_desc else None,
            "bootloader_desc": self.bootloader_desc.to_json() if self.bootloader_desc else None,
            "signature": self.signature.to_json() if self.signature else None,
            "trailing_bytes": self.trailing_bytes,
            "trailing_blank": self.trailing_blank,
            "findings": [asdict(f) for f in self.findings],
        }


def _identify_non_image(data: bytes) -> str:
    """Say what a file that does not start with 0xE9 looks like."""
    if not data:
        return "empty file (0 bytes)"
    if data[:2] == b"\xaa\x50" or data[:2] == b"\xeb\xeb":
        return "this is a partition table, not an app image (try `espwatch image partitions FILE`)"
    if data[:4] == b"\x7fELF":
        return "this is an ELF file, not an app image (pass the .bin; the ELF goes to --elf)"
    if data.count(0xFF) == len(data):
        return f"all {len(data)} bytes are 0xFF: erased flash, nothing was written"
    if data.count(0) == len(data):
        return f"all {len(data)} bytes are 0x00"
    for off in (0x1000, 0x0, 0x2000):
        if len(data) > off + HEADER_LEN and off and data[off] == ESP_IMAGE_MAGIC:
            return (f"no image magic at offset 0 (byte 0x{data[0]:02x}) but one at 0x{off:x}: "
                    "a whole-flash dump? cut the app partition out of it first")
    return f"invalid magic byte 0x{data[0]:02x} at offset 0, expected 0xE9: not an ESP app image"


def parse_app_image(data: bytes, path: str | None = None) -> AppImage:
    """Parse an image held in memory. Never raises on bad content; see `AppImage.findings`."""
    img = AppImage(path=path, file_size=len(data))
    if len(data) < 1 or data[0] != ESP_IMAGE_MAGIC:
        img.magic = data[0] if data else None
        img.findings.append(Finding("error", "not-an-image", _identify_non_image(data)))
        return img
    img.magic = ESP_IMAGE_MAGIC
    if len(data) < HEADER_LEN:
        img.findings.append(Finding("error", "truncated-header",
                                    f"file ends after {len(data)} bytes, inside the {HEADER_LEN}-byte image "
                                    "header"))
        return img
    _parse_header(img, data)
    pos, checksum = _parse_segments(img, data)
    _find_descriptors(img, data)
    if img.errors and any(f.code.startswith("truncated") for f in img.errors):
        return img
    if len(img.segments) < img.segment_count:
        return img
    end = _check_digests(img, data, pos, checksum)
    if end is not None:
        _find_signature_and_padding(img, data, end)
    return img


def _parse_header(img: AppImage, data: bytes) -> None:
    """The 24-byte image header: chip, flash settings, entry point, segment count."""
    err = img.findings.append
    (_m, nseg, img.flash_mode, img.flash_size_freq, entry) = struct.unpack_from("<BBBBI", data, 0)
    (wp, d0, d1, d2, chip_id, min_rev, min_full, max_full) = struct.unpack_from("<BBBBHBHH", data, 8)
    hash_flag = data[23]
    img.entry_point = entry
    img.segment_count = nseg
    img.wp_pin = wp
    img.spi_drive = {"clk_drv": d0 & 0xF, "q_drv": d0 >> 4, "d_drv": d1 & 0xF, "cs0_drv": d1 >> 4,
                     "hd_drv": d2 & 0xF, "wp_drv": d2 >> 4}
    img.chip_id, img.min_rev, img.min_rev_full, img.max_rev_full = chip_id, min_rev, min_full, max_full
    img.chip = chip_by_id(chip_id)
    if hash_flag not in (0, 1):
        err(Finding("error", "bad-header",
                    f"hash-appended byte is 0x{hash_flag:02x}, must be 0 or 1: not an ESP32-family header "
                    "(an ESP8266 image?)"))
    img.hash_appended = hash_flag == 1
    if img.chip is None:
        img.findings.append(Finding("warning", "unknown-chip",
                                    f"unknown chip id {chip_id}: memory regions cannot be named"))
    if img.flash_mode not in FLASH_MODES:
        img.findings.append(Finding("warning", "flash-mode", f"unknown flash mode byte {img.flash_mode}"))
    if img.flash_size is None:
        img.findings.append(Finding("warning", "flash-size",
                                    f"unknown flash size code 0x{img.flash_size_freq & 0xF0:02x}"))
    if img.chip and img.flash_freq is None:
        img.findings.append(Finding("warning", "flash-freq",
                                    f"unknown flash frequency code 0x{img.flash_size_freq & 0xF:x}"))
    if nseg == 0:
        err(Finding("error", "no-segments", "the header says the image has 0 segments"))
    elif nseg > MAX_SEGMENTS:
        err(Finding("error", "segment-count",
                    f"the header says {nseg} segments; the bootloader accepts at most {MAX_SEGMENTS}"))


def _parse_segments(img: AppImage, data: bytes) -> tuple[int, int]:
    """Each segment's header and data (as far as the file goes); the end offset and the running checksum."""
    err = img.findings.append
    nseg = img.segment_count
    entry = img.entry_point
    pos = HEADER_LEN
    checksum = CHECKSUM_SEED
    mv = memoryview(data)
    for i in range(nseg):
        if pos + SEGMENT_HEADER_LEN > len(data):
            err(Finding("error", "truncated-segment-header",
                        f"file ends at {len(data)} bytes, before the header of segment {i} "
                        f"(of {nseg}) at offset 0x{pos:x}"))
            break
        addr, length = struct.unpack_from("<II", data, pos)
        if addr == length == 0xFFFFFFFF:
            err(Finding("error", "truncated-erased",
                        f"the header of segment {i} (of {nseg}) at offset 0x{pos:x} is erased (all 0xFF): "
                        "the image stops there"))
            break
        avail = max(0, min(length, len(data) - pos - SEGMENT_HEADER_LEN))
        regions = img.chip.regions(addr) if img.chip else []
        seg = Segment(i, addr, length, pos, avail, regions)
        img.segments.append(seg)
        checksum = xor_checksum(mv[seg.data_offset:seg.data_offset + avail], checksum)
        if seg.truncated:
            err(Finding("error", "truncated-segment",
                        f"file ends inside segment {i} (load 0x{addr:08x}): its header says {length} bytes, "
                        f"only {avail} are in the file (it ends at {len(data)}, "
                        f"the segment at {seg.end_offset})"))
            break
        if length % 4:
            img.findings.append(Finding("warning", "segment-align",
                                        f"segment {i} length 0x{length:x} is not a multiple of 4"))
        if img.chip and not regions:
            img.findings.append(Finding("warning", "segment-region",
                                        f"segment {i} load address 0x{addr:08x} is in no known "
                                        f"{img.chip.name} memory region"))
        pos = seg.end_offset

    if img.chip and entry and not any(r in ("IRAM", "IROM") for r in img.chip.regions(entry)):
        img.findings.append(Finding("warning", "entry-point",
                                    f"entry point 0x{entry:08x} is not in IRAM or IROM"))
    return pos, checksum


def _find_descriptors(img: AppImage, data: bytes) -> None:
    """The app descriptor (DROM) or the bootloader descriptor (DRAM), from the bytes present."""
    for seg in img.segments:
        if "DROM" in seg.regions:
            raw = data[seg.data_offset:seg.data_offset + min(seg.available, APP_DESC_LEN)]
            img.app_desc = AppDescriptor.parse(raw, seg.data_offset)
            break
    if img.app_desc is None:
        for seg in img.segments:
            if "DRAM" in seg.regions:
                raw = data[seg.data_offset:seg.data_offset + min(seg.available, BOOTLOADER_DESC_LEN)]
                img.bootloader_desc = BootloaderDescriptor.parse(raw, seg.data_offset)
                if img.bootloader_desc:
                    break


def _check_digests(img: AppImage, data: bytes, pos: int, checksum: int) -> int | None:
    """The checksum byte and the appended SHA-256; the image end, or None when the file ends before it."""
    err = img.findings.append
    mv = memoryview(data)
    cs_off = pos + 15 - (pos % 16)
    img.checksum_offset = cs_off
    img.checksum_calculated = checksum
    if cs_off >= len(data):
        err(Finding("error", "truncated-checksum",
                    f"file ends at {len(data)} bytes, before the checksum byte at offset 0x{cs_off:x}"))
        return None
    img.checksum_stored = data[cs_off]
    if not img.checksum_ok:
        err(Finding("error", "checksum",
                    f"checksum mismatch: stored 0x{img.checksum_stored:02x}, calculated 0x{checksum:02x}"))
    end = cs_off + 1
    img.sha256_calculated = hashlib.sha256(mv[:end]).hexdigest() if img.hash_appended else None
    if img.hash_appended:
        stored = data[end:end + 32]
        if len(stored) < 32:
            img.sha256_stored = stored.hex() or None
            err(Finding("error", "truncated-sha256",
                        f"file ends at {len(data)} bytes, inside the appended SHA-256 ({len(stored)} of 32)"))
            return None
        img.sha256_stored = stored.hex()
        end += 32
        if not img.sha256_ok:
            err(Finding("error", "sha256", "SHA-256 mismatch: the appended digest does not match the image"))
    return end


def _find_signature_and_padding(img: AppImage, data: bytes, end: int) -> None:
    """A secure boot signature after the image, and what follows it."""
    sig_end = end
    v2_off = (end + SECTOR - 1) // SECTOR * SECTOR
    if len(data) >= v2_off + SIG_V2_BLOCK_LEN and data[v2_off] == SIG_V2_MAGIC and data[v2_off + 1] in (2, 3):
        blocks = 0
        for b in range(3):
            o = v2_off + b * SIG_V2_BLOCK_LEN
            if o + SIG_V2_BLOCK_LEN <= len(data) and data[o] == SIG_V2_MAGIC and data[o + 1] in (2, 3):
                blocks += 1
        scheme = "secure boot v2 (RSA-PSS)" if data[v2_off + 1] == 2 else "secure boot v2 (ECDSA)"
        img.signature = SignatureInfo(scheme, v2_off, blocks)
        sig_end = min(len(data), v2_off + SECTOR)
    elif (img.chip and img.chip.chip_id == 0 and len(data) >= end + 68
          and data[end:end + 4] == b"\0\0\0\0" and data[end + 4:end + 68].count(0xFF) < 64
          and data[end + 4:end + 68].count(0) < 64):
        img.signature = SignatureInfo("secure boot v1 (ECDSA), probably", end, 1)
        sig_end = end + 68
    trailing = data[sig_end:]
    img.trailing_bytes = len(trailing)
    img.trailing_blank = trailing.count(0xFF) == len(trailing)
    if trailing and not img.trailing_blank:
        img.findings.append(Finding("warning", "trailing-data",
                                    f"{len(trailing)} bytes after the image end (0x{sig_end:x}) "
                                    "are not 0xFF"))


def load_app_image(path: str | os.PathLike[str]) -> AppImage:
    """Read and parse an app image file. Raises InputError only when the path cannot be read."""
    data = read_input(path, "an app image", MAX_APP_FILE)
    return parse_app_image(data, str(path))
