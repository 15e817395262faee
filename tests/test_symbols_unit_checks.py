"""The cheap checks the lazy index makes on units without address ranges of their own, against the full
decoders: `covers_any` (line program run without rows) must agree with `decode_line_table` on every unit
of every fixture ELF, and on damaged programs it may never say "nothing" where the decoder keeps a range.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from espwatch.symbols.build import DwarfSource, covers_nothing, debug_sections
from espwatch.symbols.dwarf_lines import covers_any, decode_line_table
from espwatch.symbols.elf_file import read_elf


def _source(elf: Path) -> DwarfSource:
    return DwarfSource(debug_sections(read_elf(str(elf))))


def _kept(src: DwarfSource, unit, data: bytes | None = None) -> bool:
    """Whether the full decoder keeps a sequence (False when it cannot read the program)."""
    try:
        table = decode_line_table(data or src.line_data, unit.stmt_list, unit.addr_size, unit.comp_dir, src.strs)
    except Exception:
        return False
    return bool(table[0].ranges)


def _elves(fixtures_dir: Path) -> list[Path]:
    return sorted(fixtures_dir.glob("*/*.elf"))


def test_covers_any_agrees_with_the_decoder(fixtures_dir: Path) -> None:
    units = 0
    for elf in _elves(fixtures_dir):
        src = _source(elf)
        for unit in src.units:
            if unit.stmt_list is None:
                continue
            units += 1
            assert covers_any(src.line_data, unit.stmt_list, unit.addr_size, src.strs) == _kept(src, unit), \
                (elf.name, hex(unit.offset))
    assert units > 1000


def test_dropped_units_are_the_ones_a_full_parse_finds_empty(fixtures_dir: Path) -> None:
    from espwatch.symbols.build import open_index

    for name in ("esp32-app-template/esp32-app-template.elf", "esp32c3-coredump-app/esp32c3.elf"):
        index = open_index(fixtures_dir / name)
        src = index._dwarf_source()
        dropped = [u for u in index.ungated.tolist() if covers_nothing(src, u)]
        assert dropped
        for u in dropped:
            index.parse_unit(u)
            assert index.unit_state[u] == 2 or (
                index.unit_row_lo[u] == index.unit_row_hi[u] and index.unit_fn_lo[u] == index.unit_fn_hi[u]), u


@pytest.mark.parametrize("name", ["esp32-app-template/esp32-app-template.elf", "esp32c3-coredump-app/esp32c3.elf"])
def test_covers_any_on_damaged_programs(fixtures_dir: Path, name: str) -> None:
    """Random byte changes: where the decoder keeps a range, covers_any must say so (never a unit dropped
    that could answer); it may say "covers" for a program the decoder then refuses (the parse marks it)."""
    src = _source(fixtures_dir / name)
    units = [u for u in src.units if u.stmt_list is not None]
    rng = random.Random(5)
    for _ in range(600):
        unit = rng.choice(units)
        data = bytearray(src.line_data)
        for _ in range(rng.randint(1, 4)):
            i = unit.stmt_list + rng.randrange(0, 1500)
            if i < len(data):
                data[i] = rng.randrange(256)
        blob = bytes(data)
        try:
            cheap = covers_any(blob, unit.stmt_list, unit.addr_size, src.strs)
        except Exception:
            cheap = False
        if _kept(src, unit, blob):
            assert cheap, hex(unit.offset)


def test_indexed_range_adding_is_bfd_arange_add() -> None:
    """`_Ends` (long range lists: a unit's own ranges) gives the list `add_range` gives, in order."""
    from espwatch.symbols.dwarf_info import _Ends, add_range

    rng = random.Random(1)
    for _ in range(2000):
        start: list = []
        for _ in range(rng.randint(0, 10)):
            a = rng.randint(0, 30)
            add_range(start, a, a + rng.randint(0, 5))
        plain = [list(r) for r in start]
        indexed = [list(r) for r in start]
        ends = _Ends(indexed)
        for _ in range(rng.randint(0, 60)):
            a = rng.randint(0, 40)
            b = a + rng.randint(0, 6)
            add_range(plain, a, b)
            ends.add(a, b)
        assert plain == indexed


@pytest.mark.parametrize("name", ["esp32-app-template/esp32-app-template.elf", "esp32c3-coredump-app/esp32c3.elf",
                                  "esp32-coredump-app/esp32.elf"])
def test_has_function_ranges_agrees_with_the_full_walk(fixtures_dir: Path, name: str) -> None:
    """The walk that jumps over children (units without ranges) finds a function range exactly when the
    full walk (`scan_unit`, what a parse reads) gives some function a range."""
    src = _source(fixtures_dir / name)
    info = src.info
    seen = set()
    for unit in src.units:
        info.scan_unit(unit)
        full = any(fn.ranges for fn in unit.funcs)
        unit.funcs = []
        unit.variables = []
        assert info.has_function_ranges(unit) == full, hex(unit.offset)
        seen.add(full)
    assert seen == {True, False}
