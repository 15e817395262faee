"""Building the symbol index: ELF sections, symbol table and DWARF -> the flat columns of `IndexQuery`.

`open_index` reads the section headers, the symbol table and the compilation units' headers and root
DIEs (their address ranges): enough to know which units can answer for an address. `parse_unit` reads
one unit's line program and DIEs when a lookup first needs it; `build_index` parses them all.
"""

from __future__ import annotations

import os
import time

from espwatch.errors import ElfError
from espwatch.symbols.elf_file import EM_RISCV, ElfImage, read_elf
from espwatch.symbols.query import IndexQuery

_DEBUG_SECTIONS = (
    ".debug_info", ".debug_abbrev", ".debug_str", ".debug_line", ".debug_line_str", ".debug_ranges",
    ".debug_rnglists", ".debug_str_offsets", ".debug_addr",
)
TAG_INLINED = 0x1D


class DwarfSource:
    """The raw DWARF sections of one ELF and its unit table (headers and root DIEs)."""

    def __init__(self, raw: dict[str, bytes]) -> None:
        from espwatch.symbols.dwarf_info import DebugInfo

        self.info = DebugInfo(raw)
        self.units = self.info.read_units()
        self.line_data = raw[".debug_line"]
        self.strs = {".debug_str": raw.get(".debug_str", b""),
                     ".debug_line_str": raw.get(".debug_line_str", b"")}
        self._headers: dict[int, object] = {}

    def parse_unit(self, index: IndexQuery, rank: int) -> None:
        """Read unit `rank` into the index (see `parse_unit`)."""
        parse_unit(index, self, rank)

    def covers_nothing(self, rank: int) -> bool:
        """Whether unit `rank` can answer for no address (see `covers_nothing`)."""
        return covers_nothing(self, rank)

    def line_header(self, unit):
        """The line-program header of `unit` (for file names), None when it cannot be read."""
        if unit.offset not in self._headers:
            from espwatch.symbols.dwarf_lines import decode_line_table

            hdr = None
            if unit.stmt_list is not None:
                try:
                    hdr = decode_line_table(self.line_data, unit.stmt_list, unit.addr_size, unit.comp_dir,
                                            self.strs)[2]
                except Exception:  # a damaged foreign table only loses this file name (BFD alike)
                    hdr = None
            self._headers[unit.offset] = hdr
        return self._headers[unit.offset]


def debug_sections(elf: ElfImage) -> dict[str, bytes]:
    """The DWARF sections the index reads, by name (absent ones left out)."""
    raw = {}
    for name in _DEBUG_SECTIONS:
        sec = elf.section(name)
        if sec is not None and sec.type != 8:  # SHT_NOBITS
            raw[name] = elf.section_data(sec)
    return raw


def source_from_elf(path: str, data: bytes, unit_offsets) -> DwarfSource:
    """The DWARF source of an ELF whose index came from the cache (its units must be the cached ones)."""
    raw = debug_sections(read_elf(path, data))
    src = DwarfSource(raw)
    if [u.offset for u in src.units] != list(unit_offsets):
        raise ElfError(f"{path}: its debug info does not match the cached index")
    return src


