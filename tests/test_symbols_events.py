"""Which addresses a report carries, frames on events, log annotation, ELF discovery and SHA checks."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from espwatch.events import Event
from espwatch.symbols import (
    SymbolIndex,
    annotate_log,
    decode_event,
    elf_sha256,
    extract_addresses,
    extract_line,
    find_elf,
    parse_elf_sha,
    sha_matches,
    xtensa_return_address,
)


def _blocks(text: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    last = 0
    for line in text.splitlines():
        if line.startswith(" (inlined by)"):
            out[last].append(line)
        else:
            last = int(line.split(":")[0], 16)
            out[last] = [line]
    return out


@pytest.fixture(scope="module")
def esp32(fixtures_dir: Path, tmp_path_factory) -> tuple[SymbolIndex, dict[int, list[str]]]:
    folder = fixtures_dir / "esp32-coredump-app"
    index = SymbolIndex.load(folder / "esp32.elf", cache_dir=tmp_path_factory.mktemp("c"))
    return index, _blocks((folder / "addr2line.txt").read_text())


@pytest.fixture(scope="module")
def c3(fixtures_dir: Path, tmp_path_factory) -> tuple[SymbolIndex, dict[int, list[str]]]:
    folder = fixtures_dir / "esp32c3-coredump-app"
    index = SymbolIndex.load(folder / "esp32c3.elf", cache_dir=tmp_path_factory.mktemp("c"))
    return index, _blocks((folder / "addr2line.txt").read_text())


def _first(text_line: str) -> tuple[str | None, str | None, int | None]:
    """(function, file, line) of an addr2line line."""
    body = text_line.split(": ", 1)[1] if text_line.startswith("0x") else text_line.split(") ", 1)[1]
    func, where = body.rsplit(" at ", 1)
    where = where.split(" (discriminator")[0]
    file, line = where.rsplit(":", 1)
    return (None if func == "??" else func, None if file == "??" else file, int(line) if line.isdigit() else None)


# -- address rules --------------------------------------------------------------------------------
def test_xtensa_window_bits() -> None:
    assert xtensa_return_address(0x800D66D7) == 0x400D66D4
    assert xtensa_return_address(0xC00D66D7) == 0x400D66D4
    assert xtensa_return_address(0x400D66D7) == 0x400D66D4


def test_backtrace_line_rules() -> None:
    line = "Backtrace: 0x400d66b8:0x3ffb4f50 0x800d66d7:0x3ffb4f70 0x00000000:0x00000000 |<-CORRUPTED"
    got = extract_line(line, "xtensa")
    assert [(c.printed, c.lookup, c.source) for c in got] == [
        (0x400D66B8, 0x400D66B8, "backtrace"),  # already processed by the firmware
        (0x800D66D7, 0x400D66D4, "backtrace"),  # raw return address: window bits, minus 3
    ]


def test_register_rules() -> None:
    xt = "PC      : 0x400d1f70  PS      : 0x00060530  A0      : 0x8011bcc1  A1      : 0x3ffb66c0"
    assert [(c.source, c.lookup) for c in extract_line(xt, "xtensa")] == [
        ("register:PC", 0x400D1F70), ("register:A0", 0x4011BCBE)]
    rv = "MEPC    : 0x42009351  RA      : 0x4038368e  SP      : 0x3fc8e4a0  GP      : 0x3fc8b400"
    assert [(c.source, c.lookup) for c in extract_line(rv, "riscv")] == [
        ("register:MEPC", 0x42009351), ("register:RA", 0x4038368D)]
    # EXCVADDR / MTVAL only when they point into code
    assert extract_line("EXCVADDR: 0x00000000  LBEG    : 0x4000c2e0", "xtensa", lambda a: False) == []
    assert [c.lookup for c in extract_line("MTVAL   : 0x42001234", "riscv", lambda a: True)] == [0x42001234]


def test_text_addresses_need_code(esp32) -> None:
    index, _ = esp32
    line = "abort() was called at PC 0x400d66b8 on core 0; buf=0x3ffb0000 f=0x400d66d3"
    got = extract_line(line, "xtensa", index.is_code)
    assert [(c.lookup, c.source) for c in got] == [(0x400D66B8, "abort")]
    got = extract_line("assert failed: 0x400d66d3 x=0x3ffb0000", "xtensa", index.is_code)
    assert [(c.lookup, c.source) for c in got] == [(0x400D66D3, "text")]
    # stack memory dumps are data, not a backtrace
    assert extract_line("3fc8e4a0: 0x42009351 0x3fc8e4c0 0x00000000 0x4038368e", "riscv", index.is_code) == []


# -- frames on events -----------------------------------------------------------------------------
def test_decode_event_xtensa_panic(esp32) -> None:
    index, expected = esp32
    event = Event(
        kind="panic", line=10, end_line=20, severity="fatal", code="panic",
        text="Guru Meditation Error: Core  0 panic'ed (StoreProhibited). Exception was unhandled.",
        block=[
            "Core  0 register dump:",
            "PC      : 0x400d66b9  PS      : 0x00060030  A0      : 0x800d66d6  A1      : 0x3ffb4f50  ",
            "EXCVADDR: 0x00000000  LBEG    : 0x00000000  LEND    : 0x00000000  LCOUNT  : 0x00000000  ",
            "",
            "Backtrace: 0x400d66b8:0x3ffb4f50 0x400d66d3:0x3ffb4f70 0x400e40a2:0x3ffb4f90 "
            "0x4008590f:0x3ffb4fc0 0x40000400:0x3ffb4fe0",
        ],
    )
    frames = decode_event(event, index)
    addrs = [f.addr for f in frames]
    # backtrace first (call order), then the register PC; A0 (0x400d66d3) is the same call site
    assert addrs[0] == 0x400D66B8
    assert 0x40000400 in addrs and addrs[-1] == 0x400D66B9
    rom = frames[addrs.index(0x40000400)]
    assert (rom.function, rom.file, rom.line) == (None, None, None)
    for f in frames:
        if f.addr == 0x40000400:
            continue
        chain = [fr for fr in frames if fr.addr == f.addr]
        lines = expected[f.addr]
        assert [(fr.function, fr.file, fr.line) for fr in chain] == [_first(t) for t in lines]
        assert [fr.inlined for fr in chain] == [True] * (len(lines) - 1) + [False]
    assert frames[0].function == "fail_once"
    assert [f.function for f in frames if not f.inlined][:3] == ["fail_once", "app_main", "main_task"]


def test_decode_event_riscv_registers(c3) -> None:
    index, expected = c3
    event = Event(
        kind="panic", line=1, end_line=5, severity="fatal", code="panic",
        text="Guru Meditation Error: Core  0 panic'ed (Store access fault). Exception was unhandled.",
        block=["MEPC    : 0x42009351  RA      : 0x4038368e  SP      : 0x3fc8e4a0  GP      : 0x3fc8b400  ",
               "MTVAL   : 0x00000000"],
    )
    frames = decode_event(event, index)
    assert frames[0].addr == 0x42009351
    assert (frames[0].function, frames[0].line) == _first(expected[0x42009351][0])[::2]
    ra = [f for f in frames if f.addr == 0x4038368D]
    assert [(f.function, f.file, f.line) for f in ra] == [_first(t) for t in expected[0x4038368D]]


def test_decode_event_without_addresses(c3) -> None:
    index, _ = c3
    event = Event(kind="brownout", line=1, end_line=1, severity="error", code="x",
                  text="Brownout detector was triggered")
    assert decode_event(event, index) == []


def test_annotate_log(esp32) -> None:
    index, expected = esp32
    lines = ["I (31) boot: ESP-IDF v5.1", "Backtrace: 0x400d66b8:0x3ffb4f50 0x40083ff1:0x3ffb4f70", "done"]
    out = list(annotate_log(lines, index))
    want = [lines[0], lines[1], "  " + expected[0x400D66B8][0]]
    want += ["  " + expected[0x40083FF1][0]] + ["  " + t.lstrip() for t in expected[0x40083FF1][1:]]
    assert out == [*want, "done"]
    assert any(line.startswith("  (inlined by) esp_cpu_wait_for_intr") for line in out)


def test_extract_addresses_dedup() -> None:
    lines = ["PC      : 0x400d66b9  A0      : 0x800d66d6", "Backtrace: 0x400d66b8:0x3ffb4f50 0x400d66d3:0x3ffb4f70"]
    got = extract_addresses(lines, "xtensa")
    assert [c.lookup for c in got] == [0x400D66B8, 0x400D66D3, 0x400D66B9]


# -- ELF discovery and SHA ------------------------------------------------------------------------
def test_sha(data_dir: Path) -> None:
    elf = data_dir / "rv32-inline-demo" / "demo.elf"
    digest = elf_sha256(elf)
    assert len(digest) == 64 and digest == SymbolIndex.build(elf).sha256
    assert sha_matches(digest, digest[:16])
    assert sha_matches(digest, digest.upper())
    assert sha_matches(digest, digest[:9] + "...")
    assert not sha_matches(digest, ("0" if digest[0] != "0" else "1") + digest[1:16])
    assert not sha_matches(digest, "")
    assert parse_elf_sha("I (427) cpu_start: ELF file SHA256:  a8734e4652ff8e28...") == "a8734e4652ff8e28"
    assert parse_elf_sha("I (462) app_init: ELF file SHA256:  0810d7fd3...") == "0810d7fd3"
    assert parse_elf_sha("ELF file SHA256: " + digest) == digest
    assert parse_elf_sha("I (1) boot: no digest here") is None


def test_find_elf(tmp_path: Path) -> None:
    assert find_elf(tmp_path) is None
    # ESP-IDF: app_elf relative to the build folder, found from a subfolder too
    idf = tmp_path / "idf"
    (idf / "build").mkdir(parents=True)
    (idf / "main").mkdir()
    (idf / "build" / "hello.elf").write_bytes(b"\x7fELF")
    (idf / "build" / "project_description.json").write_text(json.dumps({"app_elf": "hello.elf"}))
    assert find_elf(idf / "main") == (idf / "build" / "hello.elf").resolve()
    # PlatformIO: newest env wins
    pio = tmp_path / "pio"
    for env, age in (("esp32dev", 100), ("esp32-c3", 0)):
        (pio / ".pio" / "build" / env).mkdir(parents=True)
        fw = pio / ".pio" / "build" / env / "firmware.elf"
        fw.write_bytes(b"\x7fELF")
        os.utime(fw, (time.time() - age, time.time() - age))
    assert find_elf(pio) == (pio / ".pio" / "build" / "esp32-c3" / "firmware.elf").resolve()
    # Arduino CLI
    ino = tmp_path / "Blink"
    (ino / "build" / "esp32.esp32.esp32").mkdir(parents=True)
    (ino / "build" / "esp32.esp32.esp32" / "Blink.ino.elf").write_bytes(b"\x7fELF")
    assert find_elf(ino) == (ino / "build" / "esp32.esp32.esp32" / "Blink.ino.elf").resolve()
