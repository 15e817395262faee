"""The one-pass readers of the cold open against the general ones they stand in for, on every fixture ELF:
`index_symbols` (the symbol table straight to the index's candidate and data rows) against `read_symbols`
+ `function_candidates` + `data_symbols`; the DWARF 2-4 line header's directory and file tables stepped
over in one match against decoding them; local variables stepped over without reading their attributes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from espwatch.symbols.build import DwarfSource, debug_sections
from espwatch.symbols.dwarf_info import _K_VAR, AT_LOCATION, DW_OP_ADDR, _addr_location, skip_plan, uleb
from espwatch.symbols.dwarf_lines import _read_header
from espwatch.symbols.elf_file import EM_RISCV, read_elf
from espwatch.symbols.elf_symbols import (
    alloc_sections,
    data_symbols,
    function_candidates,
    index_symbols,
    read_symbols,
)


def _elves(fixtures_dir: Path) -> list[Path]:
    return sorted(fixtures_dir.glob("*/*.elf"))


def test_index_symbols_equals_the_general_readers(fixtures_dir: Path) -> None:
    seen = 0
    for path in _elves(fixtures_dir):
        elf = read_elf(str(path))
        sections = alloc_sections(elf)
        riscv = elf.machine == EM_RISCV
        symbols = read_symbols(elf)
        has, cands, data = index_symbols(elf, sections, riscv)
        assert has == bool(symbols)
        want = [(sec, off, s.size or 1, s.flags, s.name, s.file)
                for sec, off, s in function_candidates(symbols, riscv, sections)]
        assert cands == want, path.name
        by_addr = sorted(data_symbols(symbols, sections).items(), key=lambda kv: (kv[0][1], kv[0][0]))
        assert data == [(sec, addr, s.name, s.flags) for (sec, addr), s in by_addr], path.name
        seen += len(cands) + len(data)
    assert seen > 10000


def test_line_header_tables_stepped_over_in_one_match(fixtures_dir: Path) -> None:
    units = 0
    for path in _elves(fixtures_dir):
        src = DwarfSource(debug_sections(read_elf(str(path))))
        for unit in src.units:
            if unit.stmt_list is None:
                continue
            _h, skipped, end = _read_header(src.line_data, unit.stmt_list, src.strs, unit.addr_size, names=False)
            _hdr, decoded, end2 = _read_header(src.line_data, unit.stmt_list, src.strs, unit.addr_size)
            assert (skipped, end) == (decoded, end2), (path.name, hex(unit.offset))
            units += 1
    assert units > 1000


@pytest.mark.parametrize("name", ["esp32-app-template/esp32-app-template.elf", "esp32c3-coredump-app/esp32c3.elf"])
def test_variables_stepped_over_are_never_kept(fixtures_dir: Path, name: str) -> None:
    """A variable DIE `scan_unit` steps over (its location block does not start with DW_OP_addr) is one
    that reading its attributes would not keep, and the step lands where that reading does."""
    src = DwarfSource(debug_sections(read_elf(str(fixtures_dir / name))))
    info = src.info
    d = info.info
    stepped = kept = 0
    for unit in src.units:
        abbrevs = info.load_abbrevs(unit)
        pos = unit.first_die
        while pos < unit.end:
            code, pos = uleb(d, pos)
            if code == 0:
                continue
            ab = abbrevs[code]
            start = pos
            location = None
            for attr, form, const in ab.attrs:
                value, pos = info.read_value(unit, form, const, pos)
                if attr == AT_LOCATION:
                    location = value
            if ab.kind != _K_VAR or ab.loc_plan is None:
                continue
            if _addr_location(d, start, ab.loc_plan):
                assert location[0] == DW_OP_ADDR
                kept += 1
                continue
            stepped += 1
            assert skip_plan(d, start, ab.plan) == pos
            assert not location or location[0] != DW_OP_ADDR
    assert stepped > 100 and kept > 10
