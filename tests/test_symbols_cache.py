"""The symbol cache: validated before use, never a traceback, private folders, no temp files left behind,
and names that cannot drive the terminal. Crashers found by fuzz/fuzz_cache.py are kept here."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.symbols import SymbolIndex, addr2line_lines
from espwatch.symbols.build import build_index
from espwatch.symbols.cache import CACHE_MAGIC, INDEX_VERSION, check_index, from_bytes, to_bytes
from espwatch.symbols.query import printable


@pytest.fixture()
def demo_elf(data_dir: Path) -> Path:
    return data_dir / "rv32-inline-demo" / "demo.elf"


def _with_crc(payload: bytes) -> bytes:
    return CACHE_MAGIC + struct.pack("<II", INDEX_VERSION, zlib.crc32(payload)) + payload


def _payload(blob: bytes) -> bytearray:
    return bytearray(blob[len(CACHE_MAGIC) + 8:])


def test_round_trip_is_checked_and_identical(demo_elf: Path) -> None:
    index = build_index(demo_elf)
    check_index(index)
    again = from_bytes(to_bytes(index), index.sha256)
    addrs = [int(t, 16) for t in (demo_elf.parent / "addrs.txt").read_text().split()]
    assert addr2line_lines(again, addrs) == addr2line_lines(index, addrs)


def test_every_column_out_of_range_is_rejected(demo_elf: Path) -> None:
    """An index column pointing outside its target, with a good CRC: rejected, not a traceback."""
    index = build_index(demo_elf)
    for name in ("fn_name", "fn_caller", "fe_fn", "row_file", "seg_units", "var_unit", "cand_name",
                 "unit_row_hi", "fn_rng_hi", "unit_fn_lo", "ds_name", "seg_off", "unit_state"):
        bad = build_index(demo_elf)
        col = getattr(bad, name)
        assert len(col), name
        col[len(col) // 2] = 10**6
        with pytest.raises(ValueError):
            from_bytes(to_bytes(bad), index.sha256)


def test_caller_cycle_is_rejected(demo_elf: Path) -> None:
    bad = build_index(demo_elf)
    inlined = [g for g in range(len(bad.fn_flags)) if bad.fn_flags[g] & 2]
    bad.fn_caller[bad.fn_caller[inlined[0]]] = inlined[0]  # a chain that would never end
    with pytest.raises(ValueError, match="callers"):
        from_bytes(to_bytes(bad), bad.sha256)


@pytest.mark.parametrize("kind", ["cut", "counts", "strings", "columns", "sha", "machine"])
def test_damage_with_recomputed_crc(demo_elf: Path, kind: str) -> None:
    """Regressions of the 'recomputed CRC, bad contents' class: one clear rejection each."""
    index = build_index(demo_elf)
    payload = _payload(to_bytes(index))
    if kind == "cut":
        del payload[len(payload) // 2:]
    elif kind == "counts":  # the first column count (after the 48-byte meta) grows past the data
        struct.pack_into("<I", payload, 48, 999999)
    elif kind == "strings":
        n_cols = struct.unpack_from("<I", payload, 44)[0]
        struct.pack_into("<I", payload, 48 + 4 * n_cols, 0xFFFFFFFF)
    elif kind == "columns":
        struct.pack_into("<I", payload, 44, 3)
    elif kind == "sha":
        payload[0] ^= 1
    else:
        struct.pack_into("<I", payload, 32, 62)
    with pytest.raises(ValueError):
        from_bytes(_with_crc(bytes(payload)), index.sha256)


def test_tampered_cache_is_rebuilt_by_load(tmp_path: Path, demo_elf: Path) -> None:
    index = SymbolIndex.load(demo_elf, cache_dir=tmp_path)
    cfile = tmp_path / f"{index.sha256}.idx"
    payload = _payload(cfile.read_bytes())
    struct.pack_into("<I", payload, 48, 7)
    cfile.write_bytes(_with_crc(bytes(payload)))
    again = SymbolIndex.load(demo_elf, cache_dir=tmp_path)
    assert not again.from_cache
    assert again.lookup(0x4200006E)[0].function == "crash_here"


def test_names_with_escapes_are_printed_escaped(tmp_path: Path, demo_elf: Path, capsys) -> None:
    """A cache (or ELF) whose names carry terminal escapes: decoded text shows them as \\x1b, never raw."""
    index = build_index(demo_elf)
    i = index.strings.index("crash_here")
    index.strings[i] = "crash\x1b]0;owned\x07\x1b[2J\u202e\x9b_here"
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / f"{index.sha256}.idx").write_bytes(to_bytes(index))
    os.environ["ESPWATCH_CACHE_DIR"] = str(cache)
    try:
        assert main(["decode", "--elf", str(demo_elf), "0x4200006e"]) == 0
    finally:
        del os.environ["ESPWATCH_CACHE_DIR"]
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\u202e" not in out
    assert r"crash\x1b]0;owned\x07\x1b[2J\u202e\x9b_here" in out


def test_printable() -> None:
    assert printable("app_main") == "app_main"
    assert printable("a\tb\nc\x7f") == r"a\x09b\x0ac\x7f"
    assert printable(b"caf\xe9".decode("utf-8", "surrogateescape")) == r"caf\xe9"
    assert printable("café /path with space") == "café /path with space"


def test_cache_path_is_a_directory(tmp_path: Path, demo_elf: Path) -> None:
    """The cache file's name taken by a directory: decoding works, no temp file is left behind."""
    sha = build_index(demo_elf).sha256
    (tmp_path / f"{sha}.idx").mkdir()
    index = SymbolIndex.load(demo_elf, cache_dir=tmp_path)
    assert index.lookup(0x4200006E)[0].function == "crash_here"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{sha}.idx"]


