"""Read-back diff on copies damaged the way esp-idf#4120 describes, made here from the fixture images."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.image import diff_image_bytes, diff_images, hex_view, load_app_image


@pytest.fixture(scope="module")
def original(fixtures_dir: Path) -> bytes:
    return (fixtures_dir / "esp32-coredump-app" / "esp32.bin").read_bytes()


def zero_random(data: bytes, n: int, seed: int) -> tuple[bytes, list[int]]:
    rnd = random.Random(seed)
    buf = bytearray(data)
    offs = sorted(o for o in rnd.sample(range(0x20, len(data) - 64), n * 3) if data[o] != 0)[:n]
    for o in offs:
        buf[o] = 0
    return bytes(buf), offs


def test_identical_and_partition_sized(original):
    d = diff_image_bytes(original, original)
    assert d.identical and d.runs == [] and not d.truncated
    padded = original + b"\xff" * (0x180000 - len(original))
    d = diff_image_bytes(original, padded)
    assert d.identical and d.extra_bytes == 0x180000 - len(original) and d.extra_non_ff == 0
    assert "IDENTICAL" in d.verdict()


def test_random_zeroed_bytes(original):
    damaged, offs = zero_random(original, 12, seed=4120)
    readback = damaged + b"\xff" * (0x180000 - len(damaged))  # read the whole partition
    d = diff_image_bytes(original, readback, merge_gap=0)
    assert not d.identical and not d.truncated
    assert [r.offset for r in d.runs] == offs
    assert all(r.kind == "zeroed" and r.length == 1 for r in d.runs)
    assert d.differing_bytes == len(offs)
    img = load_app_image_bytes(original)
    for r in d.runs:
        seg = img.segment_at_offset(r.offset)
        assert r.where == img.describe_offset(r.offset)
        if seg is not None and r.offset >= seg.data_offset:
            assert r.where.startswith(f"segment {seg.index} (")
    # the read-back, checked as an image, shows the bootloader's symptom: "Calculated X read Y"
    expect = img.checksum_stored
    for o in offs:
        if img.segment_at_offset(o) is not None and o >= img.segment_at_offset(o).data_offset:
            expect ^= original[o]  # that byte now contributes 0x00 to the XOR
    rb = d.readback_image
    assert rb.checksum_stored == img.checksum_stored
    assert rb.checksum_calculated == expect


def load_app_image_bytes(data: bytes):
    from espwatch.image import parse_app_image

    return parse_app_image(data)


def test_runs_merge_within_gap(original):
    buf = bytearray(original)
    for o in (0x9000, 0x9003, 0x9006, 0x9100):
        buf[o] ^= 0xFF
    d = diff_image_bytes(original, bytes(buf), merge_gap=4)
    assert [(r.offset, r.length, r.differing) for r in d.runs] == [(0x9000, 7, 3), (0x9100, 1, 1)]
    assert d.differing_bytes == 4


def test_truncated_tail_of_ff(original):
    cut = 62840
    readback = original[:cut] + b"\xff" * (0x180000 - cut)
    d = diff_image_bytes(original, readback)
    assert d.truncated and d.runs == []
    # the original may hold 0xFF right before the cut; the tail starts at the read-back's last non-0xFF byte
    expect = len(original[:cut].rstrip(b"\xff"))
    assert d.written == d.tail_start == expect
    assert f"only {expect} of {len(original)} bytes written" in d.verdict()
    assert d.differing_bytes == sum(1 for b in original[expect:] if b != 0xFF)


def test_truncated_plus_zeroed(original):
    damaged, offs = zero_random(original[:50000], 5, seed=7)
    readback = damaged + b"\xff" * (len(original) - 50000)
    d = diff_image_bytes(original, readback, merge_gap=0)
    assert d.truncated and [r.offset for r in d.runs] == offs


def test_readback_file_shorter(original):
    d = diff_image_bytes(original, original[:1000])
    assert d.truncated and d.written == 1000 and d.tail_start == 1000
    assert d.differing_bytes == len(original) - 1000


def test_kinds(original):
    buf = bytearray(original)
    o = next(i for i in range(0x8000, 0x9000) if original[i] not in (0, 0xFF) and original[i] & 0x0F)
    buf[o] = 0xFF if original[o] != 0xFF else 0
    p = next(i for i in range(0xA000, 0xB000) if original[i] & 0x01 and original[i] != 1)
    buf[p] = original[p] & 0xFE  # a 1->0 bit flip
    d = diff_image_bytes(original, bytes(buf), merge_gap=0)
    kinds = {r.offset: r.kind for r in d.runs}
    assert kinds[o] == "erased" and kinds[p] == "bits-cleared"


def test_hex_view_marks_the_byte(original):
    buf = bytearray(original)
    buf[0x61D6] = original[0x61D6] ^ 0x5A
    d = diff_image_bytes(original, bytes(buf))
    lines = hex_view(d, d.runs[0])
    row = next(i for i, line in enumerate(lines) if line.startswith("000061d0  orig  "))
    orig_line, read_line, mark_line = lines[row:row + 3]
    col = len("000061d0  orig  ") + 6 * 3  # byte 6 of the row
    assert orig_line[col:col + 2] == f"{original[0x61D6]:02x}"
    assert read_line[col:col + 2] == f"{original[0x61D6] ^ 0x5A:02x}"
    assert mark_line.index("^^") == col and mark_line.count("^^") == 1


def test_large_dump_is_fast(original):
    big = original + bytes(random.Random(1).randbytes(4 * 1024 * 1024))
    buf = bytearray(big)
    for o in range(100, len(big), 700_001):
        buf[o] ^= 0x55
    t = time.perf_counter()
    d = diff_image_bytes(big, bytes(buf))
    assert time.perf_counter() - t < 2.0
    assert len(d.runs) == len(range(100, len(big), 700_001))


def _run(capsys, *argv):
    rc = main(["image", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_diff(original, fixtures_dir: Path, tmp_path: Path, capsys):
    a = fixtures_dir / "esp32-coredump-app" / "esp32.bin"
    damaged, offs = zero_random(original, 3, seed=11)
    rb = tmp_path / "readback.bin"
    rb.write_bytes(damaged + b"\xff" * 4096)
    rc, out, _ = _run(capsys, "diff", a, rb)
    assert rc == 1 and "3 zeroed" in out and "Checksum failed. Calculated" in out
    assert f"0x{offs[0]:06x}" in out
    rc, out, _ = _run(capsys, "diff", a, rb, "--json")
    j = json.loads(out)
    assert rc == 1 and [r["offset"] for r in j["runs"]] == offs and j["extra_bytes"] == 4096
    same = tmp_path / "same.bin"
    same.write_bytes(original + b"\xff" * 100)
    rc, out, _ = _run(capsys, "diff", a, same)
    assert rc == 0 and "IDENTICAL" in out
    trunc = tmp_path / "trunc.bin"
    trunc.write_bytes(original[:62840] + b"\xff" * 200000)
    rc, out, _ = _run(capsys, "diff", a, trunc)
    assert rc == 1 and "bytes written" in out
    rc, _, err = _run(capsys, "diff", a)
    assert rc == 2 and "usage" in err
    rc, _, err = _run(capsys, "diff", a, tmp_path)
    assert rc == 2 and "is a directory" in err
    rc, _, err = _run(capsys, "diff", a, rb, "--elf", a)
    assert rc == 2 and "does not apply" in err


def test_diff_images_files(original, fixtures_dir: Path):
    d = fixtures_dir / "esp32-coredump-app"
    res = diff_images(d / "esp32.bin", d / "esp32-badsum.bin")
    assert [(r.offset, r.original, r.readback) for r in res.runs] == [(0x61D6, b"\x00", b"\x5a")]
    assert res.runs[0].where.startswith("segment 1 (BYTE_ACCESSIBLE, DRAM)")
    badsum = load_app_image(d / "esp32-badsum.bin")
    assert badsum.checksum_calculated == res.readback_image.checksum_calculated
