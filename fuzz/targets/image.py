"""Fuzz targets for binary inputs: app images, partition tables (binary, CSV, boot log), otadata, and the
read-back diff (checked against a plain byte-by-byte comparison)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from espwatch.errors import ImageError, InputError
from espwatch.image import (
    build_otadata,
    check_partition_table,
    diff_image_bytes,
    hex_view,
    parse_app_image,
    parse_otadata,
    parse_partition_table,
)
from espwatch.image.app_image import xor_checksum
from fuzz.harness import Target

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "fixtures"


def tiny_image(chip_id: int = 5, hash_appended: bool = True) -> bytes:
    """A small, valid app image: a DROM segment starting with an esp_app_desc_t, an IRAM segment."""
    desc = struct.pack("<II8s32s32s16s16s32s32sHHB3s72s", 0xABCD5432, 0, b"", b"v1.0", b"fuzz",
                       b"00:00:00", b"Jan  1 2025", b"v5.3", b"\x11" * 32, 0, 0, 0, b"", b"")
    segs = [(0x3C000020, desc + b"\x00" * (-len(desc) % 4)), (0x40380000, bytes(range(64)))]
    head = struct.pack("<BBBBI", 0xE9, len(segs), 2, 0x20, 0x40380000)
    head += struct.pack("<BBBBHBHH", 0xEE, 0, 0, 0, chip_id, 0, 0, 0xFFFF) + b"\x00" * 4
    head += bytes([1 if hash_appended else 0])
    body = b"".join(struct.pack("<II", a, len(d)) + d for a, d in segs)
    data = head + body
    checksum = xor_checksum(b"".join(d for _, d in segs))
    data += b"\x00" * (15 - len(data) % 16) + bytes([checksum])
    if hash_appended:
        data += hashlib.sha256(data).digest()
    return data


def _images() -> list[bytes]:
    out = [tiny_image(), tiny_image(0, False), tiny_image(9)]
    if SHARED.is_dir():
        for p in sorted(SHARED.glob("*/*.bin"))[:6]:
            out.append(p.read_bytes()[:300_000])
    return out


def run_app_image(data: bytes) -> None:
    img = parse_app_image(data)
    assert isinstance(img.verdict(), str)
    json.dumps(img.to_json())
    for off in (0, 7, 24, len(data) // 2, max(0, len(data) - 1)):
        img.describe_offset(off)


# -- partition tables --------------------------------------------------------------------------------------
def _tables() -> list[bytes]:
    folder = ROOT / "tests" / "data" / "fixtures" / "partition-table"
    out = [p.read_bytes() for p in sorted(folder.glob("*.bin"))]
    out += [p.read_bytes() for p in sorted(folder.glob("*.csv"))]
    out.append(b"I (45) boot: Partition Table:\n"
               b"I (46) boot: ## Label            Usage          Type ST Offset   Length\n"
               b"I (47) boot:  0 nvs              WiFi data        01 02 00009000 00006000\n"
               b"I (48) boot:  1 otadata          OTA data         01 00 0000f000 00002000\n"
               b"I (49) boot:  2 ota_0            OTA app          00 10 00020000 00100000\n"
               b"I (50) boot: End of partition table\n")
    return out


def run_partition_table(data: bytes) -> None:
    try:
        table = parse_partition_table(data, "fuzz")
    except ImageError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400, str(exc)[:200]
        return
    check_partition_table(table, flash_size=4 << 20, bootloader_size=len(data) % 0x10000)
    assert isinstance(table.verdict(), str)
    json.dumps(table.to_json())
    table.bootloader_lines()


def run_otadata(data: bytes) -> None:
    slots = data[0] % 18 if data else None
    try:
        od = parse_otadata(data, ota_slots=None if slots == 17 else slots)
    except ImageError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(od.verdict(), str)
    json.dumps(od.to_json())


def _otadata_seeds() -> list[bytes]:
    return [build_otadata([None, None]), build_otadata([(1, 2), None]), build_otadata([(3, 1), (4, 0)]),
            build_otadata([(0xFFFFFFFF, 0xFFFFFFFF), (7, 3)])]


# -- read-back diff ----------------------------------------------------------------------------------------
def run_readback_diff(data: bytes) -> None:
    if len(data) < 4:
        return
    gap = data[0] % 20
    kept = 1 + data[1] % 8
    cut = 4 + int.from_bytes(data[2:4], "little") % max(1, len(data) - 3)
    original, readback = data[4:cut], data[cut:]
    try:
        d = diff_image_bytes(original, readback, merge_gap=gap, max_kept_runs=kept)
    except InputError:
        assert not original
        return
    n, m = len(original), len(readback)
    naive = sum(1 for x, y in zip(original, readback, strict=False) if x != y) + max(0, n - m)
    assert d.differing_bytes == naive, (d.differing_bytes, naive)
    assert d.identical == (m >= n and readback[:n] == original)
    assert d.extra_bytes == max(0, m - n) and d.extra_non_ff == sum(1 for b in readback[n:] if b != 0xFF)
    assert len(d.runs) == min(kept, d.run_count) and d.run_differing <= d.differing_bytes
    end = 0
    for r in d.runs:
        assert r.offset >= end and r.length > 0 and 0 < r.differing <= r.length
        assert original[r.offset] != readback[r.offset] and original[r.end - 1] != readback[r.end - 1]
        assert r.original == original[r.offset:r.offset + min(r.length, 64)]
        end = r.end + gap
        hex_view(d, r)
    if d.truncated:
        assert d.tail_start is not None and d.written == d.tail_start <= min(n, m)
        assert all(b == 0xFF for b in readback[d.tail_start:n])
    d.verdict()
    json.dumps(d.to_json())


def _diff_seeds() -> list[bytes]:
    img = tiny_image()
    damaged = bytearray(img)
    damaged[40:44] = b"\x00\x00\x00\x00"
    damaged[100] ^= 0x10
    out = []
    for rb in (img, bytes(damaged), img[:150] + b"\xff" * 200, img + b"\xff" * 64, b""):
        out.append(bytes([8, 3]) + (4 + len(img)).to_bytes(2, "little") + img + rb)
    return out


TARGETS = [
    Target("app_image", run_app_image, _images, "parse_app_image never raises", max_len=300_000,
           tokens=(b"\xe9", b"\x32\x54\xcd\xab", b"\xff\xff\xff\xff", b"\x00\x00\x38\x40",
                   b"\x20\x00\x00\x3c")),
    Target("partition_table", run_partition_table, _tables,
           "binary / CSV / boot-log tables: ImageError (one short line) only", max_len=16384,
           tokens=(b"\xaa\x50", b"\xeb\xeb", b"nvs,data,nvs,0x9000,0x6000,\n", b"app,", b"ota_0",
                   b",encrypted", b"0x", b"K", b"M", b"#", b"boot:  0 ", b"boot: End of partition table\n")),
    Target("otadata", run_otadata, _otadata_seeds, "parse_otadata: ImageError (one line) only",
           max_len=16384),
    Target("readback_diff", run_readback_diff, _diff_seeds,
           "diff_image_bytes agrees with a byte-by-byte comparison; runs are ordered and real",
           max_len=4096, tokens=(b"\xff" * 16, b"\x00" * 16, b"\xe9")),
]
