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
from espwatch.symbols.elf_file import EM_RISCV, ElfImage, read_elf
from espwatch.symbols.elf_symbols import (
    _BIND_FLAGS,
    _SECTION_ADDRESS,
    FL_FUNCTION,
    FL_GLOBAL,
    FL_LOCAL,
    FL_NOTYPE,
    SectionInfo,
    _is_local_label,
    alloc_sections,
    index_symbols,
)

# -- the reference: the symbol table read the plain way, a record per symbol (the package's reader before
# `index_symbols` did it in one pass), kept here as the oracle


class SymbolInfo:
    """One symbol as BFD sees it: section-relative tests are done on absolute addresses here."""

    __slots__ = ("file", "flags", "kind", "name", "order", "section", "size", "value")

    def __init__(
        self, order: int, name: str, value: int, size: int, flags: int, section: int, kind: str,
        file: str | None,
    ) -> None:
        self.order = order
        self.name = name
        self.value = value
        self.size = size
        self.flags = flags
        self.section = section  # section header index, -1 for ABS/UNDEF/COMMON
        self.kind = kind  # STT_* type
        self.file = file  # STT_FILE name `_bfd_elf_find_function` would report with this symbol


_STT_NAMES = {0: "STT_NOTYPE", 1: "STT_OBJECT", 2: "STT_FUNC", 3: "STT_SECTION", 4: "STT_FILE",
              5: "STT_COMMON", 6: "STT_TLS", 10: "STT_LOOS"}
_KIND_FLAGS = {"STT_FUNC": FL_FUNCTION, "STT_GNU_IFUNC": FL_FUNCTION, "STT_LOOS": FL_FUNCTION,
               "STT_NOTYPE": FL_NOTYPE}


def read_symbols(elf: ElfImage) -> list[SymbolInfo]:
    """All symbols of `.symtab` (else `.dynsym`) in table order, with the STT_FILE bookkeeping done."""
    table = elf.symbol_table()
    if table is None:
        return []
    sec, blob, strtab = table
    import struct

    entry = struct.Struct("<IIIBBH")
    entsize = sec.entsize if sec.entsize >= entry.size else entry.size
    count = len(blob) // entsize
    if entsize == entry.size:
        rows = entry.iter_unpack(blob[:count * entsize])
    else:
        rows = (entry.unpack_from(blob, i * entsize) for i in range(count))
    find = strtab.find
    n_str = len(strtab)
    kinds: dict[tuple[int, bool], tuple[str, int]] = {}  # (type, hidden) -> (kind text, flags)
    out: list[SymbolInfo] = []
    file_name: str | None = None
    state = 0  # 0 nothing seen, 1 symbol seen, 2 file after symbol seen
    order = -1
    for st_name, value, size, info, other, shndx in rows:
        order += 1
        if order == 0:
            continue
        if st_name < n_str:
            stop = find(b"\0", st_name)
            name = strtab[st_name:stop if stop >= 0 else n_str].decode("utf-8", "surrogateescape")
        else:
            name = ""
        kind = info & 0xF
        if kind == 4:  # STT_FILE
            file_name = name
            if state == 1:
                state = 2
            continue
        if state == 0:
            state = 1
        hidden = (other & 3) == 2
        known = kinds.get((kind, hidden))
        if known is None:
            text = _STT_NAMES.get(kind, str(kind))
            known = kinds[(kind, hidden)] = (text + (":hidden" if hidden else ""), _KIND_FLAGS.get(text, 0))
        flags = known[1] | _BIND_FLAGS.get(info >> 4, 0)
        file = file_name if file_name is not None and (flags & FL_LOCAL or state != 2) else None
        out.append(SymbolInfo(order, name, value, size, flags, shndx if 0 < shndx < 0xFF00 else -1, known[0],
                              file))
    return out


def function_candidates(
    symbols: list[SymbolInfo], riscv: bool, sections: list[SectionInfo]
) -> list[tuple[int, int, SymbolInfo]]:
    """(section, address, symbol) for symbols BFD's maybe_function_sym accepts, sorted for bisecting.

    BFD keeps symbol values relative to their section (unsigned): a symbol below its section's start
    (linker-script values such as `_rtc_fast_length`) wraps around and never names an address.
    """
    starts = {sec.index: sec.start for sec in sections}
    skip_kinds = ("STT_SECTION", "STT_FILE", "STT_OBJECT", "STT_TLS", "STT_COMMON")
    out = []
    for s in symbols:
        section = s.section
        if section < 0:
            continue
        start = starts.get(section)
        if start is not None and s.value < start:
            continue
        kind = s.kind
        if kind.startswith(skip_kinds) and kind.split(":")[0] in skip_kinds:
            continue
        local = s.flags & FL_LOCAL
        if local and riscv and _is_local_label(s.name, riscv):
            continue
        if s.size == 0 and local and kind == "STT_NOTYPE:hidden":
            continue
        out.append((section, s.value, s))
    out.sort(key=_SECTION_ADDRESS)  # stable: symbols at the same place stay in table order
    return out


def data_symbols(symbols: list[SymbolInfo], sections: list[SectionInfo]) -> dict[tuple[int, int], SymbolInfo]:
    """For non-code sections: the symbol BFD picks at an exact address (first global, else last local)."""
    data_secs = {s.index for s in sections if not s.code}
    out: dict[tuple[int, int], SymbolInfo] = {}
    done: set[tuple[int, int]] = set()
    for s in symbols:
        if s.section not in data_secs or s.kind.startswith("STT_SECTION"):
            continue
        key = (s.section, s.value)
        if key in done:
            continue
        out[key] = s
        if s.flags & FL_GLOBAL:
            done.add(key)
    return out


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