def open_index(
    path: str | os.PathLike[str], sha256: str | None = None, data: bytes | None = None,
    cls: type[IndexQuery] = IndexQuery,
) -> IndexQuery:
    """The index with sections, symbols and the unit table read; units are parsed when a lookup needs them."""
    from espwatch.symbols.elf_symbols import alloc_sections, index_symbols

    t0 = time.perf_counter()
    path = os.fspath(path)
    elf = read_elf(path, data)
    try:
        sections = alloc_sections(elf)
        symbols = index_symbols(elf, sections, elf.machine == EM_RISCV)
        raw = debug_sections(elf)
    except ElfError:
        raise
    except Exception as exc:
        raise ElfError(f"{path} is truncated or damaged ({type(exc).__name__}: {exc})") from exc
    if not symbols[0] and ".debug_info" not in raw:
        raise ElfError(
            f"{path} is stripped (no symbol table, no debug info): use the unstripped application ELF "
            "from the build folder"
        )
    index = cls()
    index.path = path
    if sha256 is None:
        import hashlib

        sha256 = hashlib.sha256(elf.data).hexdigest()
    index.sha256 = sha256
    index.machine = elf.machine
    index.arch = elf.arch
    try:
        for s in sections:
            index.sec_start.append(s.start)
            index.sec_end.append(s.end)
            index.sec_code.append(1 if s.code else 0)
            index.sec_index.append(s.index)
        _fill_symbols(index, symbols, index.string_id)
        if ".debug_info" in raw and ".debug_line" in raw:
            src = DwarfSource(raw)
            index._source = src
            _fill_units(index, src)
        else:
            index.seg_off.append(0)
    except Exception as exc:  # damaged tables must give one clear message, never a traceback
        raise ElfError(
            f"{path}: cannot read its symbol table or debug info ({type(exc).__name__}: {exc})"
        ) from exc
    index.build_seconds = time.perf_counter() - t0
    return index


def build_index(
    path: str | os.PathLike[str], sha256: str | None = None, data: bytes | None = None,
    cls: type[IndexQuery] = IndexQuery,
) -> IndexQuery:
    """Read the ELF and build the whole index (every unit parsed; no cache involved)."""
    t0 = time.perf_counter()
    index = open_index(path, sha256, data, cls)
    index.complete()
    index.has_dwarf = 1 in index.unit_state
    index.dirty = False
    index.build_seconds = time.perf_counter() - t0
    return index


def _fill_symbols(index: IndexQuery, symbols: tuple[bool, list[tuple], list[tuple]], sid) -> None:
    """The candidate and data-symbol columns from `elf_symbols.index_symbols`."""
    index.has_symbols, cands, data = symbols
    groups = []
    names = []
    files = []
    group = -1
    prev_sec = prev_off = -1
    for sec, off, _size, _flags, name, file in cands:
        if off != prev_off or sec != prev_sec:
            group += 1
            prev_sec, prev_off = sec, off
        groups.append(group)
        names.append(sid(name))
        files.append(sid(file))
    index.cand_sec.extend([c[0] for c in cands])
    index.cand_off.extend([c[1] for c in cands])
    index.cand_key.extend([(sec << 40) | off for sec, off, *_rest in cands])
    index.cand_size.extend([c[2] for c in cands])
    index.cand_flags.extend([c[3] for c in cands])
    index.cand_name.extend(names)
    index.cand_file.extend(files)
    index.cand_group.extend(groups)
    index.ds_sec.extend([d[0] for d in data])
    index.ds_addr.extend([d[1] for d in data])
    index.ds_name.extend([sid(d[2]) for d in data])
    index.ds_flags.extend([d[3] for d in data])


def _fill_units(index: IndexQuery, src: DwarfSource) -> None:
    """One row per unit (DIE order): offset, state (0 unread, 2 unusable: no line program), own ranges."""
    gated: list[tuple[int, int, int]] = []
    for rank, unit in enumerate(src.units):
        index.unit_off.append(unit.offset)
        index.unit_state.append(0 if unit.stmt_list is not None else 2)
        index.unit_gate_lo.append(len(index.gate_low))
        for low, high in unit.gate:
            index.gate_low.append(low)
            index.gate_high.append(high)
            gated.append((low, high, rank))
        index.unit_gate_hi.append(len(index.gate_low))
        if not unit.gate and unit.stmt_list is not None:
            index.ungated.append(rank)
        for col in (index.unit_row_lo, index.unit_row_hi, index.unit_fn_lo, index.unit_fn_hi):
            col.append(0)
    index.n_units = len(src.units)
    index.has_dwarf = any(u.stmt_list is not None for u in src.units)
    _fill_segments(index, gated)


