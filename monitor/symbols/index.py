"""The per-ELF symbol index: built once from DWARF + symbol table, cached on disk, queried by address.

Everything is held in flat `array` columns plus one string table, so a 4 MB ESP-IDF ELF costs a few
MB of memory and the cache file loads in milliseconds. The lookup reproduces GNU addr2line 2.40
(BFD `dwarf2.c` + `_bfd_elf_find_function`), including its order-dependent details, which a
`Session` carries from one address to the next like one addr2line process does.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from espwatch.symbols.elf_locate import elf_sha256
from espwatch.symbols.errors import DecodeError

if TYPE_CHECKING:
    from concurrent.futures import Future

# symbol flag bits (same values as espwatch.symbols.elf_symbols, kept here so loading a cached index
# does not import pyelftools)
FL_FUNCTION = 1
FL_NOTYPE = 2

INDEX_VERSION = 6
CACHE_KEEP = 32  # indexes kept in the cache folder (about 2 MB each for a 4 MB ELF)
CACHE_MAGIC = b"ESPWATCH-SYMIDX\n"
EM_XTENSA = 94
EM_RISCV = 243
ARCH_BY_MACHINE = {EM_XTENSA: "xtensa", EM_RISCV: "riscv"}
_DEBUG_SECTIONS = (
    ".debug_info", ".debug_abbrev", ".debug_str", ".debug_line", ".debug_line_str", ".debug_ranges",
    ".debug_rnglists", ".debug_str_offsets", ".debug_addr",
)


@dataclass(slots=True)
class LineHit:
    """One line of an addr2line answer: innermost function first, then its `(inlined by)` callers."""

    function: str | None
    file: str | None
    line: int
    discriminator: int


@dataclass(slots=True)
class Session:
    """The state one GNU addr2line process accumulates (which units it has read, names it fixed)."""

    units_read: int = 0
    linkage: set[int] = field(default_factory=set)
    renamed: dict[int, int] = field(default_factory=dict)


def default_cache_dir() -> Path:
    """`ESPWATCH_CACHE_DIR`, else the platform cache folder for espwatch."""
    env = os.environ.get("ESPWATCH_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("espwatch")) / "symbols"


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


class SymbolIndex:
    """Address -> function / file / line (with inline chain) for one ELF file."""

    # columns saved in the cache, in this order
    _ARRAYS = (
        "sec_start", "sec_end", "sec_code", "sec_index",
        "seg_start", "seg_off", "seg_units",
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
        **dict.fromkeys(("sec_start", "sec_end", "seg_start", "row_addr", "fe_low", "fe_wm", "rng_low",
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
        self.n_units: int = 0
        self.strings: list[str] = []
        self.from_cache: bool = False
        self.build_seconds: float = 0.0
        for name in self._ARRAYS:
            setattr(self, name, array(self._TYPECODES.get(name, "i")))

    # -- building -----------------------------------------------------------------------------------
    @classmethod
    def build(cls, path: str | os.PathLike[str], sha256: str | None = None) -> SymbolIndex:
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
        index = cls()
        index.path = path
        index.sha256 = sha256 or elf_sha256(path)
        index.machine = machine
        index.arch = ARCH_BY_MACHINE[machine]
        try:
            index._fill(sections, symbols, raw)
        except Exception as exc:  # damaged tables must give one clear message, never a traceback
            raise DecodeError(
                f"{path}: cannot read its symbol table or debug info ({type(exc).__name__}: {exc})"
            ) from exc
        index.build_seconds = time.perf_counter() - t0
        return index

    def _fill(self, sections, symbols, raw: dict[str, bytes]) -> None:
        strings = _Strings()
        sid = strings.id
        for s in sections:
            self.sec_start.append(s.start)
            self.sec_end.append(s.end)
            self.sec_code.append(1 if s.code else 0)
            self.sec_index.append(s.index)
        self._fill_symbols(sections, symbols, sid)
        if ".debug_info" in raw and ".debug_line" in raw:
            self._fill_dwarf(raw, sid)
        self.strings = strings.items

    def _fill_symbols(self, sections, symbols, sid) -> None:
        from espwatch.symbols.elf_symbols import data_symbols, function_candidates

        self.has_symbols = bool(symbols)
        cands = function_candidates(symbols, self.arch == "riscv", sections)
        group = -1
        prev = None
        for sec, off, s in cands:
            if (sec, off) != prev:
                group += 1
                prev = (sec, off)
            self.cand_sec.append(sec)
            self.cand_off.append(off)
            self.cand_key.append((sec << 40) | off)
            self.cand_size.append(s.size or 1)
            self.cand_flags.append(s.flags)
            self.cand_name.append(sid(s.name))
            self.cand_file.append(sid(s.file))
            self.cand_group.append(group)
        by_addr = sorted(data_symbols(symbols, sections).items(), key=lambda kv: (kv[0][1], kv[0][0]))
        for (sec, addr), s in by_addr:
            self.ds_sec.append(sec)
            self.ds_addr.append(addr)
            self.ds_name.append(sid(s.name))
            self.ds_flags.append(s.flags)

    def _fill_dwarf(self, raw: dict[str, bytes], sid) -> None:
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
            self.unit_row_lo.append(len(self.row_addr))
            file_ids = [sid(name) for name in table.files]
            for addr, fidx, line, disc in table.rows:
                self.row_addr.append(addr)
                self.row_file.append(file_ids[fidx] if fidx >= 0 else fidx)
                self.row_line.append(line & 0xFFFFFFFF)
                self.row_disc.append(disc & 0xFFFFFFFF)
            self.unit_row_hi.append(len(self.row_addr))
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
                self.fn_name.append(sid(fn.name))
                self.fn_flags.append((1 if fn.is_linkage else 0) | (2 if fn.tag == TAG_INLINED else 0))
                self.fn_caller.append(fn_base + fn.caller if fn.caller >= 0 else -1)
                self.fn_call_file.append(call_name(fn.call_file) if fn.tag == TAG_INLINED else -1)
                self.fn_call_line.append(fn.call_line & 0xFFFFFFFF)
                self.fn_low0.append(fn.ranges[0][0] if fn.ranges else 0)
                self.fn_rng_lo.append(len(self.rng_low))
                for low, high in fn.ranges:
                    self.rng_low.append(low)
                    self.rng_high.append(high)
                    coverage.append((low, high, u))
                self.fn_rng_hi.append(len(self.rng_low))
                if fn.ranges:
                    entries.append((min(r[0] for r in fn.ranges), max(r[1] for r in fn.ranges), g))
            entries.sort()
            self.unit_fn_lo.append(len(self.fe_low))
            wm = 0
            for low, high, g in entries:
                wm = max(wm, high)
                self.fe_low.append(low)
                self.fe_wm.append(wm)
                self.fe_fn.append(g)
            self.unit_fn_hi.append(len(self.fe_low))
            fn_base += len(unit.funcs)

            # variables with a static address, kept in BFD's search order (reverse DIE order)
            for order, var in enumerate(unit.variables):
                name, file_unit, file_num, line = info.resolve_var(unit, var)
                if name is None or file_num is None:
                    continue
                if file_unit is unit:
                    fname = _concat_filename(hdr, unit.comp_dir, file_num)
                else:
                    fname = self._foreign_file(info, file_unit, file_num, line_data, strs)
                if not fname:
                    continue
                var_rows.append((var.addr, u, -order, sid(name), sid(fname), line))
            unit.funcs = []
            unit.variables = []
        self.n_units = unit_no
        self.has_dwarf = unit_no > 0
        var_rows.sort()
        for addr, u, _o, name, fname, line in var_rows:
            self.var_addr.append(addr)
            self.var_unit.append(u)
            self.var_name.append(name)
            self.var_file.append(fname)
            self.var_line.append(line & 0xFFFFFFFF)
        self._fill_segments(coverage)

    @staticmethod
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

    def _fill_segments(self, coverage: list[tuple[int, int, int]]) -> None:
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
            self.seg_start.append(addr)
            self.seg_off.append(len(self.seg_units))
            self.seg_units.extend(key)
            last_key = key
        self.seg_off.append(len(self.seg_units))

    # -- cache ----------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Cache file bytes: magic, version, CRC-32 of the payload, payload (JSON meta, strings, columns).

        No pickle: a cache file is data only, so a tampered cache cannot run code.
        """
        meta = {
            "version": INDEX_VERSION, "sha256": self.sha256, "arch": self.arch, "machine": self.machine,
            "has_dwarf": self.has_dwarf, "has_symbols": self.has_symbols, "n_units": self.n_units,
            "columns": [[n, getattr(self, n).typecode, len(getattr(self, n))] for n in self._ARRAYS],
        }
        meta_blob = json.dumps(meta).encode()
        strings_blob = "\0".join(self.strings).encode("utf-8", "surrogateescape")
        parts = [struct.pack("<II", len(meta_blob), len(strings_blob)), meta_blob, strings_blob]
        parts.extend(getattr(self, n).tobytes() for n in self._ARRAYS)
        payload = b"".join(parts)
        return CACHE_MAGIC + struct.pack("<II", INDEX_VERSION, zlib.crc32(payload)) + payload

    @classmethod
    def from_bytes(cls, blob: bytes, sha256: str) -> SymbolIndex:
        """Rebuild from a cache blob; raises ValueError when it is stale, foreign or corrupt."""
        head = len(CACHE_MAGIC)
        if len(blob) < head + 16 or blob[:head] != CACHE_MAGIC:
            raise ValueError("not an espwatch index")
        version, crc = struct.unpack_from("<II", blob, head)
        if version != INDEX_VERSION:
            raise ValueError("index version mismatch")
        payload = memoryview(blob)[head + 8:]
        if zlib.crc32(payload) != crc:
            raise ValueError("index checksum mismatch")
        try:
            meta_len, str_len = struct.unpack_from("<II", payload, 0)
            pos = 8
            meta = json.loads(bytes(payload[pos:pos + meta_len]))
            pos += meta_len
            strings_blob = bytes(payload[pos:pos + str_len]).decode("utf-8", "surrogateescape")
            pos += str_len
            if meta.get("version") != INDEX_VERSION or meta.get("sha256") != sha256:
                raise ValueError("index is for another ELF")
            columns = meta["columns"]
            if [c[0] for c in columns] != list(cls._ARRAYS):
                raise ValueError("index layout mismatch")
            index = cls()
            for name, typecode, count in columns:
                if typecode != cls._TYPECODES.get(name, "i"):
                    raise ValueError("index layout mismatch")
                arr = array(typecode)
                size = count * arr.itemsize
                arr.frombytes(payload[pos:pos + size])
                if len(arr) != count:
                    raise ValueError("truncated index")
                pos += size
                setattr(index, name, arr)
        except (KeyError, TypeError, struct.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"unreadable index: {exc}") from exc
        index.sha256 = sha256
        index.arch = meta["arch"]
        index.machine = meta["machine"]
        index.has_dwarf = meta["has_dwarf"]
        index.has_symbols = meta["has_symbols"]
        index.n_units = meta["n_units"]
        index.strings = strings_blob.split("\0") if strings_blob else []
        return index

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> SymbolIndex:
        """The index for the ELF at `path`: from the cache when valid, else built and cached."""
        path = os.fspath(path)
        try:
            sha = elf_sha256(path)
        except OSError as exc:
            raise DecodeError(f"cannot read ELF file {path}: {exc.strerror or exc}") from exc
        cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        cfile = cdir / f"{sha}.idx"
        if use_cache:
            try:
                blob = cfile.read_bytes()
            except OSError:
                blob = None
            if blob is not None:
                try:
                    index = cls.from_bytes(blob, sha)
                except ValueError:
                    index = None
                if index is not None:
                    index.path = path
                    index.from_cache = True
                    return index
        index = cls.build(path, sha)
        if use_cache:
            try:
                cdir.mkdir(parents=True, exist_ok=True)
                tmp = cfile.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
                tmp.write_bytes(index.to_bytes())
                os.replace(tmp, cfile)
                _prune(cdir, keep=CACHE_KEEP)
            except OSError:
                pass  # a read-only cache folder only costs speed
        return index

    @classmethod
    def load_async(
        cls, path: str | os.PathLike[str], on_ready: Callable[[Future[SymbolIndex]], None] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> Future[SymbolIndex]:
        """Load (or build) in a daemon thread; `on_ready(future)` runs in that thread when done."""
        from concurrent.futures import Future

        fut: Future[SymbolIndex] = Future()

        def work() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(cls.load(path, cache_dir))
            except BaseException as exc:  # delivered through the future
                fut.set_exception(exc)

        if on_ready is not None:
            fut.add_done_callback(on_ready)
        threading.Thread(target=work, name="espwatch-symbols", daemon=True).start()
        return fut

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
        strings = self.strings
        hits = [LineHit(strings[name] if name >= 0 else None, strings[filename] if filename >= 0 else None,
                        line, disc)]
        f = function
        while f >= 0 and self.fn_flags[f] & 2 and self.fn_caller[f] >= 0:
            caller = self.fn_caller[f]
            cname = session.renamed.get(caller, self.fn_name[caller])
            cfile = self.fn_call_file[f]
            hits.append(LineHit(strings[cname] if cname >= 0 else None,
                                strings[cfile] if cfile >= 0 else None, self.fn_call_line[f], disc))
            f = caller
        return hits

    def lookup_many(self, addrs: Iterable[int]) -> list[list[LineHit] | None]:
        """Answers for several addresses, in order, with one shared Session (one addr2line run)."""
        session = Session()
        return [self.lookup(a, session) for a in addrs]

    def _units_at(self, addr: int) -> array:
        i = bisect_right(self.seg_start, addr) - 1
        if i < 0:
            return self.seg_units[0:0]
        return self.seg_units[self.seg_off[i]:self.seg_off[i + 1]]

    def _pick_unit(self, addr: int, session: Session) -> int:
        units = self._units_at(addr)
        if not units:
            session.units_read = self.n_units
            return -1
        first = units[0]
        if first < session.units_read:
            return first
        session.units_read = first + 1
        return first

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


def _prune(cdir: Path, keep: int) -> None:
    """Keep the `keep` most recently written indexes of the cache folder."""
    files = sorted(cdir.glob("*.idx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        try:
            old.unlink()
        except OSError:
            pass


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
