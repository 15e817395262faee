"""Building the symbol index: ELF sections, symbol table and DWARF -> the flat columns of `SymbolIndex`."""

from __future__ import annotations

import os
import struct

from espwatch.symbols.elf_locate import elf_sha256
from espwatch.symbols.errors import DecodeError
from espwatch.symbols.query import SymbolIndex

EM_XTENSA = 94
EM_RISCV = 243
ARCH_BY_MACHINE = {EM_XTENSA: "xtensa", EM_RISCV: "riscv"}
_DEBUG_SECTIONS = (
    ".debug_info", ".debug_abbrev", ".debug_str", ".debug_line", ".debug_line_str", ".debug_ranges",
    ".debug_rnglists", ".debug_str_offsets", ".debug_addr",
)


class _Strings:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.ids: dict[str, int] = {}

    def id(self, s: str | None) -> int:
        if s is None:
            return -1
        i = self.ids.get(s)
        if i is None:
            i = self.ids[s] = len(self.items)
            self.items.append(s)
        return i


def build_index(path: str | os.PathLike[str], sha256: str | None = None) -> SymbolIndex:
    """Read the ELF and build the index (no cache involved)."""
    import time

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    from espwatch.symbols.elf_symbols import alloc_sections, read_symbols

    t0 = time.perf_counter()
    path = os.fspath(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise DecodeError(f"cannot open ELF file {path}: {exc.strerror or exc}") from exc
    with f:
        head = f.read(4)
        if head != b"\x7fELF":
            raise DecodeError(f"{path} is not an ELF file")
        f.seek(0, os.SEEK_END)
        file_size = f.tell()
        f.seek(0)
        try:
            elf = ELFFile(f)
            _check_complete(elf, file_size, path)
            machine_name = elf["e_machine"]
            machine = _machine_number(elf)
            if machine not in ARCH_BY_MACHINE:
                raise DecodeError(
                    f"{path} is an ELF for {machine_name}, not an ESP32-family chip (Xtensa or RISC-V)"
                )
            if elf.elfclass != 32 or not elf.little_endian:
                raise DecodeError(f"{path} is not a 32-bit little-endian ELF")
            sections = alloc_sections(elf)
            symbols = read_symbols(elf)
            raw = {}
            for name in _DEBUG_SECTIONS:
                sec = elf.get_section_by_name(name)
                if sec is not None and sec["sh_type"] != "SHT_NOBITS":
                    raw[name] = sec.data()
        except DecodeError:
            raise
        except (ELFError, struct.error, ValueError, OSError, IndexError, KeyError) as exc:
            raise DecodeError(f"{path} is truncated or damaged ({exc})") from exc
    if not symbols and ".debug_info" not in raw:
        raise DecodeError(
            f"{path} is stripped (no symbol table, no debug info): use the unstripped application ELF "
            "from the build folder"
        )
    index = SymbolIndex()
    index.path = path
    index.sha256 = sha256 or elf_sha256(path)
    index.machine = machine
    index.arch = ARCH_BY_MACHINE[machine]
    try:
        _fill(index, sections, symbols, raw)
    except Exception as exc:  # damaged tables must give one clear message, never a traceback
        raise DecodeError(
            f"{path}: cannot read its symbol table or debug info ({type(exc).__name__}: {exc})"
        ) from exc
    index.build_seconds = time.perf_counter() - t0
    return index

def _fill(index: SymbolIndex, sections, symbols, raw: dict[str, bytes]) -> None:
    strings = _Strings()
    sid = strings.id
    for s in sections:
        index.sec_start.append(s.start)
        index.sec_end.append(s.end)
        index.sec_code.append(1 if s.code else 0)
        index.sec_index.append(s.index)
    _fill_symbols(index, sections, symbols, sid)
    if ".debug_info" in raw and ".debug_line" in raw:
        _fill_dwarf(index, raw, sid)
    index.strings = strings.items

def _fill_symbols(index: SymbolIndex, sections, symbols, sid) -> None:
    from espwatch.symbols.elf_symbols import data_symbols, function_candidates

    index.has_symbols = bool(symbols)
    cands = function_candidates(symbols, index.arch == "riscv", sections)
    group = -1
    prev = None
    for sec, off, s in cands:
        if (sec, off) != prev:
            group += 1
            prev = (sec, off)
        index.cand_sec.append(sec)
        index.cand_off.append(off)
        index.cand_key.append((sec << 40) | off)
        index.cand_size.append(s.size or 1)
        index.cand_flags.append(s.flags)
        index.cand_name.append(sid(s.name))
        index.cand_file.append(sid(s.file))
        index.cand_group.append(group)
    by_addr = sorted(data_symbols(symbols, sections).items(), key=lambda kv: (kv[0][1], kv[0][0]))
    for (sec, addr), s in by_addr:
        index.ds_sec.append(sec)
        index.ds_addr.append(addr)
        index.ds_name.append(sid(s.name))
        index.ds_flags.append(s.flags)

def _fill_dwarf(index: SymbolIndex, raw: dict[str, bytes], sid) -> None:
    from espwatch.symbols.dwarf_info import TAG_INLINED, DebugInfo, DwarfError
    from espwatch.symbols.dwarf_lines import _concat_filename, decode_line_table

    info = DebugInfo(raw)
    units = info.read_units()
    line_data = raw[".debug_line"]
    strs = {".debug_str": raw.get(".debug_str", b""), ".debug_line_str": raw.get(".debug_line_str", b"")}
    coverage: list[tuple[int, int, int]] = []
    fn_base = 0
    unit_no = 0
    var_rows = []
    for unit in units:
        # BFD: a unit without a line program, or whose DIEs fail to parse, is never used
        if unit.stmt_list is None:
            continue
        try:
            table, _files, hdr = decode_line_table(line_data, unit.stmt_list, unit.addr_size,
                                                   unit.comp_dir, strs)
            info.scan_unit(unit)
        except (DwarfError, IndexError, KeyError, struct.error, ValueError):
            unit.funcs = []
            unit.variables = []
            continue
        u = unit_no
        unit_no += 1
        # line rows
        index.unit_row_lo.append(len(index.row_addr))
        file_ids = [sid(name) for name in table.files]
        for addr, fidx, line, disc in table.rows:
            index.row_addr.append(addr)
            index.row_file.append(file_ids[fidx] if fidx >= 0 else fidx)
            index.row_line.append(line & 0xFFFFFFFF)
            index.row_disc.append(disc & 0xFFFFFFFF)
        index.unit_row_hi.append(len(index.row_addr))
        for low, end in table.ranges:
            coverage.append((low, end, u))

        # functions
        def call_name(num: int | None, hdr=hdr, unit=unit) -> int:
            if num is None:
                return -1
            return sid(_concat_filename(hdr, unit.comp_dir, num))

        entries = []
        for i, fn in enumerate(unit.funcs):
            info.resolve_func_name(unit, fn)
            g = fn_base + i
            index.fn_name.append(sid(fn.name))
            index.fn_flags.append((1 if fn.is_linkage else 0) | (2 if fn.tag == TAG_INLINED else 0))
            index.fn_caller.append(fn_base + fn.caller if fn.caller >= 0 else -1)
            index.fn_call_file.append(call_name(fn.call_file) if fn.tag == TAG_INLINED else -1)
            index.fn_call_line.append(fn.call_line & 0xFFFFFFFF)
            index.fn_low0.append(fn.ranges[0][0] if fn.ranges else 0)
            index.fn_rng_lo.append(len(index.rng_low))
            for low, high in fn.ranges:
                index.rng_low.append(low)
                index.rng_high.append(high)
                coverage.append((low, high, u))
            index.fn_rng_hi.append(len(index.rng_low))
            if fn.ranges:
                entries.append((min(r[0] for r in fn.ranges), max(r[1] for r in fn.ranges), g))
        entries.sort()
        index.unit_fn_lo.append(len(index.fe_low))
        wm = 0
        for low, high, g in entries:
            wm = max(wm, high)
            index.fe_low.append(low)
            index.fe_wm.append(wm)
            index.fe_fn.append(g)
        index.unit_fn_hi.append(len(index.fe_low))
        fn_base += len(unit.funcs)

        # variables with a static address, kept in BFD's search order (reverse DIE order)
        for order, var in enumerate(unit.variables):
            name, file_unit, file_num, line = info.resolve_var(unit, var)
            if name is None or file_num is None:
                continue
            if file_unit is unit:
                fname = _concat_filename(hdr, unit.comp_dir, file_num)
            else:
                fname = _foreign_file(info, file_unit, file_num, line_data, strs)
            if not fname:
                continue
            var_rows.append((var.addr, u, -order, sid(name), sid(fname), line))
        unit.funcs = []
        unit.variables = []
    index.n_units = unit_no
    index.has_dwarf = unit_no > 0
    var_rows.sort()
    for addr, u, _o, name, fname, line in var_rows:
        index.var_addr.append(addr)
        index.var_unit.append(u)
        index.var_name.append(name)
        index.var_file.append(fname)
        index.var_line.append(line & 0xFFFFFFFF)
    _fill_segments(index, coverage)

def _foreign_file(info, unit, num, line_data, strs) -> str | None:
    from espwatch.symbols.dwarf_info import DwarfError
    from espwatch.symbols.dwarf_lines import _concat_filename, decode_line_table

    if unit is None or unit.stmt_list is None:
        return None
    try:
        _table, _files, hdr = decode_line_table(line_data, unit.stmt_list, unit.addr_size,
                                                unit.comp_dir, strs)
    except (DwarfError, IndexError, KeyError, struct.error, ValueError):
        return None
    return _concat_filename(hdr, unit.comp_dir, num)

def _fill_segments(index: SymbolIndex, coverage: list[tuple[int, int, int]]) -> None:
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


def _check_complete(elf, file_size: int, path: str) -> None:
    """Raise DecodeError when the file is shorter than its headers say (a truncated copy)."""
    end = elf["e_shoff"] + elf["e_shnum"] * elf["e_shentsize"]
    for sec in elf.iter_sections():
        if sec["sh_type"] != "SHT_NOBITS":
            end = max(end, sec["sh_offset"] + sec["sh_size"])
    if end > file_size:
        raise DecodeError(f"{path} is truncated ({file_size} bytes, its headers need {end})")


def _machine_number(elf) -> int:
    name = elf["e_machine"]
    return {"EM_XTENSA": EM_XTENSA, "EM_RISCV": EM_RISCV}.get(name, -1)