def test_cache_dir_is_a_file(tmp_path: Path, demo_elf: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    index = SymbolIndex.load(demo_elf, cache_dir=target)
    assert index.lookup(0x4200006E)[0].function == "crash_here"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-dir"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_cache_folders_are_private(tmp_path: Path, demo_elf: Path) -> None:
    old = os.umask(0o022)
    try:
        cache = tmp_path / "a" / "b" / "symbols"
        SymbolIndex.load(demo_elf, cache_dir=cache)
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", cache):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    (idx,) = cache.glob("*.idx")
    assert stat.S_IMODE(idx.stat().st_mode) == 0o600


def test_elf_path_is_a_directory(tmp_path: Path) -> None:
    from espwatch.errors import ElfError

    with pytest.raises(ElfError, match="directory"):
        SymbolIndex.load(tmp_path, cache_dir=tmp_path / "c")


def test_digest_computed_beside_the_read_still_finds_the_cache(tmp_path: Path, demo_elf: Path) -> None:
    """A copy of an ELF (new path: its digest is not remembered) is hashed while its tables are read; the
    index cached for the same bytes is the one used, and a new ELF gets the digest of its bytes."""
    import hashlib
    import shutil

    first = SymbolIndex.open(demo_elf, cache_dir=tmp_path)
    first.lookup(0x4200006E)
    assert first.store()
    copy = tmp_path / "copy.elf"
    shutil.copyfile(demo_elf, copy)
    again = SymbolIndex.open(copy, cache_dir=tmp_path)
    assert again.from_cache and again.sha256 == first.sha256
    other = tmp_path / "other.elf"
    blob = demo_elf.read_bytes() + b"\0"  # one byte after the section headers: other bytes, same ELF
    other.write_bytes(blob)
    fresh = SymbolIndex.open(other, cache_dir=tmp_path)
    assert not fresh.from_cache and fresh.sha256 == hashlib.sha256(blob).hexdigest()
    assert addr2line_lines(fresh, [0x4200006E]) == addr2line_lines(first, [0x4200006E])
