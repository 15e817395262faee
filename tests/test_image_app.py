"""`espwatch.image` app image parser vs esptool image-info (stored output and, when installed, live)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.errors import InputError
from espwatch.image import check_elf, inspect_image, load_app_image, parse_app_image, xor_checksum

IMAGES = [
    ("esp32-coredump-app", "esp32", "esp32"),
    ("esp32c3-coredump-app", "esp32c3", "esp32c3"),
    ("esp32s2-blink-image", "esp32s2", "esp_idf_blink_esp32s2"),
]
DAMAGED = ["", "-badsum", "-badhash", "-truncated", "-nomagic"]
HAVE_ESPTOOL = importlib.util.find_spec("esptool") is not None


# ---------------------------------------------------------------- esptool's text, parsed independently


def parse_esptool_info(text: str) -> dict:
    """The figures of `esptool image-info` output, as a dict (only what the output states)."""
    info: dict = {"segments": []}
    m = re.search(r"^Image size: (\d+) bytes", text, re.M)
    info["size"] = int(m.group(1)) if m else None
    m = re.search(r"A fatal error occurred: (.*)$", text, re.M)
    info["fatal"] = m.group(1).strip() if m else None
    simple = {
        "entry": r"^Entry point: (0x[0-9a-f]+)",
        "nseg": r"^Segments: (\d+)",
        "flash_size": r"^Flash size: (\S+)",
        "flash_freq": r"^Flash freq: (\S+)",
        "flash_mode": r"^Flash mode: (\S+)",
        "wp_pin": r"^WP pin: (0x[0-9a-f]+)",
        "chip_id": r"^Chip ID: (\d+) \(([^)]*)\)",
        "min_rev": r"^Minimal chip revision: v(\d+)\.(\d+), \(legacy min_rev = (\d+)\)",
        "max_rev": r"^Maximal chip revision: v(\d+)\.(\d+)",
        "checksum": r"^Checksum: (0x[0-9a-f]+) \((valid|invalid - calculated (0x[0-9a-f]+))\)",
        "hash": r"^Validation hash: ([0-9a-f]{64}) \((valid|invalid)\)",
        "project": r"^Project name: (.*)$",
        "version": r"^App version: (.*)$",
        "compile": r"^Compile time: (.*)$",
        "elf_sha": r"^ELF file SHA256: ([0-9a-f]+)",
        "idf": r"^ESP-IDF: (.*)$",
        "min_blk": r"^Minimal eFuse block revision: (\S+)",
        "max_blk": r"^Maximal eFuse block revision: (\S+)",
        "secure_version": r"^Secure version: (\d+)",
    }
    for key, pat in simple.items():
        m = re.search(pat, text, re.M)
        info[key] = m.groups() if m else None
    for m in re.finditer(r"^\s+(\d+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(.*)$", text, re.M):
        idx, length, addr, offs, types = m.groups()
        info["segments"].append((int(idx), int(length, 16), int(addr, 16), int(offs, 16), types.strip()))
    return info


def assert_same_as_esptool(img, info: dict) -> None:
    """Every figure esptool printed equals ours."""
    if info["size"] is not None:
        assert img.file_size == info["size"]
    if info["fatal"] and "invalid magic number" in info["fatal"]:
        m = re.search(r"invalid magic number: (0x[0-9a-f]+)", info["fatal"])
        assert not img.is_image and img.magic == int(m.group(1), 16)
        assert not img.valid
        return
    assert img.is_image
    if info["fatal"] and info["fatal"].startswith("End of file reading segment"):
        m = re.search(r"segment (0x[0-9a-f]+), length (\d+) \(actual length (\d+)\)", info["fatal"])
        addr, length, actual = int(m.group(1), 16), int(m.group(2)), int(m.group(3))
        last = img.segments[-1]
        assert (last.load_addr, last.length, last.available) == (addr, length, actual)
        assert last.truncated and img.truncated and not img.valid
        return
    assert img.entry_point == int(info["entry"][0], 16)
    assert img.segment_count == int(info["nseg"][0])
    assert img.flash_size == info["flash_size"][0]
    assert img.flash_freq == info["flash_freq"][0]
    assert img.flash_mode_name == info["flash_mode"][0]
    assert img.wp_pin == int(info["wp_pin"][0], 16)
    assert img.chip_id == int(info["chip_id"][0]) and img.chip_name == info["chip_id"][1]
    major, minor, legacy = map(int, info["min_rev"])
    assert (img.min_rev_full, img.min_rev) == (major * 100 + minor, legacy)
    major, minor = map(int, info["max_rev"])
    assert img.max_rev_full == major * 100 + minor
    ours = [(s.index, s.length, s.load_addr, s.header_offset, s.region) for s in img.segments]
    assert info["fatal"] is None
    assert ours == info["segments"]
    stored, state, calc = info["checksum"]
    assert img.checksum_stored == int(stored, 16)
    if state == "valid":
        assert img.checksum_ok and img.checksum_calculated == int(stored, 16)
    else:
        assert img.checksum_ok is False and img.checksum_calculated == int(calc, 16)
    if info["hash"]:
        digest, state = info["hash"]
        assert img.sha256_calculated == digest  # esptool prints the calculated digest
        assert img.sha256_ok is (state == "valid")
    else:
        assert not img.hash_appended
    d = img.app_desc
    if info["project"] is None:
        assert d is None
        return
    assert d.project_name == info["project"][0]
    assert d.version == info["version"][0]
    assert f"{d.compile_date} {d.compile_time}" == info["compile"][0]
    assert d.elf_sha256 == info["elf_sha"][0]
    assert d.idf_version == info["idf"][0]
    assert d.efuse_rev(d.min_efuse_blk_rev_full) == info["min_blk"][0]
    assert d.efuse_rev(d.max_efuse_blk_rev_full) == info["max_blk"][0]
    assert d.secure_version == int(info["secure_version"][0])
    valid = info["checksum"][1] == "valid" and (info["hash"] is None or info["hash"][1] == "valid")
    assert img.valid is valid


# ---------------------------------------------------------------- fixtures vs stored esptool output


@pytest.mark.parametrize("folder,chip,stem", IMAGES)
@pytest.mark.parametrize("damage", DAMAGED)
def test_fixture_matches_stored_esptool_output(fixtures_dir: Path, folder, chip, stem, damage):
    d = fixtures_dir / folder
    info_file = d / ("image_info.txt" if not damage else f"{stem}{damage}.image_info.txt")
    img = load_app_image(d / f"{stem}{damage}.bin")
    info = parse_esptool_info(info_file.read_text())
    assert_same_as_esptool(img, info)
    # esptool exits 2 exactly for the damage it cannot parse past; we call all four damaged copies invalid
    assert img.valid is (damage == "")


def test_badsum_names_the_segment_and_values(fixtures_dir: Path):
    d = fixtures_dir / "esp32-coredump-app"
    corr = (d / "corruptions.txt").read_text()
    m = re.search(r"esp32-badsum.bin: byte at file offset (0x[0-9a-f]+) \(segment (\d+)", corr)
    offset, seg = int(m.group(1), 16), int(m.group(2))
    img = load_app_image(d / "esp32-badsum.bin")
    assert img.segment_at_offset(offset).index == seg
    assert img.describe_offset(offset).startswith(f"segment {seg} ")
    assert "stored 0x05, calculated 0x5f" in img.verdict()


def test_elf_sha256_matches_fixture_elf(fixtures_dir: Path):
    d = fixtures_dir / "esp32-coredump-app"
    img = load_app_image(d / "esp32.bin")
    m = check_elf(img, d / "esp32.elf")
    assert m.is_elf and m.match is True
    assert m.elf_sha256 == hashlib.sha256((d / "esp32.elf").read_bytes()).hexdigest()
    other = check_elf(img, fixtures_dir / "esp32c3-coredump-app" / "esp32c3.elf")
    assert other.match is False
    check = inspect_image(d / "esp32.bin", elf=fixtures_dir / "esp32c3-coredump-app" / "esp32c3.elf")
    assert not check.valid and "not built from this ELF" in check.verdict()


# ---------------------------------------------------------------- live esptool on fixtures and on new damage


def _esptool_info(chip: str, path: Path) -> tuple[int, str]:
    r = subprocess.run([sys.executable, "-m", "esptool", "--chip", chip, "image-info", str(path)],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.skipif(not HAVE_ESPTOOL, reason="esptool not installed")
@pytest.mark.parametrize("folder,chip,stem", IMAGES)
def test_live_esptool_on_fixture(fixtures_dir: Path, folder, chip, stem):
    path = fixtures_dir / folder / f"{stem}.bin"
    rc, out = _esptool_info(chip, path)
    assert rc == 0
    assert_same_as_esptool(load_app_image(path), parse_esptool_info(out))


@pytest.mark.skipif(not HAVE_ESPTOOL, reason="esptool not installed")
def test_live_esptool_on_story_damage(fixtures_dir: Path, tmp_path: Path):
    """Bytes zeroed at random places (the PSRAM OTA buffer of esp-idf#4120): esptool and we agree."""
    import random

    data = bytearray((fixtures_dir / "esp32c3-coredump-app" / "esp32c3.bin").read_bytes())
    rnd = random.Random(4120)
    for off in rnd.sample(range(0x40, len(data) - 64), 9):
        data[off] = 0
    path = tmp_path / "zeroed.bin"
    path.write_bytes(bytes(data))
    rc, out = _esptool_info("esp32c3", path)
    assert rc == 0
    img = load_app_image(path)
    assert_same_as_esptool(img, parse_esptool_info(out))
    assert not img.valid


# ---------------------------------------------------------------- synthetic images (documented layout)


def build_image(segments, *, chip_id=5, entry=0x40380000, hash_appended=True, mode=2, size_freq=0x1F,
                checksum_delta=0, nseg=None) -> bytes:
    """An image built from the documented layout, independent of the parser."""
    out = struct.pack("<BBBBI", 0xE9, len(segments) if nseg is None else nseg, mode, size_freq, entry)
    out += struct.pack("<BBBBHBHH4sB", 0xEE, 0, 0, 0, chip_id, 0, 3, 199, b"\0" * 4,
                       1 if hash_appended else 0)
    cs = 0xEF
    for addr, data in segments:
        out += struct.pack("<II", addr, len(data)) + data
        for b in data:
            cs ^= b
    out += b"\0" * (15 - len(out) % 16)
    out += bytes([(cs ^ checksum_delta) & 0xFF])
    if hash_appended:
        out += hashlib.sha256(out).digest()
    return out


def app_desc(project=b"demo", version=b"1.2.3", elf_sha=b"\x11" * 32, mmu=16) -> bytes:
    return struct.pack("<II8s32s32s16s16s32s32sHHB3s72s", 0xABCD5432, 7, b"", version, project, b"12:00:00",
                       b"Jan  1 2025", b"v5.4", elf_sha, 1, 99, mmu, b"", b"")


def test_synthetic_image_all_fields():
    drom = app_desc() + bytes(range(256)) * 4
    raw = build_image([(0x3C000020, drom), (0x3FC80000, b"\x5a" * 64), (0x42000020, b"\x01\x02\x03\x04" * 8)])
    img = parse_app_image(raw)
    assert img.valid, img.findings
    assert img.chip_name == "ESP32-C3" and img.flash_mode_name == "DIO"
    assert (img.flash_size, img.flash_freq) == ("2MB", "80m")
    assert [s.region for s in img.segments] == ["DROM", "DRAM", "IROM"]
    d = img.app_desc
    assert (d.project_name, d.version, d.secure_version, d.idf_version) == ("demo", "1.2.3", 7, "v5.4")
    assert (d.compile_date, d.compile_time, d.mmu_page_size) == ("Jan  1 2025", "12:00:00", 65536)
    assert (d.min_efuse_blk_rev_full, d.max_efuse_blk_rev_full) == (1, 99)
    assert d.elf_sha256 == "11" * 32
    assert img.end_offset == len(raw) and img.trailing_bytes == 0
    j = json.loads(json.dumps(img.to_json()))
    assert j["valid"] and j["app_desc"]["max_efuse_blk_rev"] == "0.99"


def test_checksum_of_xor_helper_matches_bytewise():
    data = bytes((i * 37 + 11) & 0xFF for i in range(10007))
    expect = 0xEF
    for b in data:
        expect ^= b
    assert xor_checksum(data) == expect
    assert xor_checksum(data[:5]) == xor_checksum(data[:5], 0xEF)


def test_bad_checksum_and_no_hash():
    raw = build_image([(0x3C000020, app_desc())], hash_appended=False, checksum_delta=0x10)
    img = parse_app_image(raw)
    assert img.checksum_ok is False and img.sha256_ok is None
    assert not img.valid and "checksum mismatch" in img.verdict()


def test_secure_boot_v2_signature_detected():
    raw = build_image([(0x3C000020, app_desc())])
    padded = raw + b"\xff" * ((-len(raw)) % 4096)
    sig = bytearray(b"\xff" * 4096)
    sig[0:2] = b"\xe7\x02"
    img = parse_app_image(padded + bytes(sig))
    assert img.valid and img.signature is not None
    assert img.signature.offset == len(padded) and "v2" in img.signature.scheme
    assert parse_app_image(raw).signature is None


def test_bootloader_descriptor():
    boot_desc = struct.pack("<B3sI32s24s16s", 0x50, b"", 3, b"v5.4", b"Jan  1 2025 12:00:00", b"")
    raw = build_image([(0x3FCD5000, boot_desc + b"\0" * 16), (0x403CC000, b"\0" * 32)])
    img = parse_app_image(raw)
    assert img.kind == "bootloader" and img.bootloader_desc.version == 3
    assert img.bootloader_desc.idf_version == "v5.4"


@pytest.mark.parametrize(
    "raw,needle",
    [
        (b"", "empty file"),
        (b"\xe9\x03\x02", "inside the 24-byte image header"),
        (b"\xff" * 4096, "erased flash"),
        (b"\x7fELF" + b"\0" * 60, "ELF file"),
        (b"\xaa\x50" + b"\0" * 30, "partition table"),
        (b"\x12" * 100, "invalid magic byte 0x12"),
    ],
)
def test_not_an_image(raw, needle):
    img = parse_app_image(raw)
    assert not img.valid and needle in img.verdict()


def test_header_problems():
    img = parse_app_image(build_image([(0x3C000020, app_desc())], nseg=0))
    assert any(f.code == "no-segments" for f in img.errors)
    img = parse_app_image(build_image([(0x3C000020, app_desc())], nseg=17))
    assert any(f.code == "segment-count" for f in img.errors)
    raw = bytearray(build_image([(0x3C000020, app_desc())]))
    raw[23] = 7
    assert any(f.code == "bad-header" for f in parse_app_image(bytes(raw)).errors)
    raw = build_image([(0x3C000020, app_desc())], chip_id=999)
    img = parse_app_image(raw)
    assert img.chip is None and any(f.code == "unknown-chip" for f in img.findings)


@pytest.mark.parametrize("cut", [30, 300, -40, -20, -1])
def test_truncated_anywhere_never_raises(cut):
    raw = build_image([(0x3C000020, app_desc()), (0x42000020, b"\x33" * 200)])
    img = parse_app_image(raw[:cut])
    assert not img.valid and img.truncated


def test_every_prefix_and_random_damage_never_raise():
    raw = build_image([(0x3C000020, app_desc()), (0x42000020, b"\x33" * 64)])
    for n in range(len(raw)):
        parse_app_image(raw[:n]).verdict()
    for i in range(0, len(raw), 3):
        bad = bytearray(raw)
        bad[i] ^= 0xFF
        img = parse_app_image(bytes(bad))
        img.verdict()
        json.dumps(img.to_json())


def test_input_file_errors(tmp_path: Path):
    with pytest.raises(InputError, match="no such file"):
        load_app_image(tmp_path / "missing.bin")
    with pytest.raises(InputError, match="is a directory"):
        load_app_image(tmp_path)
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as fh:
        fh.truncate(65 * 1024 * 1024)  # sparse
    with pytest.raises(InputError, match="too large"):
        load_app_image(huge)


# ---------------------------------------------------------------- command line


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["image", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_valid_and_invalid(fixtures_dir: Path, capsys):
    d = fixtures_dir / "esp32s2-blink-image"
    rc, out, _ = _run(capsys, d / "esp_idf_blink_esp32s2.bin")
    assert rc == 0 and out.strip().splitlines()[-1].startswith("VALID")
    assert "0x00010  0x50000000  0x0002c81c  RTC_DATA" in out
    rc, out, _ = _run(capsys, d / "esp_idf_blink_esp32s2-badsum.bin")
    assert rc == 1 and "stored 0x18, calculated 0x42" in out
    rc, out, _ = _run(capsys, d / "esp_idf_blink_esp32s2-truncated.bin", "--json")
    j = json.loads(out)
    assert rc == 1 and j["valid"] is False and j["image"]["file_size"] == 109420


def test_cli_elf_and_fit(fixtures_dir: Path, tmp_path: Path, capsys):
    d = fixtures_dir / "esp32-coredump-app"
    table = fixtures_dir / "partition-table" / "partitions_ota.bin"
    rc, out, _ = _run(capsys, d / "esp32.bin", "--elf", d / "esp32.elf", "--partitions", table,
                      "--slot", "ota_1")
    assert rc == 0 and "matches the ELF" in out and "1572864 bytes" in out and "161904 bytes" in out
    small = tmp_path / "small.csv"
    small.write_text("nvs, data, nvs, , 0x6000\nfactory, app, factory, , 100K\n")
    rc, out, _ = _run(capsys, d / "esp32.bin", "--partitions", small, "--json")
    j = json.loads(out)
    assert rc == 1 and j["fit"][0]["fits"] is False and j["fit"][0]["margin"] == 102400 - 161904
    rc, _, err = _run(capsys, d / "esp32.bin", "--partitions", table, "--slot", "nope")
    assert rc == 2 and "no partition 'nope'" in err and "ota_0" in err
    rc, out, _ = _run(capsys, d / "esp32.bin", "--partitions", table, "--slot", "nvs")
    assert rc == 1 and "not an app slot" in out
    rc, out, _ = _run(capsys, d / "esp32.bin", "--chip", "esp32c3")
    assert rc == 1 and "is for ESP32 (chip id 0), not esp32c3" in out
    rc, out, _ = _run(capsys, d / "esp32.bin", "--chip", "esp32")
    assert rc == 0


def test_cli_bad_input(tmp_path: Path, fixtures_dir: Path, capsys):
    rc, _, err = _run(capsys, tmp_path / "missing.bin")
    assert rc == 2 and err.startswith("espwatch: ") and "no such file" in err and "Traceback" not in err
    rc, _, err = _run(capsys, tmp_path)
    assert rc == 2 and "is a directory" in err
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    rc, out, _ = _run(capsys, empty)
    assert rc == 1 and "empty file" in out
    rc, out, _ = _run(capsys, fixtures_dir / "partition-table" / "partitions_ota.bin")
    assert rc == 1 and "partition table" in out
    rc, _, err = _run(capsys, empty, "extra")
    assert rc == 2
    rc, _, err = _run(capsys, empty, "--slot", "ota_0")
    assert rc == 2 and "--slot needs --partitions" in err
    rc, _, err = _run(capsys, empty, "--max-runs", "3")
    assert rc == 2 and "does not apply" in err
