"""OTA data: entries built here from the documented layout; the boot choice follows the bootloader's rules."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.errors import ImageError
from espwatch.image import load_otadata, ota_seq_crc, parse_otadata, parse_partition_csv, to_binary

NEW, PENDING, VALID, INVALID, ABORTED, UNDEFINED = 0, 1, 2, 3, 4, 0xFFFFFFFF


def rom_crc32_le(crc: int, data: bytes) -> int:
    """ESP ROM `crc32_le`, bit by bit: invert in, reflected poly 0xEDB88320, invert out."""
    crc = ~crc & 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return ~crc & 0xFFFFFFFF


def entry(seq: int, state: int, crc: int | None = None, label: bytes = b"\xff" * 20) -> bytes:
    if crc is None:
        crc = rom_crc32_le(0xFFFFFFFF, struct.pack("<I", seq))  # esp_rom_crc32_le(UINT32_MAX, &seq, 4)
    sector = struct.pack("<I20sII", seq, label, state, crc)
    return sector + b"\xff" * (0x1000 - len(sector))


BLANK = b"\xff" * 0x1000


@pytest.mark.parametrize("seq", [0, 1, 2, 3, 7, 0x12345678, 0xFFFFFFFE])
def test_crc_matches_rom_algorithm(seq):
    assert ota_seq_crc(seq) == rom_crc32_le(0xFFFFFFFF, struct.pack("<I", seq))


def test_blank_otadata_boots_factory_or_ota0():
    od = parse_otadata(BLANK + BLANK, ota_slots=2)
    assert all(e.blank for e in od.entries)
    assert od.choice.target.startswith("factory") and od.valid
    table = parse_partition_csv("otadata,data,ota,,0x2000\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n")
    assert parse_otadata(BLANK + BLANK, table=table).choice.target == "ota_0"
    table = parse_partition_csv(
        "otadata,data,ota,,0x2000\nfactory,app,factory,,1M\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n")
    assert parse_otadata(BLANK + BLANK, table=table).choice.target == "factory"


@pytest.mark.parametrize(
    "e0,e1,slots,target,deciding",
    [
        ((1, VALID), None, 2, "ota_0", 0),
        (None, (2, VALID), 2, "ota_1", 1),
        ((3, VALID), (4, VALID), 2, "ota_1", 1),  # highest seq wins
        ((5, VALID), (4, VALID), 2, "ota_0", 0),  # (5-1) % 2
        ((5, VALID), (4, VALID), 3, "ota_1", 0),  # (5-1) % 3
        ((3, NEW), (2, VALID), 2, "ota_0", 0),
        ((3, UNDEFINED), (2, VALID), 2, "ota_0", 0),  # UNDEFINED is bootable (no rollback)
        ((3, PENDING), (2, VALID), 2, "ota_0", 0),
        ((3, INVALID), (2, VALID), 2, "ota_1", 1),  # INVALID is skipped
        ((3, ABORTED), (2, VALID), 2, "ota_1", 1),  # ABORTED is skipped
    ],
)
def test_choice_by_state_and_seq(e0, e1, slots, target, deciding):
    data = (entry(*e0) if e0 else BLANK) + (entry(*e1) if e1 else BLANK)
    od = parse_otadata(data, ota_slots=slots)
    assert od.choice.target == target
    assert od.choice.entry == deciding


def test_rollback_turns_pending_verify_into_aborted():
    od = parse_otadata(entry(5, PENDING) + entry(4, VALID), ota_slots=2)
    assert od.choice.target == "ota_0"
    assert od.choice_with_rollback.target == "ota_1"
    assert "rollback" in od.verdict()


def test_bad_crc_entry_is_ignored_and_reported():
    od = parse_otadata(entry(7, VALID, crc=0x12345678) + entry(2, VALID), ota_slots=2)
    assert not od.entries[0].crc_ok and not od.entries[0].valid
    assert od.choice.target == "ota_1" and od.choice.entry == 1
    assert not od.valid and any(f.code == "crc" for f in od.findings)


def test_both_crc_bad_falls_back():
    od = parse_otadata(entry(7, VALID, crc=1) + entry(8, VALID, crc=2), ota_slots=2)
    assert od.choice.slot is None and od.choice.target.startswith("factory")
    assert "no valid entry" in od.choice.reason


def test_slot_count_unknown_still_names_the_seq():
    od = parse_otadata(entry(9, VALID) + BLANK)
    assert od.choice.target == "seq 9" and "--ota-slots" in od.choice.reason


def test_otadata_inside_flash_dump():
    table = parse_partition_csv("nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\n"
                                "ota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n")
    od_off = table.otadata.offset
    dump = bytearray(b"\xff" * 0x40000)
    dump[od_off:od_off + 0x2000] = BLANK + entry(2, VALID)
    od = parse_otadata(bytes(dump), table=table)
    assert od.choice.target == "ota_1" and od.ota_slots == 2


def test_too_short():
    with pytest.raises(ImageError, match="two 4 KB sectors"):
        parse_otadata(b"\xff" * 100)


def _run(capsys, *argv):
    rc = main(["image", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_otadata(tmp_path: Path, capsys):
    f = tmp_path / "otadata.bin"
    f.write_bytes(entry(3, VALID) + entry(4, PENDING))
    rc, out, _ = _run(capsys, "otadata", f, "--ota-slots", "2")
    assert rc == 0 and "next boot: ota_1" in out and "with app rollback enabled: ota_0" in out
    table = tmp_path / "t.bin"
    table.write_bytes(to_binary(parse_partition_csv(
        "otadata,data,ota,,0x2000\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\nota_2,app,ota_2,,1M\n")))
    rc, out, _ = _run(capsys, "otadata", f, "--partitions", table, "--json")
    j = json.loads(out)
    assert rc == 0 and j["ota_slots"] == 3 and j["next_boot"]["target"] == "ota_0"  # (4-1) % 3
    assert load_otadata(f, ota_slots=3).choice.target == "ota_0"
    short = tmp_path / "short.bin"
    short.write_bytes(b"\xff" * 10)
    rc, out, _ = _run(capsys, "otadata", short)
    assert rc == 1 and "two 4 KB sectors" in out
    rc, _, err = _run(capsys, "otadata", f, "--ota-slots", "2", "--partitions", table)
    assert rc == 2 and "not both" in err
    rc, _, err = _run(capsys, "otadata", tmp_path / "missing.bin")
    assert rc == 2 and "no such file" in err
