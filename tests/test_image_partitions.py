"""Partition tables: binary (with and without MD5), CSV, boot log; checks; bootloader-style printing."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.errors import ImageError
from espwatch.image import check_partition_table, load_partition_table, parse_partition_table, to_binary
from espwatch.image.partition_table import (
    parse_partition_binary,
    parse_partition_boot_log,
    parse_partition_csv,
)


def expected_rows(path: Path) -> tuple[list[tuple], str]:
    """The fixture's expected CSV (made by its own reader): rows and the MD5 comment."""
    rows, verdict = [], ""
    for line in path.read_text().splitlines():
        if line.startswith("# Name"):
            continue
        if line.startswith("#"):
            verdict = line[1:].strip()
            continue
        name, t, s, off, size, flags = line.split(",")
        rows.append((name, t, s, int(off, 16), int(size, 16), flags))
    return rows, verdict


@pytest.mark.parametrize("stem", ["partitions_ota", "partitions_ota-badmd5", "partitions_singleapp"])
def test_fixture_tables(data_dir: Path, stem):
    d = data_dir / "partition-table"
    table = load_partition_table(d / f"{stem}.bin")
    rows, verdict = expected_rows(d / f"{stem}.expected.csv")
    ours = [(p.label, p.type_name, p.subtype_name, p.offset, p.size, ":".join(p.flag_names))
            for p in table.partitions]
    assert ours == rows
    if verdict == "MD5 valid":
        assert table.md5_present and table.md5_ok and table.valid
    elif verdict == "no MD5 entry":
        assert table.md5_present is False and table.md5_ok is None and table.valid
    else:
        assert verdict.startswith("MD5 invalid")
        assert table.md5_ok is False and not table.valid
        assert table.md5_stored in verdict and table.md5_calculated in verdict


def test_fixture_csv_equals_fixture_binary(data_dir: Path):
    d = data_dir / "partition-table"
    from_csv = load_partition_table(d / "partitions_ota.csv")
    from_bin = load_partition_table(d / "partitions_ota.bin")
    assert from_csv.source == "csv" and from_bin.source == "binary"
    assert to_binary(from_csv) == (d / "partitions_ota.bin").read_bytes()
    assert [(p.label, p.type, p.subtype, p.offset, p.size, p.flags) for p in from_csv.partitions] == \
        [(p.label, p.type, p.subtype, p.offset, p.size, p.flags) for p in from_bin.partitions]


def test_bootloader_style_print(data_dir: Path):
    table = load_partition_table(data_dir / "partition-table" / "partitions_singleapp.bin")
    assert table.bootloader_lines() == [
        "## Label            Usage          Type ST Offset   Length",
        " 0 factory          factory app      00 00 00010000 00100000",
        " 1 rfdata           RF data          01 01 00110000 00040000",
        " 2 wifidata         WiFi data        01 02 00150000 00040000",
    ]


def test_csv_computed_offsets_suffixes_and_names():
    text = """
# Name,   Type, SubType, Offset,  Size, Flags
nvs,      data, nvs,     ,        0x4000,
otadata,  data, ota,     ,        8K,
phy_init, data, phy,     ,        4k,
ota_0,    app,  ota_0,   ,        1M,
ota_1,    0,    0x11,    ,        1M,
custom,   0x40, 0x07,    ,        64K,   readonly
keys,     data, nvs_keys,,        4K,    encrypted:readonly
blob,     data, ,        ,        4K
"""
    table = parse_partition_csv(text)
    got = [(p.label, p.type, p.subtype, p.offset, p.size, p.flags) for p in table.partitions]
    assert got == [
        ("nvs", 1, 2, 0x9000, 0x4000, 0),
        ("otadata", 1, 0, 0xD000, 0x2000, 0),
        ("phy_init", 1, 1, 0xF000, 0x1000, 0),
        ("ota_0", 0, 0x10, 0x10000, 0x100000, 0),  # app aligned up to 64 KB
        ("ota_1", 0, 0x11, 0x110000, 0x100000, 0),
        ("custom", 0x40, 7, 0x210000, 0x10000, 2),
        ("keys", 1, 4, 0x220000, 0x1000, 3),
        ("blob", 1, 6, 0x221000, 0x1000, 0),  # empty data subtype: undefined
    ]
    check_partition_table(table)
    assert table.valid, table.findings
    assert any(f.code == "custom-type" for f in table.findings)
    assert table.find("ota_1").offset == 0x110000 and table.find("custom").type_name == "0x40"
    assert [p.label for p in table.ota_apps] == ["ota_0", "ota_1"] and table.otadata.label == "otadata"


