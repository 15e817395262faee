"""The symbol index in memory and its queries: address -> function / file / line, like GNU addr2line.

Everything is held in flat `array` columns plus one string table, so a 4 MB ESP-IDF ELF costs a few
MB of memory and the cache file loads in milliseconds. The lookup reproduces GNU addr2line 2.40
(BFD `dwarf2.c` + `_bfd_elf_find_function`), including its order-dependent details, which a
`Session` carries from one address to the next like one addr2line process does.
This module imports nothing heavy: building lives in `build`, the on-disk cache in `cache`.
"""

from __future__ import annotations

from _thread import allocate_lock
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (decode starts fast)
if TYPE_CHECKING:
    pass

# symbol flag bits (same values as espwatch.symbols.elf_symbols, kept here so loading a cached index
# does not import the builder)
FL_FUNCTION = 1
FL_NOTYPE = 2


class LineHit:
    """One line of an addr2line answer: innermost function first, then its `(inlined by)` callers.

    (A plain class, not a dataclass: importing `dataclasses` costs `decode` 10 ms.)"""

    __slots__ = ("discriminator", "file", "function", "line")

    def __init__(self, function: str | None, file: str | None, line: int, discriminator: int) -> None:
        self.function = function
        self.file = file
        self.line = line
        self.discriminator = discriminator

    def _key(self) -> tuple:
        return (self.function, self.file, self.line, self.discriminator)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LineHit) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"LineHit(function={self.function!r}, file={self.file!r}, line={self.line!r}, "
                f"discriminator={self.discriminator!r})")


class Session:
    """The state one GNU addr2line process accumulates (which units it has read, names it fixed)."""

    __slots__ = ("linkage", "renamed", "units_read")

    def __init__(self) -> None:
        self.units_read = 0
        self.linkage: set[int] = set()
        self.renamed: dict[int, int] = {}


def printable(s: str) -> str:
    """`s` with every character that is not printable (C0 and C1 controls, ESC, line and paragraph
    separators, format characters, bytes that were not UTF-8) spelled as a `\\xNN` / `\\uNNNN` escape,
    so that a name from an ELF or a cache file can never drive the terminal."""
    out = []
    for c in s:
        if c.isprintable():
            out.append(c)
            continue
        o = ord(c)
        if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            o -= 0xDC00
        out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
    return "".join(out)


