"""The decoder against GNU addr2line's answers stored beside every fixture ELF (and live, when installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import fixture_folder

from espwatch.symbols import SymbolIndex, addr2line_lines, addr2line_text

FIXTURE_DIRS = [
    "esp32-app-template", "esp32-binlog-app", "esp32-coredump-app", "esp32-coredump-bin-app",
    "esp32c3-coredump-app", "esp32c3-coredump-bin-app", "esp32c6-coredump-app", "esp32p4-coredump-app",
    "lx106-inline-demo", "rv32-inline-demo",
]
ADDR2LINE = {"xtensa": "xtensa-lx106-elf-addr2line", "riscv": "riscv64-unknown-elf-addr2line"}


def _runs(folder: Path) -> list[tuple[str, str]]:
    """(ELF, expected output file) pairs from addr2line.cmd."""
    out = []
    for line in (folder / "addr2line.cmd").read_text().splitlines():
        parts = line.split()
        if line.startswith("#") or "-e" not in parts:
            continue
        out.append((parts[parts.index("-e") + 1], parts[-1]))
    return out


def _blocks(text: str) -> list[str]:
    blocks: list[str] = []
    for line in text.splitlines():
        if line.startswith(" (inlined by)"):
            blocks[-1] += "\n" + line
        else:
            blocks.append(line)
    return blocks


@pytest.fixture(scope="session")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, SymbolIndex]:
    """One index per fixture ELF found, built once for the whole session (through a private cache dir)."""
    cache = tmp_path_factory.mktemp("symcache")
    out = {}
    for name in FIXTURE_DIRS:
        folder = fixture_folder(name)
        if not (folder / "addrs.txt").exists():
            continue
        for elf, _ in _runs(folder):
            out[folder / elf] = SymbolIndex.load(folder / elf, cache_dir=cache)
    return out


CASES = [
    (d, elf, out)
    for d in FIXTURE_DIRS
    if (fixture_folder(d) / "addr2line.cmd").exists()
    for elf, out in _runs(fixture_folder(d))
] or [("esp32-app-template", "esp32-app-template.elf", "addr2line.txt")]


@pytest.mark.parametrize(("name", "elf", "expected_file"), CASES, ids=[f"{d}/{e}" for d, e, _ in CASES])
def test_matches_stored_addr2line(indexes, name: str, elf: str, expected_file: str) -> None:
    folder = fixture_folder(name)
    if not (folder / "addrs.txt").exists():
        pytest.skip(f"{name} not in the fixture set")
    addrs = [int(tok, 16) for tok in (folder / "addrs.txt").read_text().split()]
    expected = _blocks((folder / expected_file).read_text())
    got = addr2line_lines(indexes[folder / elf], addrs)
    assert len(expected) == len(addrs)
    agree = sum(g == e for g, e in zip(got, expected, strict=True))
    print(f"{name}/{elf}: {agree}/{len(addrs)}")
    mismatches = [(e, g) for g, e in zip(got, expected, strict=True) if g != e]
    assert not mismatches, f"{len(mismatches)} differences, first: {mismatches[0]}"


@pytest.mark.parametrize(("name", "elf", "expected_file"), CASES, ids=[f"{d}/{e}" for d, e, _ in CASES])
def test_matches_stored_addr2line_with_the_portable_demangler(indexes, monkeypatch, name: str, elf: str,
                                                               expected_file: str) -> None:
    """The same with only the pure-Python demangler (what macOS and Windows use): still identical."""
    import espwatch.symbols.demangle as dm

    folder = fixture_folder(name)
    if not (folder / "addrs.txt").exists():
        pytest.skip(f"{name} not in the fixture set")
    pure = tuple(b for b in dm.BACKENDS if b[0] == "demangle")
    if not pure:
        pytest.skip("the demangle package is not installed")
    index = indexes[folder / elf]
    original = dm.demangle
    monkeypatch.setattr("espwatch.symbols.format.demangle", lambda n: original(n, pure))
    addrs = [int(tok, 16) for tok in (folder / "addrs.txt").read_text().split()]
    got = addr2line_lines(index, addrs)
    assert got == _blocks((folder / expected_file).read_text())


def test_inline_chain_and_frames(indexes) -> None:
    """The 3-deep inline chain of the RISC-V demo, as hits and as Frame objects."""
    from espwatch.symbols import frames_for

    index = indexes[fixture_folder("rv32-inline-demo") / "demo.elf"]
    hits = index.lookup(0x420000AD)
    assert [h.function for h in hits] == ["ring_next", "ring_full", "ring_push", "pump"]
    frames = frames_for(0x420000AD, hits)
    assert [f.inlined for f in frames] == [True, True, True, False]
    assert frames[-1].file.endswith("src/main.c") and frames[-1].line == 41
    cxx = frames_for(0x42000248, index.lookup(0x42000248))
    assert cxx[0].function == "espwatch_demo::dsp::MovingAverage<int, 8u>::push(int)"


def _live(arch: str) -> str:
    tool = ADDR2LINE[arch]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    return tool


@pytest.mark.parametrize("name", ["esp32-coredump-app", "esp32c3-coredump-app", "rv32-inline-demo"])
def test_matches_live_addr2line(indexes, name: str) -> None:
    folder = fixture_folder(name)
    if not folder.is_dir():
        pytest.skip(f"{folder} not found (large fixtures live in ../shared)")
    elf = folder / _runs(folder)[0][0]
    index = indexes[elf]
    tool = _live(index.arch)
    addrs = [int(tok, 16) for tok in (folder / "addrs.txt").read_text().split()][::7]
    res = subprocess.run([tool, "-pfiaC", "-e", str(elf), *[f"0x{a:08x}" for a in addrs]],
                         capture_output=True, text=True, check=True)
    assert addr2line_lines(index, addrs) == _blocks(res.stdout)


@pytest.mark.parametrize(("name", "elf", "objcopy"), [
    ("esp32-coredump-app", "esp32.elf", "xtensa-lx106-elf-objcopy"),
    ("esp32c3-coredump-app", "esp32c3.elf", "riscv64-unknown-elf-objcopy"),
])
def test_without_dwarf_matches_live_addr2line(fixtures_dir: Path, tmp_path: Path, name, elf, objcopy) -> None:
    """Symbol-table-only answers (no .debug_*): names and STT_FILE file names like BFD picks them."""
    if shutil.which(objcopy) is None:
        pytest.skip(f"{objcopy} is not installed")
    folder = fixtures_dir / name
    stripped = tmp_path / "nodebug.elf"
    subprocess.run([objcopy, "--strip-debug", str(folder / elf), str(stripped)], check=True)
    index = SymbolIndex.build(stripped)
    assert not index.has_dwarf and index.has_symbols
    tool = _live(index.arch)
    addrs = [int(tok, 16) for tok in (folder / "addrs.txt").read_text().split()]
    res = subprocess.run([tool, "-pfiaC", "-e", str(stripped)], input="\n".join(f"0x{a:08x}" for a in addrs),
                         capture_output=True, text=True, check=True)
    assert [addr2line_text(a, index.lookup(a)) for a in addrs] == _blocks(res.stdout)


def test_random_addresses_match_live_addr2line(indexes) -> None:
    """Random addresses over every allocated section (and data symbols), in one addr2line run per ELF."""
    import random

    rng = random.Random(20240607)
    total = agree = 0
    for elf, index in sorted(indexes.items()):
        tool = ADDR2LINE[index.arch]
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
        addrs = []
        for i in range(len(index.sec_start)):
            lo, hi = index.sec_start[i], index.sec_end[i]
            addrs += [rng.randrange(lo, hi) for _ in range(60 if index.sec_code[i] else 6)]
        if len(index.ds_addr):
            addrs += [index.ds_addr[rng.randrange(len(index.ds_addr))] for _ in range(10)]
        rng.shuffle(addrs)
        res = subprocess.run([tool, "-pfiaC", "-e", str(elf)], input="\n".join(f"0x{a:08x}" for a in addrs),
                             capture_output=True, text=True, check=True)
        got = addr2line_lines(index, addrs)
        expected = _blocks(res.stdout)
        same = sum(g == e for g, e in zip(got, expected, strict=True))
        print(f"{elf.parent.name}/{elf.name}: {same}/{len(addrs)} random addresses")
        total += len(addrs)
        agree += same
        assert got == expected
    assert total