def test_csv_app_offset_rounds_up_after_data():
    table = parse_partition_csv("nvs,data,nvs,,0x6000\nphy,data,phy,,0x1000\nfactory,app,factory,,1M\n")
    assert [p.offset for p in table.partitions] == [0x9000, 0xF000, 0x10000]
    table = parse_partition_csv("nvs,data,nvs,,0x7000\nfactory,app,factory,,1M\n")
    assert table.partitions[1].offset == 0x10000  # nvs ends exactly at 0x10000
    table = parse_partition_csv("nvs,data,nvs,,0x8000\nfactory,app,factory,,1M\n")
    assert table.partitions[1].offset == 0x20000  # nvs ends at 0x11000 -> next 64 KB boundary


def test_csv_other_table_offset():
    table = parse_partition_csv("nvs,data,nvs,,0x6000\n", table_offset=0x10000)
    assert table.partitions[0].offset == 0x11000


@pytest.mark.parametrize(
    "text,needle",
    [
        ("nvs,data,nvs,0x9000,\n", "size field"),
        ("nvs,bogus,nvs,0x9000,0x1000\n", "unknown partition type"),
        ("nvs,data,bogus,0x9000,0x1000\n", "unknown subtype"),
        ("a,app,,0x10000,0x1000\n", "empty subtype"),
        ("nvs,data,nvs,zz,0x1000\n", "not a number"),
        ("nvs,data,nvs,0x9000,0x1000,shiny\n", "unknown flag"),
        ("averyveryverylongname,data,nvs,0x9000,0x1000\n", "longer than 16"),
        ("# only a comment\n", "no partitions"),
    ],
)
def test_csv_errors(text, needle):
    with pytest.raises(ImageError, match=needle):
        parse_partition_csv(text)


def test_csv_error_has_line_number():
    with pytest.raises(ImageError, match="line 3"):
        parse_partition_csv("# c\nnvs,data,nvs,,0x1000\nx,data,nope,,0x1000\n")


def test_checks_overlap_alignment_otadata():
    table = parse_partition_csv(
        "nvs,data,nvs,0x9000,0x6000\n"
        "phy,data,phy,0xe000,0x1000\n"  # overlaps nvs
        "ota_0,app,ota_0,0x18000,0x100000\n"  # not on 64 KB
        "ota_1,app,ota_1,0x200000,0x100000\n"
        "odd,data,0x99,0x300800,0x1000\n"  # not on 4 KB
    )
    codes = {f.code for f in check_partition_table(table)}
    assert {"overlap", "app-align", "align", "no-otadata"} <= codes
    assert not table.valid
    table = parse_partition_csv("otadata,data,ota,0xd000,0x1000\nota_0,app,ota_0,0x10000,0x100000\n")
    assert "otadata-size" in {f.code for f in check_partition_table(table)}


def test_check_bootloader_and_table_offset():
    table = parse_partition_csv("nvs,data,nvs,,0x6000\nfactory,app,factory,,1M\n")
    ok = check_partition_table(table, bootloader_size=0x6000)
    assert not [f for f in ok if f.level == "error"]
    table = parse_partition_csv("nvs,data,nvs,,0x6000\nfactory,app,factory,,1M\n")
    bad = check_partition_table(table, bootloader_size=0x7400)  # 0x1000 + 0x7400 > 0x8000
    assert any(f.code == "bootloader-size" and f.level == "error" for f in bad)
    table = parse_partition_csv("nvs,data,nvs,0x8000,0x6000\nfactory,app,factory,,1M\n")
    assert any(f.code == "below-table" for f in check_partition_table(table))
    table = parse_partition_csv("nvs,data,nvs,,0x6000\n", table_offset=0x8800)
    assert any(f.code == "table-offset" for f in check_partition_table(table))
    table = parse_partition_csv("factory,app,factory,,4M\n")
    assert any(f.code == "flash-size" for f in check_partition_table(table, flash_size=0x400000))


BOOT_LOG = """\
rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
I (29) boot: ESP-IDF v5.1.2 2nd stage bootloader
I (45) boot: Partition Table:
I (48) boot: ## Label            Usage          Type ST Offset   Length
I (55) boot:  0 nvs              WiFi data        01 02 00009000 00006000
I (63) boot:  1 phy_init         RF data          01 01 0000f000 00001000
\x1b[0;32mI (70) boot:  2 factory          factory app      00 00 00010000 00100000\x1b[0m
I (78) boot: End of partition table
I (82) esp_image: segment 0: paddr=00010020 vaddr=3f400020 size=0a0d4h ( 41172) map
"""


