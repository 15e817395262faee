"""ELF sections and the symbol table (from `elf_file`), shaped for BFD-compatible lookups.

GNU addr2line names an address from the symbol table when DWARF has no (linkage) name for it
(`_bfd_elf_find_function`): the closest symbol at or below the address in the same section, with
ties broken by `better_fit`, and the file name of the preceding `STT_FILE` symbol.
"""

from __future__ import annotations

from operator import itemgetter

from espwatch.symbols.elf_file import SHF_ALLOC, SHF_EXECINSTR, ElfImage

# BFD symbol flag bits we need
FL_FUNCTION = 1
FL_NOTYPE = 2
FL_GLOBAL = 4
FL_LOCAL = 8


class SectionInfo:
    """One SHF_ALLOC section: header index, name, address range, executable or not."""

    __slots__ = ("code", "end", "index", "name", "start")

    def __init__(self, index: int, name: str, start: int, end: int, code: bool) -> None:
        self.index = index
        self.name = name
        self.start = start
        self.end = end
        self.code = code


def alloc_sections(elf: ElfImage) -> list[SectionInfo]:
    """SHF_ALLOC sections with a size, in section-header order (addr2line tries them in this order)."""
    out = []
    for sec in elf.sections:
        if sec.index == 0 or not sec.flags & SHF_ALLOC or sec.size == 0:
            continue
        code = bool(sec.flags & SHF_EXECINSTR)
        out.append(SectionInfo(sec.index, sec.name, sec.addr, sec.addr + sec.size, code))
    return out


def _is_local_label(name: str, riscv: bool) -> bool:
    if riscv and (name in ("$d", "$x") or name.startswith("$x") or name.startswith("$d")):
        return True
    if riscv and (name.startswith(".L") or name.startswith("..") or name.startswith("_.L_")):
        return True
    if riscv and len(name) > 1 and name[0] == "L" and name[1].isdigit():
        rest = name[2:]
        return "\x01" in rest or "\x02" in rest
    return False


_SECTION_ADDRESS = itemgetter(0, 1)
_BIND_FLAGS = {0: FL_LOCAL, 1: FL_GLOBAL}


_FLAGS_BY_KIND = {2: FL_FUNCTION, 10: FL_FUNCTION, 0: FL_NOTYPE}  # STT_FUNC, STT_LOOS (GNU_IFUNC), NOTYPE
_NOT_FUNCTIONS = frozenset((1, 3, 4, 5, 6))  # OBJECT, SECTION, FILE, COMMON, TLS


def index_symbols(
    elf: ElfImage, sections: list[SectionInfo], riscv: bool
) -> tuple[bool, list[tuple], list[tuple]]:
    """What the index keeps of `.symtab` (else `.dynsym`), in one pass over its rows: (whether it has
    symbols, function candidates, data symbols). Only the names kept are decoded.

    Candidates are `(section, address, size or 1, flags, name, file)`: the symbols BFD's
    `maybe_function_sym` accepts (not SECTION, FILE, OBJECT, TLS or COMMON; not RISC-V local labels; not a
    hidden local NOTYPE of size 0; not below its section's start, where BFD's section-relative unsigned
    value wraps around), with the STT_FILE name `_bfd_elf_find_function` reports, sorted by (section,
    address) with table order kept for ties. Data symbols `(section, address, name, flags)`: for non-code
    sections the symbol BFD picks at an exact address (the first global, else the last local), by address
    then section. tests/test_symbols_fast_paths.py checks both against a general reader written the
    plain way (a record per symbol)."""
    table = elf.symbol_table()
    if table is None:
        return False, [], []
    sec, blob, strtab = table
    import struct

    entry = struct.Struct("<IIIBBH")
    entsize = sec.entsize if sec.entsize >= entry.size else entry.size
    count = len(blob) // entsize
    if entsize == entry.size:
        rows = entry.iter_unpack(blob[:count * entsize])
    else:
        rows = (entry.unpack_from(blob, i * entsize) for i in range(count))
    starts = {s.index: s.start for s in sections}
    data_secs = {s.index for s in sections if not s.code}
    find = strtab.find
    n_str = len(strtab)
    cands: list[tuple] = []
    data: dict[tuple[int, int], tuple[str, int]] = {}
    done: set[tuple[int, int]] = set()
    any_symbol = False
    file_name: str | None = None
    state = 0  # as in read_symbols
    first = True
    for st_name, value, size, info, other, shndx in rows:
        if first:
            first = False
            continue
        kind = info & 0xF
        if kind == 4:  # STT_FILE
            if st_name < n_str:
                stop = find(b"\0", st_name)
                file_name = strtab[st_name:stop if stop >= 0 else n_str].decode("utf-8", "surrogateescape")
            else:
                file_name = ""
            if state == 1:
                state = 2
            continue
        if state == 0:
            state = 1
        any_symbol = True
        if not 0 < shndx < 0xFF00:
            continue  # ABS, UNDEF, COMMON: neither a function candidate nor a data symbol
        candidate = kind not in _NOT_FUNCTIONS
        if candidate:
            start = starts.get(shndx)
            candidate = start is None or value >= start
        is_data = kind != 3 and shndx in data_secs
        if not candidate and not is_data:
            continue
        if st_name < n_str:
            stop = find(b"\0", st_name)
            name = strtab[st_name:stop if stop >= 0 else n_str].decode("utf-8", "surrogateescape")
        else:
            name = ""
        bind = info >> 4
        flags = _FLAGS_BY_KIND.get(kind, 0) | _BIND_FLAGS.get(bind, 0)
        if candidate and bind == 0:
            if riscv and _is_local_label(name, riscv):
                candidate = False
            elif size == 0 and kind == 0 and (other & 3) == 2:
                candidate = False  # a hidden local NOTYPE of size 0
        if candidate:
            file = file_name if file_name is not None and (bind == 0 or state != 2) else None
            cands.append((shndx, value, size or 1, flags, name, file))
        if is_data:
            key = (shndx, value)
            if key not in done:
                data[key] = (name, flags)
                if bind == 1:
                    done.add(key)
    cands.sort(key=_SECTION_ADDRESS)  # stable: symbols at the same place stay in table order
    by_addr = sorted(data.items(), key=_ADDRESS_SECTION)
    return any_symbol, cands, [(key[0], key[1], name, flags) for key, (name, flags) in by_addr]


def _ADDRESS_SECTION(item: tuple) -> tuple[int, int]:
    return item[0][1], item[0][0]
