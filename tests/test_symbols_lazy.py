"""The lazy index (units parsed when a lookup needs them) against the full index and GNU addr2line.

On every fixture ELF and every probe address the three answers must be byte-identical: the stored
addr2line output, the full index (every unit parsed) and the lazy index; a lazy index answering a short
backtrace must parse only a few units; a partial index stored in the cache answers the same again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import fixture_folder
from test_symbols_fixtures import CASES, _blocks

from espwatch.symbols import SymbolIndex, addr2line_lines
from espwatch.symbols.build import build_index, open_index


def _addrs(folder: Path) -> list[int]:
    return [int(tok, 16) for tok in (folder / "addrs.txt").read_text().split()]


@pytest.mark.parametrize(("name", "elf", "expected_file"), CASES, ids=[f"{d}/{e}" for d, e, _ in CASES])
def test_lazy_equals_full_equals_addr2line(name: str, elf: str, expected_file: str) -> None:
    folder = fixture_folder(name)
    if not (folder / "addrs.txt").exists():
        pytest.skip(f"{name} not in the fixture set")
    addrs = _addrs(folder)
    expected = _blocks((folder / expected_file).read_text())
    full_index = build_index(folder / elf)
    full = addr2line_lines(full_index, addrs)
    lazy = addr2line_lines(open_index(folder / elf), addrs)
    assert full == lazy
    assert lazy == expected
    # addresses one at a time (a new addr2line run each), in reverse order: units parsed in another order
    lazy_index = open_index(folder / elf)
    some = addrs[::-3]
    assert [addr2line_lines(lazy_index, [a])[0] for a in some] == [addr2line_lines(full_index, [a])[0]
                                                                   for a in some]


@pytest.mark.parametrize("name", ["esp32-app-template", "esp32c3-coredump-app"])
def test_backtrace_reads_few_units(fixtures_dir: Path, name: str) -> None:
    folder = fixtures_dir / name
    elf = next(folder.glob("*.elf"))
    addrs = [int(t, 16) for t in (folder / "backtrace20.txt").read_text().split()]
    index = open_index(elf)
    got = addr2line_lines(index, addrs)
    parsed = sum(1 for s in index.unit_state if s == 1)
    assert parsed <= 25 < index.n_units, (parsed, index.n_units)
    assert not index.is_complete
    assert got == addr2line_lines(build_index(elf), addrs)


def test_partial_cache_round_trip(tmp_path: Path, fixtures_dir: Path) -> None:
    folder = fixtures_dir / "esp32c3-coredump-app"
    elf = folder / "esp32c3.elf"
    addrs = _addrs(folder)
    first, rest = addrs[:10], addrs[10:]
    index = SymbolIndex.open(elf, cache_dir=tmp_path)
    assert not index.from_cache
    want_first = addr2line_lines(index, first)
    assert index.store()
    assert not index.store()  # nothing new since
    again = SymbolIndex.open(elf, cache_dir=tmp_path)
    assert again.from_cache and not again.is_complete
    # the units the first run parsed are in the file: no ELF needed for the same addresses
    factory, again.source_factory = again.source_factory, None
    assert addr2line_lines(again, first) == want_first
    again.source_factory = factory
    assert addr2line_lines(again, addrs) == addr2line_lines(build_index(elf), addrs)
    assert again.store()
    complete = SymbolIndex.load(elf, cache_dir=tmp_path)  # the monitor's path: completes the partial file
    assert complete.is_complete
    assert SymbolIndex.load(elf, cache_dir=tmp_path).from_cache
    assert addr2line_lines(complete, rest) == addr2line_lines(build_index(elf), rest)


def test_partial_index_without_elf_is_a_decode_error(tmp_path: Path, data_dir: Path) -> None:
    from espwatch.errors import ElfError
    from espwatch.symbols.cache import from_bytes, to_bytes

    elf = data_dir / "rv32-inline-demo" / "demo.elf"
    index = open_index(elf)
    partial = from_bytes(to_bytes(index), index.sha256)  # nothing parsed yet, and no ELF attached
    with pytest.raises(ElfError, match="partial"):
        partial.lookup(0x4200006E)


def test_decode_verb_stores_what_it_parsed(tmp_path: Path, fixtures_dir: Path, monkeypatch, capsys) -> None:
    from espwatch.cli import main

    folder = fixtures_dir / "esp32c3-coredump-app"
    elf = folder / "esp32c3.elf"
    addrs = [f"0x{a:08x}" for a in _addrs(folder)[:6]]
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path))
    assert main(["decode", "--elf", str(elf), *addrs]) == 0
    first = capsys.readouterr().out
    assert len(list(tmp_path.glob("*.idx"))) == 1
    cached = SymbolIndex.open(elf, cache_dir=tmp_path)
    assert cached.from_cache and not cached.is_complete and 1 in cached.unit_state
    assert main(["decode", "--elf", str(elf), *addrs]) == 0
    assert capsys.readouterr().out == first


WARM_FORBIDDEN = ("elftools", "regex", "tomllib", "textual", "dataclasses", "concurrent.futures",
                  "espwatch.patterns", "espwatch.symbols.dwarf_info", "espwatch.symbols.dwarf_lines",
                  "espwatch.symbols.elf_symbols", "json")


def test_warm_decode_imports_little(tmp_path: Path, data_dir: Path) -> None:
    """With the index cached, the decode verb loads none of the heavy modules (start-up time). The verb is
    run on its own parser: what the CLI itself loads for every verb (settings files) is not counted."""
    import subprocess
    import sys

    elf = data_dir / "rv32-inline-demo" / "demo.elf"
    env = {**__import__("os").environ, "ESPWATCH_CACHE_DIR": str(tmp_path)}
    code = ("import argparse, sys\nfrom espwatch.commands import decode\n"
            "p = argparse.ArgumentParser(); decode.register(p.add_subparsers())\n"
            f"args = p.parse_args(['decode', '--elf', {str(elf)!r}, '0x420000ad', '0x42000248'])\n"
            "rc = args.func(args)\n"
            "print('MODULES', ' '.join(sorted(sys.modules)))\nsys.exit(rc)\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)  # cold: caches
    res = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    assert "ring_next" in res.stdout
    modules = set(res.stdout.split("MODULES ", 1)[1].split())
    loaded = sorted(m for m in modules if m.split(".")[0] in WARM_FORBIDDEN or m in WARM_FORBIDDEN)
    assert not loaded, loaded


def test_warm_open_reads_the_elf_only_for_a_unit_not_cached(tmp_path: Path, fixtures_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With its digest remembered and its index cached, the ELF is read only when a lookup needs a unit
    the cache does not hold; if the file changed in between, that read says so (no mixed answers)."""
    import shutil

    from espwatch.errors import ElfError
    from espwatch.symbols import cache, digest

    monkeypatch.setattr(digest, "SETTLED_NS", 0)  # a file copied a moment ago may be remembered
    folder = fixtures_dir / "esp32c3-coredump-app"
    elf = tmp_path / "app.elf"
    shutil.copy(folder / "esp32c3.elf", elf)
    addrs = _addrs(folder)
    first, rest = addrs[:5], addrs[5:]
    index = SymbolIndex.open(elf, cache_dir=tmp_path / "c")
    want = addr2line_lines(index, first)
    assert index.store()
    reads: list[str] = []
    real = cache._read_elf_bytes
    monkeypatch.setattr(cache, "_read_elf_bytes", lambda p: reads.append(p) or real(p))
    warm = SymbolIndex.open(elf, cache_dir=tmp_path / "c")
    assert warm.from_cache and addr2line_lines(warm, first) == want and reads == []
    assert addr2line_lines(warm, addrs) == addr2line_lines(build_index(elf), addrs)
    assert reads == [str(elf)]  # once, for the units the first run did not parse
    again = SymbolIndex.open(elf, cache_dir=tmp_path / "c")
    with elf.open("ab") as fh:
        fh.write(b"\0")  # the ELF changes after its cached index was chosen
    assert addr2line_lines(again, first) == want  # cached units: nothing to read
    unparsed = [a for a in rest if a not in first]
    with pytest.raises(ElfError, match="changed while it was being decoded"):
        for a in unparsed:
            addr2line_lines(again, [a])