def parse_unit(index: IndexQuery, src: DwarfSource, rank: int) -> None:
    """Read unit `rank`'s line program, functions and static variables into the index columns.

    BFD: a unit whose line program or DIEs cannot be read is never used (state 2)."""
    unit = src.units[rank]
    try:
        parsed = _read_unit(index, src, unit, rank)
    except Exception:
        parsed = None
    finally:
        unit.funcs = []
        unit.variables = []
    if parsed is None:
        index.unit_state[rank] = 2
        return
    rows, fns, ranges, entries, variables = parsed
    # whole columns at a time (array.extend of a tuple runs in C)
    index.unit_row_lo[rank] = len(index.row_addr)
    row_columns = (index.row_addr, index.row_file, index.row_line, index.row_disc)
    for col, values in zip(row_columns, rows, strict=False):  # rows: () when the unit has none
        col.extend(values)
    index.unit_row_hi[rank] = len(index.row_addr)
    _extend(fns, index.fn_name, index.fn_flags, index.fn_caller, index.fn_call_file, index.fn_call_line,
            index.fn_low0, index.fn_rng_lo, index.fn_rng_hi)
    _extend(ranges, index.rng_low, index.rng_high)
    index.unit_fn_lo[rank] = len(index.fe_low)
    _extend(entries, index.fe_low, index.fe_wm, index.fe_fn)
    index.unit_fn_hi[rank] = len(index.fe_low)
    _extend([(addr, rank, name, fname, line) for addr, name, fname, line in variables],
            index.var_addr, index.var_unit, index.var_name, index.var_file, index.var_line)
    if variables:
        index.vars_sorted = False
    index.unit_state[rank] = 1


def _extend(rows: list[tuple], *columns) -> None:
    """Append row tuples to parallel columns."""
    if rows:
        for col, values in zip(columns, zip(*rows, strict=True), strict=True):
            col.extend(values)


def _read_unit(index: IndexQuery, src: DwarfSource, unit, rank: int):
    from espwatch.symbols.dwarf_lines import _concat_filename, decode_line_table

    sid = index.string_id
    info = src.info
    table, _files, hdr = decode_line_table(src.line_data, unit.stmt_list, unit.addr_size, unit.comp_dir,
                                           src.strs)
    info.scan_unit(unit)
    # the rows as four columns (transposed in C); file numbers -> string ids (-1 no name, -2 end of a
    # sequence stay); lines and discriminators as BFD's unsigned int
    file_ids = [sid(name) for name in table.files] + [-2, -1]
    rows: tuple = ()
    if table.rows:
        addrs, fidxs, lines, discs = zip(*table.rows, strict=True)
        files = list(map(file_ids.__getitem__, fidxs))
        if min(lines) < 0 or max(lines) > 0xFFFFFFFF:
            lines = [x & 0xFFFFFFFF for x in lines]
        if min(discs) < 0 or max(discs) > 0xFFFFFFFF:
            discs = [x & 0xFFFFFFFF for x in discs]
        rows = (addrs, files, lines, discs)

    call_names: dict[int | None, int] = {None: -1}

    def call_name(num: int | None) -> int:
        i = call_names.get(num)
        if i is None:
            i = call_names[num] = sid(_concat_filename(hdr, unit.comp_dir, num))
        return i

    fn_base = len(index.fn_name)
    rng_base = len(index.rng_low)
    fns = []
    ranges = []
    entries = []
    for i, fn in enumerate(unit.funcs):
        info.resolve_func_name(unit, fn)
        inlined = fn.tag == TAG_INLINED
        fn_ranges = fn.ranges
        lo = rng_base + len(ranges)
        ranges.extend(fn_ranges)  # [low, high] pairs
        hi = rng_base + len(ranges)
        fns.append((sid(fn.name), (1 if fn.is_linkage else 0) | (2 if inlined else 0),
                    fn_base + fn.caller if fn.caller >= 0 else -1, call_name(fn.call_file) if inlined else -1,
                    fn.call_line & 0xFFFFFFFF, fn_ranges[0][0] if fn_ranges else 0, lo, hi))
        if len(fn_ranges) == 1:
            entries.append((fn_ranges[0][0], fn_ranges[0][1], fn_base + i))
        elif fn_ranges:
            entries.append((min(r[0] for r in fn_ranges), max(r[1] for r in fn_ranges), fn_base + i))
    entries.sort()
    fe = []
    wm = 0
    for low, high, g in entries:
        if high > wm:
            wm = high
        fe.append((low, wm, g))

    # variables with a static address, in DIE order (BFD searches them in reverse: see sort_variables)
    variables = []
    for var in unit.variables:
        name, file_unit, file_num, line = info.resolve_var(unit, var)
        if name is None or file_num is None:
            continue
        if file_unit is unit:
            fname = _concat_filename(hdr, unit.comp_dir, file_num)
        else:
            other = src.line_header(file_unit) if file_unit is not None else None
            fname = _concat_filename(other, file_unit.comp_dir, file_num) if other is not None else None
        if not fname:
            continue
        variables.append((var.addr, sid(name), sid(fname), line & 0xFFFFFFFF))
    return rows, fns, ranges, fe, variables