def test_boot_log_table():
    table = parse_partition_boot_log(BOOT_LOG)
    assert table.source == "boot-log"
    assert [(p.label, p.type, p.subtype, p.offset, p.size) for p in table.partitions] == [
        ("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
        ("factory", 0, 0, 0x10000, 0x100000)]
    # printing it again gives the bootloader's own rows
    rows = [line.split("boot: ", 1)[1].replace("\x1b[0m", "") for line in BOOT_LOG.splitlines()[3:7]]
    assert table.bootloader_lines() == rows
    assert parse_partition_table(BOOT_LOG.encode()).source == "boot-log"


def test_boot_log_last_table_wins_and_missing_table():
    two = BOOT_LOG + BOOT_LOG.replace("00100000", "00200000")
    table = parse_partition_boot_log(two)
    assert table.find("factory").size == 0x200000
    with pytest.raises(ImageError, match="no partition table"):
        parse_partition_boot_log("I (1) boot: hello\n")


def build_entry(label, t, s, off, size, flags=0):
    return struct.pack("<2sBBII16sI", b"\xaa\x50", t, s, off, size, label, flags)


def test_binary_layout_by_hand():
    body = build_entry(b"nvs", 1, 2, 0x9000, 0x6000) + build_entry(b"factory", 0, 0, 0x10000, 0x100000)
    data = body + b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(body).digest()
    data += b"\xff" * (0xC00 - len(data))
    table = parse_partition_binary(data)
    assert table.md5_ok and [p.label for p in table.partitions] == ["nvs", "factory"]
    # a damaged entry magic stops the table with an error
    bad = bytearray(data)
    bad[32] = 0x12
    table = parse_partition_binary(bytes(bad))
    assert [f.code for f in table.errors] == ["entry-magic"] and len(table.partitions) == 1


def test_table_inside_flash_dump():
    body = build_entry(b"factory", 0, 0, 0x10000, 0x100000)
    table_bytes = body + b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(body).digest()
    dump = b"\xff" * 0x1000 + b"\xe9" + b"\xff" * (0x7000 - 1) + table_bytes + b"\xff" * 0x1000
    table = parse_partition_binary(dump)
    assert table.md5_ok and table.partitions[0].label == "factory"


@pytest.mark.parametrize(
    "data,needle",
    [(b"", "empty"), (b"\xff" * 3072, "erased"), (b"\xe9\x05" + b"\0" * 100, "app"),
     (b"\x01\x02" + b"\0" * 100, "no partition entry magic")],
)
def test_binary_not_a_table(data, needle):
    with pytest.raises(ImageError, match=needle):
        parse_partition_binary(data)


def _run(capsys, *argv):
    rc = main(["image", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_partitions(data_dir: Path, fixtures_dir: Path, tmp_path: Path, capsys):
    d = data_dir / "partition-table"
    rc, out, _ = _run(capsys, "partitions", d / "partitions_ota.bin")
    assert rc == 0 and " 3 ota_0            OTA app          00 10 00010000 00180000" in out
    rc, out, _ = _run(capsys, "partitions", d / "partitions_ota-badmd5.bin")
    assert rc == 1 and "MD5 mismatch" in out
    rc, out, _ = _run(capsys, "partitions", d / "partitions_singleapp.bin", "--json")
    j = json.loads(out)
    assert rc == 0 and j["md5"]["present"] is False and len(j["partitions"]) == 3
    log = tmp_path / "boot.log"
    log.write_text(BOOT_LOG)
    rc, out, _ = _run(capsys, "partitions", log)
    assert rc == 0 and "boot-log" in out
    boot = tmp_path / "bootloader.bin"
    boot.write_bytes(b"\xe9" + b"\0" * 0x73FF)  # 0x7400 bytes at 0x1000 run past 0x8000
    rc, out, _ = _run(capsys, "partitions", d / "partitions_ota.bin", "--bootloader", boot)
    assert rc == 1 and "overlaps the partition table at 0x8000" in out
    rc, out, _ = _run(capsys, "partitions", d / "partitions_ota.bin", "--bootloader", boot,
                      "--table-offset", "0x9000")
    assert rc == 1 and "'nvs'" in out  # nvs at 0x9000 now sits in the table sector
    rc, out, _ = _run(capsys, "partitions", fixtures_dir / "esp32-coredump-app" / "esp32.bin")
    assert rc == 1 and "not a partition table" in out
    rc, _, err = _run(capsys, "partitions", tmp_path / "nope.csv")
    assert rc == 2 and "no such file" in err
    rc, _, err = _run(capsys, "partitions", d / "partitions_ota.bin", "--table-offset", "zz")
    assert rc == 2 and "not a number" in err
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("nvs,data,nvs,,\n")
    rc, out, _ = _run(capsys, "partitions", bad_csv)
    assert rc == 1 and "line 1" in out
