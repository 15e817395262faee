"""The binlog fixture (ESP32 app + bootloader, ESP-IDF v6.0-dev, from esp-idf-monitor's tests) decodes line for
line to what the reference monitor prints (`binlog_out.txt`), except where that file is not what the
device's text mode would have sent:

- line 180, the `E` line: esp-idf-monitor colours it with its own `ESC[1;31m` (bold red); ESP-IDF's text
  mode sends `ESC[0;31m` (LOG_COLOR_E, esp_log_color.h). The text after the colour code is the same.
- lines 180-181: that record's format (`Assert failed in 0x%08x, %s:%d (%s)\\r\\n`) ends with a line break,
  so text mode prints `...)\\r\\n` and then its colour reset and its own `\\n` (log_format_text.c): line 181
  is `ESC[0m`. The reference moves the reset to the end of line 180 and leaves line 181 empty.

Without colour codes the two agree on every line; the test prints both agreements.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import small_fixture

from espwatch.binlog import BinlogDecoder, ElfStrings, decode_bytes, open_decoder

FIX = small_fixture("esp32-binlog-app")
ANSI = re.compile(rb"\x1b\[[0-9;]*m")


def decoded_lines(decoder: BinlogDecoder | None = None) -> list[bytes]:
    dec = decoder or open_decoder(FIX / "log.elf", FIX / "bootloader.elf")
    out = decode_bytes((FIX / "binlog").read_bytes(), dec)
    return [line.rstrip(b"\r") for line in out.split(b"\n")[:-1]]


def expected_lines() -> list[bytes]:
    return (FIX / "binlog_out.txt").read_bytes().split(b"\n")[:-1]


def test_fixture_line_for_line() -> None:
    ours, ref = decoded_lines(), expected_lines()
    assert len(ours) == len(ref) == 181
    same = [a == b for a, b in zip(ours, ref, strict=True)]
    plain = [ANSI.sub(b"", a) == ANSI.sub(b"", b) for a, b in zip(ours, ref, strict=True)]
    print(f"\nbinlog fixture: {sum(same)}/{len(ref)} lines identical to binlog_out.txt, "
          f"{sum(plain)}/{len(ref)} identical without colour codes")
    assert all(plain)
    differ = [i + 1 for i, ok in enumerate(same) if not ok]
    assert differ == [180, 181]
    assert ours[179].startswith(b"\x1b[0;31mE (389) assert: Assert failed in 0x400d3bcf, ")
    assert ref[179].startswith(b"\x1b[1;31mE (389) assert: Assert failed in 0x400d3bcf, ")
    assert ours[180] == b"\x1b[0m" and ref[180] == b""


def test_fixture_stats_and_text_kept() -> None:
    dec = open_decoder(FIX / "log.elf", FIX / "bootloader.elf")
    out = decode_bytes((FIX / "binlog").read_bytes(), dec)
    assert dec.stats.records == 141 and dec.stats.undecoded == 0 and dec.stats.junk_bytes == 0
    assert dict(dec.stats.by_source) == {"bootloader": 22, "app": 119}
    raw = (FIX / "binlog").read_bytes()
    rom = raw[: raw.index(b"entry 0x4008069c\r\n") + 18]
    assert out.startswith(rom)  # the ROM's text lines pass byte for byte


def test_elfs_given_the_wrong_way_round_are_swapped() -> None:
    dec = open_decoder(FIX / "bootloader.elf", FIX / "log.elf")
    assert dec.notes and "bootloader.elf is a bootloader ELF" in dec.notes[0]
    assert decoded_lines(dec) == decoded_lines()


def test_wrong_elf_marks_every_record_and_keeps_the_text() -> None:
    # What made the reference monitor print garbled lines and die with a TypeError: app records read
    # with the bootloader's ELF. Here each becomes one marked line.
    dec = BinlogDecoder(ElfStrings(FIX / "bootloader.elf"), ElfStrings(FIX / "log.elf"))
    lines = decoded_lines(dec)
    assert dec.stats.records == 0 and dec.stats.undecoded == 141
    assert len(lines) == 12 + 141
    assert lines[0] == b"ets Jul 29 2019 12:21:46"
    assert all(line.startswith(b"[espwatch] binlog: ") and b"(wrong ELF" in line for line in lines[12:])


def test_no_bootloader_elf() -> None:
    dec = BinlogDecoder(ElfStrings(FIX / "log.elf"))
    lines = decoded_lines(dec)
    assert dec.stats.records == 119 and dec.stats.undecoded == 22
    assert lines[12] == (b"[espwatch] binlog: bootloader record I (31) not decoded: no bootloader ELF to look "
                         b"up its format (give --bootloader-elf BOOTLOADER.elf)")
    assert lines[-2].startswith(b"\x1b[0;31mE (389) assert: ")


def test_bootloader_found_beside_the_app_elf(tmp_path) -> None:
    (tmp_path / "bootloader").mkdir()
    (tmp_path / "app.elf").write_bytes((FIX / "log.elf").read_bytes())
    (tmp_path / "bootloader" / "bootloader.elf").write_bytes((FIX / "bootloader.elf").read_bytes())
    dec = open_decoder(tmp_path / "app.elf")
    assert dec.bootloader is not None and dec.bootloader.path.name == "bootloader.elf"
    assert decoded_lines(dec) == decoded_lines()


def test_vendored_elfs_hold_the_original_sections(fixtures_dir) -> None:
    """The stripped copies in tests/data read the same as the originals in ../shared."""
    from elftools.elf.elffile import ELFFile

    for name in ("log.elf", "bootloader.elf"):
        def sections(path):
            with open(path, "rb") as fh:
                elf = ELFFile(fh)
                return {s.name: (s["sh_addr"], s.data()) for s in elf.iter_sections()
                        if s["sh_type"] == "SHT_PROGBITS" and not s.name.startswith(".debug")}

        assert sections(FIX / name) == sections(fixtures_dir / "esp32-binlog-app" / name)
    assert (FIX / "binlog").read_bytes() == (fixtures_dir / "esp32-binlog-app" / "binlog").read_bytes()


@pytest.mark.parametrize("name", ["log.elf", "bootloader.elf"])
def test_binlog_elf_detection(name: str) -> None:
    elf = ElfStrings(FIX / name)
    assert elf.has_binlog
    assert elf.role == ("app" if name == "log.elf" else "bootloader")


def test_section_headers_read_like_pyelftools(data_dir) -> None:
    """ElfStrings reads section headers itself (no pyelftools at start-up): the same table, 32 and 64 bits."""
    import os
    import sys

    from elftools.elf.elffile import ELFFile

    from espwatch.binlog.elfstrings import _section_headers

    paths = [FIX / "log.elf", FIX / "bootloader.elf", *sorted((data_dir / "rv32-inline-demo").glob("*.elf")),
             Path(os.path.realpath(sys.executable))]
    for path in paths:
        with open(path, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
            fh.seek(0)
            ours = _section_headers(fh, path)
            fh.seek(0)
            theirs = [(s.name, s.header["sh_type"], s["sh_flags"], s["sh_addr"], s["sh_offset"], s["sh_size"])
                      for s in ELFFile(fh).iter_sections()]
        types = {"SHT_NULL": 0, "SHT_PROGBITS": 1, "SHT_SYMTAB": 2, "SHT_STRTAB": 3, "SHT_RELA": 4,
                 "SHT_NOBITS": 8, "SHT_NOTE": 7}
        assert [(n, f, a, o, s) for n, _, f, a, o, s in ours] == [(n, f, a, o, s) for n, _, f, a, o, s in theirs]
        assert [t for _, t, *_ in ours if t in types.values()] == [types[t] for _, t, *_ in theirs if t in types]