class IndexQuery:
    """Address -> function / file / line (with inline chain) for one ELF file: the columns and the lookups.

    `espwatch.symbols.SymbolIndex` adds building and the cache; units not read yet are parsed through
    the DWARF source the builder attached (`source_factory`)."""

    # columns saved in the cache, in this order
    _ARRAYS = (
        "sec_start", "sec_end", "sec_code", "sec_index",
        "seg_start", "seg_off", "seg_units", "ungated",
        "unit_off", "unit_state", "unit_gate_lo", "unit_gate_hi", "gate_low", "gate_high",
        "unit_row_lo", "unit_row_hi", "row_addr", "row_file", "row_line", "row_disc",
        "unit_fn_lo", "unit_fn_hi", "fe_low", "fe_wm", "fe_fn",
        "fn_rng_lo", "fn_rng_hi", "rng_low", "rng_high",
        "fn_name", "fn_flags", "fn_caller", "fn_call_file", "fn_call_line", "fn_low0",
        "var_addr", "var_unit", "var_name", "var_file", "var_line",
        "cand_sec", "cand_off", "cand_key", "cand_size", "cand_flags", "cand_name", "cand_file", "cand_group",
        "ds_sec", "ds_addr", "ds_name", "ds_flags",
    )

    # 64-bit columns (addresses, sizes, sort keys); unsigned 32-bit for line numbers and discriminators
    # (BFD's `unsigned int`); the rest are signed 32-bit indexes and flags.
    _TYPECODES = {
        **dict.fromkeys(("sec_start", "sec_end", "seg_start", "unit_off", "gate_low", "gate_high",
                         "row_addr", "fe_low", "fe_wm", "rng_low",
                         "rng_high", "fn_low0", "var_addr", "cand_off", "cand_key", "cand_size", "ds_addr"),
                        "q"),
        **dict.fromkeys(("row_line", "row_disc", "fn_call_line", "var_line"), "I"),
    }

    def __init__(self) -> None:
        self.path: str = ""
        self.sha256: str = ""
        self.arch: str = ""
        self.machine: int = 0
        self.has_dwarf: bool = False
        self.has_symbols: bool = False
        self.n_units: int = 0  # compilation units in .debug_info (usable or not), in DIE order
        self.strings: list[str] = []
        self.vars_sorted: bool = True  # False while parsed units' variables wait for `complete()`
        self.from_cache: bool = False
        self.dirty: bool = False  # units were parsed since the index was built or loaded
        self.cache_file: str | None = None  # where `store()` saves it (set by `open`)
        self.source_factory: Callable[[], object] | None = None  # gives the DWARF source for lazy parsing
        self._source: object | None = None
        self._string_ids: dict[str, int] | None = None
        self._lock = allocate_lock()
        self.build_seconds: float = 0.0
        for name in self._ARRAYS:
            setattr(self, name, array(self._TYPECODES.get(name, "i")))

    # -- queries --------------------------------------------------------------------------------------
    def section_at(self, addr: int) -> int:
        """Position in the section columns of the first SHF_ALLOC section holding addr, or -1."""
        for i in range(len(self.sec_start)):
            if self.sec_start[i] <= addr < self.sec_end[i]:
                return i
        return -1

    def is_code(self, addr: int) -> bool:
        """True when addr lies in an executable (SHF_EXECINSTR) section."""
        i = self.section_at(addr)
        return i >= 0 and bool(self.sec_code[i])

    def lookup(self, addr: int, session: Session | None = None) -> list[LineHit] | None:
        """GNU addr2line's answer for addr: None for `?? ??:0`, else innermost-first lines."""
        if session is None:
            session = Session()
        s = self.section_at(addr)
        if s < 0:
            return None
        sec_index = self.sec_index[s]
        found = False
        function = -1
        filename = -1
        line = 0
        disc = 0
        data_sym = -1 if self.sec_code[s] else self._data_symbol(sec_index, addr)
        if data_sym >= 0:
            if not self.ds_flags[data_sym] & FL_FUNCTION:
                hit = self._variable(addr, self.strings[self.ds_name[data_sym]], session)
                if hit is not None:
                    filename, line = hit
                    found = True
        elif self.n_units:
            unit = self._pick_unit(addr, session)
            if unit >= 0:
                found = True
                function = self._function(unit, addr)
                row = self._row(unit, addr)
                if row >= 0:
                    filename = self.row_file[row]
                    line = self.row_line[row]
                    disc = self.row_disc[row]
        name = -1
        linkage = function >= 0 and (bool(self.fn_flags[function] & 1) or function in session.linkage)
        if linkage:
            name = session.renamed.get(function, self.fn_name[function])
        else:
            sym = self._find_function(sec_index, addr)
            if sym >= 0:
                name = self.cand_name[sym]
                if filename < 0:
                    filename = self.cand_file[sym]
                found = True
            if function >= 0:
                if sym < 0:
                    name = session.renamed.get(function, self.fn_name[function])
                elif self.cand_off[sym] == self.fn_low0[function]:
                    session.renamed[function] = name
                session.linkage.add(function)
        if not found:
            return None
        text = self._text
        hits = [LineHit(text(name), text(filename), line, disc)]
        f = function
        while f >= 0 and self.fn_flags[f] & 2 and self.fn_caller[f] >= 0:
            caller = self.fn_caller[f]
            cname = session.renamed.get(caller, self.fn_name[caller])
            cfile = self.fn_call_file[f]
            hits.append(LineHit(text(cname), text(cfile), self.fn_call_line[f], disc))
            f = caller
        return hits

    def _text(self, i: int) -> str | None:
        """String `i` of the table, safe to print (None for -1)."""
        if i < 0:
            return None
        s = self.strings[i]
        return s if s.isprintable() else printable(s)

    def lookup_many(self, addrs: Iterable[int]) -> list[list[LineHit] | None]:
        """Answers for several addresses, in order, with one shared Session (one addr2line run)."""
        session = Session()
        return [self.lookup(a, session) for a in addrs]

    # -- units: which one answers for an address, parsed on demand --------------------------------
    def _candidates(self, addr: int) -> list[int]:
        """Units that may answer for addr, in DIE order: those whose own ranges hold it, and those
        without ranges (BFD consults their tables for every address, like we do)."""
        i = bisect_right(self.seg_start, addr) - 1
        gated = self.seg_units[self.seg_off[i]:self.seg_off[i + 1]].tolist() if i >= 0 else []
        if not self.ungated:
            return gated
        return sorted(gated + self.ungated.tolist())

    def _pick_unit(self, addr: int, session: Session) -> int:
        """BFD: the first unit (DIE order) whose own ranges hold addr (or that has none) and whose line
        table or function ranges cover it."""
        for u in self._candidates(addr):
            if self.unit_state[u] == 0:
                if self._drop_empty_unit(u):
                    continue
                self.parse_unit(u)
            if self.unit_state[u] != 1:
                continue
            if self._row(u, addr) >= 0 or self._function(u, addr) >= 0:
                if u >= session.units_read:
                    session.units_read = u + 1
                return u
        session.units_read = self.n_units
        return -1

    @property
    def is_complete(self) -> bool:
        """True when every unit is parsed (nothing left to read from the ELF)."""
        return self.vars_sorted and 0 not in self.unit_state

    def parse_unit(self, unit: int) -> None:
        """Read one unit's line table and DIEs from the ELF into the columns (once)."""
        with self._lock:
            if self.unit_state[unit] != 0:
                return
            self._dwarf_source().parse_unit(self, unit)
            self.dirty = True

    def _drop_empty_unit(self, unit: int) -> bool:
        """For a unit without address ranges of its own: True (and never a candidate again) when it
        can cover no address at all: no function DIE with a range, no line sequence (data-only units)."""
        if unit not in self.ungated:
            return False
        with self._lock:
            if unit not in self.ungated or not self._dwarf_source().covers_nothing(unit):
                return False
            self.ungated.remove(unit)
            self.dirty = True
            return True

    def complete(self) -> None:
        """Parse every unit not read yet, and order the static variables (for data addresses)."""
        for u in range(self.n_units):
            if self.unit_state[u] == 0:
                self.parse_unit(u)
        if not self.vars_sorted:
            with self._lock:
                self._sort_variables()
                self.dirty = True

    def _sort_variables(self) -> None:
        """Order the variable columns by address, then unit, then reverse DIE order (BFD's search order)."""
        order = sorted(range(len(self.var_addr)), key=lambda i: (self.var_addr[i], self.var_unit[i], -i))
        for col in ("var_addr", "var_unit", "var_name", "var_file", "var_line"):
            old = getattr(self, col)
            setattr(self, col, array(old.typecode, [old[i] for i in order]))
        self.vars_sorted = True

    def _dwarf_source(self):
        if self._source is None:
            if self.source_factory is None:
                from espwatch.errors import ElfError

                raise ElfError(f"the index of {self.path or 'this ELF'} is partial; the ELF is needed")
            self._source = self.source_factory()
        return self._source

    def string_id(self, s: str | None) -> int:
        """The id of `s` in the string table (added when new); -1 for None."""
        if s is None:
            return -1
        ids = self._string_ids
        if ids is None:
            ids = self._string_ids = {v: i for i, v in enumerate(self.strings)}
        i = ids.get(s)
        if i is None:
            i = ids[s] = len(self.strings)
            self.strings.append(s)
        return i

    def _row(self, unit: int, addr: int) -> int:
        lo = self.unit_row_lo[unit]
        hi = self.unit_row_hi[unit]
        i = bisect_right(self.row_addr, addr, lo, hi) - 1
        if i < lo or self.row_file[i] == -2:
            return -1
        return i

    def _function(self, unit: int, addr: int) -> int:
        """BFD lookup_address_in_function_table: smallest containing range, later DIE on ties."""
        lo = self.unit_fn_lo[unit]
        hi = self.unit_fn_hi[unit]
        if lo == hi:
            return -1
        i = bisect_right(self.fe_wm, addr, lo, hi)
        best = -1
        best_len = 1 << 64
        fe_low = self.fe_low
        while i < hi and fe_low[i] <= addr:
            g = self.fe_fn[i]
            for r in range(self.fn_rng_lo[g], self.fn_rng_hi[g]):
                low = self.rng_low[r]
                high = self.rng_high[r]
                if low <= addr < high:
                    length = high - low
                    if length < best_len or (length == best_len and g > best):
                        best = g
                        best_len = length
            i += 1
        return best

    def _data_symbol(self, sec_index: int, addr: int) -> int:
        i = bisect_right(self.ds_addr, addr) - 1
        while i >= 0 and self.ds_addr[i] == addr:
            if self.ds_sec[i] == sec_index:
                return i
            i -= 1
        return -1

    def _variable(self, addr: int, symname: str, session: Session) -> tuple[int, int] | None:
        if not self.is_complete:
            self.complete()  # BFD searches the variables of every unit
        lo = bisect_right(self.var_addr, addr - 1)
        hi = bisect_right(self.var_addr, addr)
        by_unit: dict[int, list[int]] = {}
        for i in range(lo, hi):
            by_unit.setdefault(self.var_unit[i], []).append(i)
        read = session.units_read
        order = [u for u in sorted(by_unit, reverse=True) if u < read]
        order += [u for u in sorted(by_unit) if u >= read]
        for u in order:
            for i in by_unit[u]:
                if self.strings[self.var_name[i]] in symname:
                    if u >= read:
                        session.units_read = u + 1
                    return self.var_file[i], self.var_line[i]
        session.units_read = self.n_units
        return None

    def _find_function(self, sec_index: int, addr: int) -> int:
        """BFD _bfd_elf_find_function: index into the candidate columns, or -1."""
        key = (sec_index << 40) | addr
        # candidates are sorted by (section, offset); bisect on the combined key
        i = bisect_right(self.cand_key, key) - 1
        if i < 0 or self.cand_sec[i] != sec_index:
            return -1
        group = self.cand_group[i]
        j = i
        while j > 0 and self.cand_group[j - 1] == group:
            j -= 1
        best = j
        for k in range(j + 1, i + 1):
            if self._better_fit(best, k, addr):
                best = k
        return best

    def _better_fit(self, cur: int, new: int, addr: int) -> bool:
        off = self.cand_off[cur]
        cur_size = self.cand_size[cur]
        new_size = self.cand_size[new]
        if off + cur_size <= addr:
            return new_size > cur_size
        if off + new_size <= addr:
            return False
        cf = self.cand_flags[cur]
        nf = self.cand_flags[new]
        if cf & FL_FUNCTION and not nf & FL_FUNCTION:
            return False
        if nf & FL_FUNCTION and not cf & FL_FUNCTION:
            return True
        if cf & FL_NOTYPE and not nf & FL_NOTYPE:
            return True
        if not cf & FL_NOTYPE and nf & FL_NOTYPE:
            return False
        return new_size < cur_size

    def memory_bytes(self) -> int:
        """Approximate size of the columns and strings (for reports and benchmarks)."""
        total = sum(getattr(self, n).itemsize * len(getattr(self, n)) for n in self._ARRAYS)
        return total + sum(len(s) + 49 for s in self.strings)
