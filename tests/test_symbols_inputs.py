"""Bad ELF input, the on-disk index cache, background loading and the `decode` verb."""

from __future__ import annotations

import shutil
import struct
import subprocess
import threading
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.errors import ElfError
from espwatch.symbols import SymbolIndex, addr2line_lines


@pytest.fixture()
def demo_elf(data_dir: Path) -> Path:
    return data_dir / "rv32-inline-demo" / "demo.elf"


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(path))
    return path


def _minimal_elf(machine: int, elfclass: int = 1) -> bytes:
    """An ELF header with no sections (e_machine chosen by the caller)."""
    if elfclass == 1:
        return b"\x7fELF" + bytes([1, 1, 1]) + bytes(9) + struct.pack(
            "<HHIIIIIHHHHHH", 2, machine, 1, 0, 0, 0, 0, 52, 0, 0, 40, 0, 0)
    return b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 2, machine, 1, 0, 0, 0, 0, 64, 0, 0, 64, 0, 0)


# -- bad input ------------------------------------------------------------------------------------
def test_not_an_elf(tmp_path: Path) -> None:
    path = tmp_path / "app.bin"
    path.write_bytes(b"\xe9\x03\x02\x20" + bytes(100))
    with pytest.raises(ElfError, match="not an ELF file"):
        SymbolIndex.build(path)


def test_truncated_elf(tmp_path: Path, fixtures_dir: Path) -> None:
    data = (fixtures_dir / "esp32-coredump-app" / "esp32.elf").read_bytes()
    for size in (30, 4096, len(data) // 2, len(data) - 10):
        path = tmp_path / f"cut{size}.elf"
        path.write_bytes(data[:size])
        with pytest.raises(ElfError, match="truncated"):
            SymbolIndex.build(path)


def test_wrong_architecture(tmp_path: Path) -> None:
    path = tmp_path / "x86.elf"
    path.write_bytes(_minimal_elf(62, elfclass=2))  # EM_X86_64
    with pytest.raises(ElfError, match=r"EM_X86_64.*not an ESP32"):
        SymbolIndex.build(path)
    if Path("/bin/ls").is_file():
        with pytest.raises(ElfError, match="not an ESP32-family"):
            SymbolIndex.build("/bin/ls")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ElfError, match="cannot"):
        SymbolIndex.load(tmp_path / "nope.elf", cache_dir=tmp_path)


def test_no_symbols_no_dwarf_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "empty.elf"
    path.write_bytes(_minimal_elf(94))  # EM_XTENSA, nothing inside
    with pytest.raises(ElfError, match="stripped"):
        SymbolIndex.build(path)


def test_stripped_with_objcopy(tmp_path: Path, demo_elf: Path) -> None:
    objcopy = "riscv64-unknown-elf-objcopy"
    if shutil.which(objcopy) is None:
        pytest.skip(f"{objcopy} is not installed")
    out = tmp_path / "stripped.elf"
    subprocess.run([objcopy, "--strip-all", str(demo_elf), str(out)], check=True)
    with pytest.raises(ElfError, match="stripped"):
        SymbolIndex.build(out)
    nodebug = tmp_path / "nodebug.elf"
    subprocess.run([objcopy, "--strip-debug", str(demo_elf), str(nodebug)], check=True)
    index = SymbolIndex.build(nodebug)
    assert not index.has_dwarf
    # checked against riscv64-unknown-elf-addr2line 2.40: a global symbol after other symbols gets no file
    assert addr2line_lines(index, [0x4200006E]) == ["0x4200006e: crash_here at ??:?"]