def covers_nothing(src: DwarfSource, rank: int) -> bool:
    """True when unit `rank` can answer for no address: its line program keeps no sequence and none of
    its function DIEs has a range (DW_AT_high_pc / DW_AT_ranges). Cheap: the line program is run
    without building rows, and the DIE walk jumps over other DIEs' children. False when that cannot be
    told without parsing the unit."""
    from espwatch.symbols.dwarf_info import AT_HIGH_PC, AT_RANGES, FUNC_TAGS
    from espwatch.symbols.dwarf_lines import covers_any

    unit = src.units[rank]
    try:
        if covers_any(src.line_data, unit.stmt_list, unit.addr_size, src.strs):
            return False
    except Exception:
        return True  # an unreadable line program makes the unit unusable (BFD)
    try:
        ranged = any(ab.tag in FUNC_TAGS and any(name in (AT_HIGH_PC, AT_RANGES) for name, _f, _c in ab.attrs)
                     for ab in src.info.load_abbrevs(unit).values())
        return not (ranged and src.info.has_function_ranges(unit))
    except Exception:
        return False


def _fill_segments(index: IndexQuery, coverage: list[tuple[int, int, int]]) -> None:
    """Disjoint address segments, each with the sorted list of units that answer there."""
    # merge per unit first (few intervals per unit), then sweep
    by_unit: dict[int, list[tuple[int, int]]] = {}
    for low, high, u in coverage:
        if high > low:
            by_unit.setdefault(u, []).append((low, high))
    events: list[tuple[int, int, int]] = []
    for u, spans in by_unit.items():
        spans.sort()
        cur_lo, cur_hi = spans[0]
        for lo, hi in spans[1:]:
            if lo <= cur_hi:
                cur_hi = max(cur_hi, hi)
            else:
                events.append((cur_lo, 1, u))
                events.append((cur_hi, 0, u))
                cur_lo, cur_hi = lo, hi
        events.append((cur_lo, 1, u))
        events.append((cur_hi, 0, u))
    events.sort()
    active: set[int] = set()
    i = 0
    n = len(events)
    last_key: tuple[int, ...] | None = None
    while i < n:
        addr = events[i][0]
        while i < n and events[i][0] == addr:
            _a, kind, u = events[i]
            if kind:
                active.add(u)
            else:
                active.discard(u)
            i += 1
        key = tuple(sorted(active))
        if key == last_key:
            continue
        index.seg_start.append(addr)
        index.seg_off.append(len(index.seg_units))
        index.seg_units.extend(key)
        last_key = key
    index.seg_off.append(len(index.seg_units))