# -- cache ----------------------------------------------------------------------------------------
def test_second_load_comes_from_cache(cache_dir: Path, demo_elf: Path) -> None:
    first = SymbolIndex.load(demo_elf)
    assert not first.from_cache
    files = list(cache_dir.glob("*.idx"))
    assert [f.name for f in files] == [f"{first.sha256}.idx"]
    second = SymbolIndex.load(demo_elf)
    assert second.from_cache
    addrs = [0x420000AD, 0x42000248, 0x4200002C, 0x0, 0x3FFB0000]
    assert addr2line_lines(second, addrs) == addr2line_lines(first, addrs)
    assert second.strings == first.strings


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "version"])
def test_corrupt_cache_is_rebuilt(cache_dir: Path, demo_elf: Path, damage: str) -> None:
    index = SymbolIndex.load(demo_elf)
    cfile = cache_dir / f"{index.sha256}.idx"
    blob = bytearray(cfile.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0xFF
    elif damage == "truncate":
        del blob[len(blob) // 3:]
    elif damage == "garbage":
        blob = bytearray(b"hello")
    else:
        blob[16:20] = struct.pack("<I", 999)
    cfile.write_bytes(bytes(blob))
    again = SymbolIndex.load(demo_elf)
    assert not again.from_cache  # rebuilt, never trusted
    assert again.lookup(0x420000AD)[0].function == "ring_next"
    assert SymbolIndex.load(demo_elf).from_cache  # and the rebuilt file is good


def test_cache_keyed_by_content(cache_dir: Path, demo_elf: Path, tmp_path: Path, data_dir: Path) -> None:
    copy = tmp_path / "app.elf"
    shutil.copy(demo_elf, copy)
    SymbolIndex.load(copy)
    shutil.copy(data_dir / "rv32-inline-demo" / "demo-dwarf4.elf", copy)  # same path, new content
    index = SymbolIndex.load(copy)
    assert not index.from_cache
    assert len(list(cache_dir.glob("*.idx"))) == 2


def test_load_async(cache_dir: Path, demo_elf: Path) -> None:
    done = threading.Event()
    seen = []

    def on_ready(fut) -> None:
        seen.append(fut.result())
        done.set()

    fut = SymbolIndex.load_async(demo_elf, on_ready)
    assert done.wait(30)
    assert fut.result() is seen[0]
    assert seen[0].lookup(0x4200006E)[0].function == "crash_here"
    bad = SymbolIndex.load_async(cache_dir / "missing.elf")
    with pytest.raises(ElfError):
        bad.result(timeout=30)


# -- the decode verb ------------------------------------------------------------------------------
def test_cli_addresses(cache_dir: Path, demo_elf: Path, capsys) -> None:
    assert main(["decode", "--elf", str(demo_elf), "0x420000ad", "0x4200006e:0x3fc80000"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "0x420000ad: ring_next at /espwatch/rv32-inline-demo/src/ring.h:17"
    assert out[3] == " (inlined by) pump at /espwatch/rv32-inline-demo/src/main.c:41"
    assert out[4] == "0x4200006e: crash_here at /espwatch/rv32-inline-demo/src/main.c:15"


def test_cli_stdin_addresses(cache_dir: Path, demo_elf: Path, data_dir: Path, capsys, monkeypatch) -> None:
    import io

    folder = data_dir / "rv32-inline-demo"
    monkeypatch.setattr("sys.stdin", io.StringIO((folder / "addrs.txt").read_text()))
    assert main(["decode", "--elf", str(demo_elf)]) == 0
    assert capsys.readouterr().out == (folder / "addr2line.txt").read_text()


def test_cli_log(cache_dir: Path, demo_elf: Path, tmp_path: Path, capsys) -> None:
    log = tmp_path / "crash.log"
    log.write_text(
        "I (10) boot: hello 0x3fc80010\n"
        "Guru Meditation Error: Core  0 panic'ed (Store access fault). Exception was unhandled.\n"
        "MEPC    : 0x4200006e  RA      : 0x42000100  SP      : 0x3fc8ff00  GP      : 0x3fc80000\n"
        "MTVAL   : 0x00000000\n"
    )
    assert main(["decode", "--elf", str(demo_elf), str(log)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "I (10) boot: hello 0x3fc80010"
    assert out[2].startswith("MEPC")
    assert out[3] == "  0x4200006e: crash_here at /espwatch/rv32-inline-demo/src/main.c:15"
    assert out[4].startswith("  0x420000ff: main at ")  # RA looked up minus 1
    assert out[5] == "MTVAL   : 0x00000000"
    assert len(out) == 6


def test_cli_errors(cache_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["decode", "0x400d1234"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("espwatch: no ELF file") and err.count("\n") == 1
    notelf = tmp_path / "x.elf"
    notelf.write_text("hello")
    assert main(["decode", "--elf", str(notelf), "0x1"]) == 2
    assert "not an ELF file" in capsys.readouterr().err
    assert main(["decode", "--elf", str(notelf), "no-such-log.txt"]) == 2
    assert "not an address and not a file" in capsys.readouterr().err


def test_cli_finds_esp_idf_elf(cache_dir: Path, demo_elf: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    build = tmp_path / "proj" / "build"
    build.mkdir(parents=True)
    shutil.copy(demo_elf, build / "app.elf")
    (build / "project_description.json").write_text('{"app_elf": "app.elf", "build_dir": "/nonexistent"}')
    monkeypatch.chdir(tmp_path / "proj")
    assert main(["decode", "0x4200006e"]) == 0
    assert "crash_here" in capsys.readouterr().out


def test_cli_log_sha_mismatch_warns(cache_dir: Path, demo_elf: Path, tmp_path: Path, capsys) -> None:
    from espwatch.symbols import elf_sha256

    log = tmp_path / "boot.log"
    good = elf_sha256(demo_elf)[:16]
    log.write_text(f"I (427) cpu_start: ELF file SHA256:  {good}...\n")
    assert main(["decode", "--elf", str(demo_elf), str(log)]) == 0
    assert "another build" not in capsys.readouterr().err
    bad = ("0" if good[0] != "0" else "1") + good[1:]
    log.write_text(f"I (427) app_init: ELF file SHA256:  {bad}...\n")
    assert main(["decode", "--elf", str(demo_elf), str(log)]) == 0
    captured = capsys.readouterr()
    assert "was printed by another build" in captured.err and bad in captured.err
    assert captured.out == f"I (427) app_init: ELF file SHA256:  {bad}...\n"


@pytest.mark.parametrize(("line", "arch"), [
    ("ESP-ROM:esp32c3-api1-20210207", "riscv"),
    ("I (29) boot.esp32s3: Boot SPI Speed : 80MHz", "xtensa"),
    ("I (31) boot.esp32: SPI Speed      : 40MHz", "xtensa"),
    ("ESP-ROM:esp32p4-eco2-20240710", "riscv"),
    ("MEPC    : 0x42001234  RA      : 0x42005678  SP      : 0x3fc8e000  GP      : 0x3fc8b400", "riscv"),
    ("PC      : 0x400d1234  PS      : 0x00060330  A0      : 0x800d5678  A1      : 0x3ffb5e30", None),
    ("EXCCAUSE: 0x0000001c  EXCVADDR: 0x00000000  LBEG    : 0x4000c2e0", "xtensa"),
    ("I (100) app: the esp32 says hello", None),
])
def test_log_arch(line: str, arch: str | None) -> None:
    from espwatch.log_decode import log_arch

    seen = log_arch(line)
    assert (seen[0] if seen else None) == arch


def test_cli_log_of_another_architecture_warns(cache_dir: Path, demo_elf: Path, data_dir: Path, tmp_path: Path,
                                              capsys) -> None:
    """A log from an Xtensa chip decoded with a RISC-V ELF (and the other way round) says so once; a log of
    the ELF's own architecture says nothing."""
    log = tmp_path / "s3.log"
    log.write_text("ESP-ROM:esp32s3-20210327\nI (29) boot.esp32s3: Boot SPI Speed : 80MHz\n"
                   "Backtrace: 0x4200002c:0x3fc8e000\n")
    assert main(["decode", "--elf", str(demo_elf), str(log)]) == 0  # demo.elf: RISC-V
    err = capsys.readouterr().err
    assert err.count("comes from an ESP32-S3 chip (Xtensa) but the ELF is for RISC-V") == 1
    xtensa = data_dir / "lx106-inline-demo" / "demo.elf"
    assert main(["decode", "--elf", str(xtensa), str(log)]) == 0
    assert "comes from" not in capsys.readouterr().err
    log.write_text("ESP-ROM:esp32c3-api1-20210207\n")
    assert main(["decode", "--elf", str(xtensa), str(log)]) == 0
    assert "comes from an ESP32-C3 chip (RISC-V) but the ELF is for Xtensa" in capsys.readouterr().err
    assert main(["decode", "--elf", str(demo_elf), str(log)]) == 0
    assert "comes from" not in capsys.readouterr().err


def test_cache_is_pruned(tmp_path: Path, demo_elf: Path, monkeypatch) -> None:
    import espwatch.symbols.cache as index_module

    monkeypatch.setattr(index_module, "CACHE_KEEP", 2)
    for i in range(4):
        copy = tmp_path / f"app{i}.elf"
        copy.write_bytes(demo_elf.read_bytes() + bytes([i]))  # trailing byte: new SHA, same ELF
        SymbolIndex.load(copy, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.idx"))) == 2


def test_damaged_tables_never_raise_anything_else(tmp_path: Path, demo_elf: Path) -> None:
    """Random byte damage in the DWARF and symbol sections: an answer or a ElfError, nothing else."""
    import random

    from elftools.elf.elffile import ELFFile

    data = demo_elf.read_bytes()
    with open(demo_elf, "rb") as f:
        spans = {s.name: (s["sh_offset"], s["sh_size"]) for s in ELFFile(f).iter_sections()}
    names = [n for n in (".debug_info", ".debug_line", ".debug_abbrev", ".debug_rnglists", ".symtab",
                         ".strtab", ".debug_str") if n in spans]
    rng = random.Random(11)
    path = tmp_path / "damaged.elf"
    outcomes = {"ok": 0, "error": 0}
    for _ in range(80):
        buf = bytearray(data)
        off, size = spans[rng.choice(names)]
        for _ in range(rng.randint(1, 8)):
            buf[off + rng.randrange(size)] = rng.randrange(256)
        path.write_bytes(bytes(buf))
        try:
            index = SymbolIndex.build(path)
            assert len(addr2line_lines(index, [0x4200006E, 0x420000AD, 0x3FC80000, 0])) == 4
            outcomes["ok"] += 1
        except ElfError as exc:
            assert str(exc)
            outcomes["error"] += 1
    assert outcomes["ok"] > 0
