"""What crash forensics needs from the application ELF besides the symbol index.

`ProgramInfo.load(elf)` gives, built once and cached next to the symbol index (by the ELF's SHA-256):
- the call frame information (`CfiTable`),
- the allocated sections (to tell app code from ROM, and to read instruction bytes from the file),
- the symbols that lie outside every section (ROM functions the linker scripts name, e.g. `ets_printf`),
- FreeRTOS facts from DWARF and the symbol table: the TCB member offsets (`tskTaskControlBlock`) and the
  addresses of the scheduler's task lists (to say whether a task was ready, blocked or suspended).
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from espwatch.errors import ElfError
from espwatch.symbols import default_cache_dir, elf_sha256
from espwatch.unwind.cfi import CfiTable

INFO_VERSION = 1
CACHE_MAGIC = b"ESPWATCH-PROGRAM\n"
ARCH_BY_MACHINE = {"EM_XTENSA": "xtensa", "EM_RISCV": "riscv"}
TCB_STRUCT = b"tskTaskControlBlock"
TASK_LISTS = ("pxReadyTasksLists", "xDelayedTaskList1", "xDelayedTaskList2", "xPendingReadyList",
              "xSuspendedTaskList", "xTasksWaitingTermination", "pxCurrentTCBs", "pxCurrentTCB")
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    start: int
    end: int
    code: bool
    offset: int  # in the file; -1 for NOBITS


@dataclass
class ProgramInfo:
    """Per-ELF facts for unwinding and core dump decoding (no pyelftools needed once cached)."""

    path: str = ""
    sha256: str = ""
    arch: str = ""
    cfi: CfiTable = field(default_factory=CfiTable)
    sections: list[Section] = field(default_factory=list)
    rom_addrs: array = field(default_factory=lambda: array("q"))
    rom_names: list[str] = field(default_factory=list)
    tcb_size: int = 0
    tcb_offsets: dict[str, int] = field(default_factory=dict)
    task_lists: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (address, size)
    from_cache: bool = False
    build_seconds: float = 0.0
    _code: dict[tuple[int, int], bytes | None] = field(default_factory=dict, repr=False, compare=False)

    # -- queries ----------------------------------------------------------------------------------
    def section_at(self, addr: int) -> Section | None:
        for s in self.sections:
            if s.start <= addr < s.end:
                return s
        return None

    def in_app_code(self, addr: int) -> bool:
        s = self.section_at(addr)
        return s is not None and s.code

    def in_image(self, addr: int) -> bool:
        """True when an allocated section of the ELF holds `addr`."""
        return self.section_at(addr) is not None

    def rom_symbol(self, addr: int, max_offset: int = 0x1000) -> tuple[str, int] | None:
        """The nearest symbol at or below `addr` outside the ELF's sections (ROM), with the offset."""
        if self.in_image(addr):
            return None
        i = bisect_right(self.rom_addrs, addr) - 1
        if i < 0:
            return None
        off = addr - self.rom_addrs[i]
        return (self.rom_names[i], off) if off <= max_offset else None

    def code_bytes(self, addr: int, size: int) -> bytes | None:
        """Instruction bytes of the app image (read from the ELF file), or None outside its code."""
        s = self.section_at(addr)
        if s is None or not s.code or s.offset < 0 or addr + size > s.end or not self.path:
            return None
        key = (addr, size)
        cache = self._code
        if len(cache) > 4096:
            cache.clear()
        if key in cache:
            return cache[key]
        try:
            with open(self.path, "rb") as f:
                f.seek(s.offset + addr - s.start)
                data = f.read(size)
        except OSError:
            data = b""
        out = data if len(data) == size else None
        cache[key] = out
        return out

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def build(cls, path: str | os.PathLike[str], sha256: str | None = None) -> ProgramInfo:
        import time

        from elftools.common.exceptions import DWARFError, ELFError
        from elftools.elf.elffile import ELFFile

        t0 = time.perf_counter()
        path = os.fspath(path)
        info = cls(path=path)
        try:
            with open(path, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    raise ElfError(f"{path} is not an ELF file")
                f.seek(0)
                elf = ELFFile(f)
                info.arch = ARCH_BY_MACHINE.get(elf["e_machine"], "")
                if not info.arch:
                    raise ElfError(f"{path} is an ELF for {elf['e_machine']}, not an ESP32-family chip")
                info._read_sections(elf)
                info._read_symbols(elf)
                if elf.has_dwarf_info():
                    dwarf = elf.get_dwarf_info()
                    info.cfi = CfiTable.from_dwarf(dwarf)
                    info._read_tcb_layout(dwarf)
        except ElfError:
            raise
        except OSError as exc:
            raise ElfError(f"cannot read ELF file {path}: {exc.strerror or exc}") from exc
        except (ELFError, DWARFError, struct.error, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ElfError(f"{path}: cannot read its call frame information ({type(exc).__name__}: {exc})"
                              ) from exc
        info.sha256 = sha256 or elf_sha256(path)
        info.build_seconds = time.perf_counter() - t0
        return info

    def _read_sections(self, elf) -> None:
        for sec in elf.iter_sections():
            flags = sec["sh_flags"]
            if not flags & SHF_ALLOC or sec["sh_size"] == 0:
                continue
            start = sec["sh_addr"]
            nobits = sec["sh_type"] == "SHT_NOBITS"
            self.sections.append(Section(sec.name, start, start + sec["sh_size"], bool(flags & SHF_EXECINSTR),
                                         -1 if nobits else sec["sh_offset"]))
        self.sections.sort(key=lambda s: s.start)

    def _read_symbols(self, elf) -> None:
        symtab = elf.get_section_by_name(".symtab")
        if symtab is None:
            return
        rom: dict[int, str] = {}
        for sym in symtab.iter_symbols():
            name = sym.name
            if not name:
                continue
            if name in TASK_LISTS and sym["st_info"]["type"] == "STT_OBJECT":
                self.task_lists[name] = (sym["st_value"], sym["st_size"])
                continue
            kind = sym["st_info"]["type"]
            if kind not in ("STT_FUNC", "STT_NOTYPE"):
                continue
            value = sym["st_value"]
            if value < 0x40000000 or value >= 0x60000000 or self.in_image(value):
                continue
            if sym["st_shndx"] != "SHN_ABS" and kind != "STT_FUNC":
                continue
            # several names for one address: prefer the ROM's own name over ESP-IDF's `esp_rom_` alias,
            # then the first in name order (stable across runs)
            if value not in rom or _alias_key(name) < _alias_key(rom[value]):
                rom[value] = name
        for addr in sorted(rom):
            self.rom_addrs.append(addr)
            self.rom_names.append(rom[addr])

    def _read_tcb_layout(self, dwarf) -> None:
        for cu in dwarf.iter_CUs():
            top = cu.get_top_DIE()
            name = top.attributes.get("DW_AT_name")
            if name is None or not bytes(name.value).endswith(b"tasks.c"):
                continue
            for die in cu.iter_DIEs():
                if die.tag != "DW_TAG_structure_type":
                    continue
                dname = die.attributes.get("DW_AT_name")
                if dname is None or dname.value != TCB_STRUCT or "DW_AT_byte_size" not in die.attributes:
                    continue
                offsets = {}
                for child in die.iter_children():
                    if child.tag != "DW_TAG_member" or "DW_AT_name" not in child.attributes:
                        continue
                    loc = child.attributes.get("DW_AT_data_member_location")
                    off = _member_offset(loc.value if loc is not None else 0)
                    if off is not None:
                        offsets[child.attributes["DW_AT_name"].value.decode("utf-8", "replace")] = off
                if "pcTaskName" in offsets:
                    self.tcb_size = die.attributes["DW_AT_byte_size"].value
                    self.tcb_offsets = offsets
                    return

    # -- cache ------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays = [getattr(self.cfi, n) for n in CfiTable.COLUMNS] + [self.rom_addrs]
        meta = {
            "version": INFO_VERSION, "sha256": self.sha256, "arch": self.arch,
            "sections": [[s.name, s.start, s.end, s.code, s.offset] for s in self.sections],
            "rom_names": self.rom_names, "tcb_size": self.tcb_size, "tcb_offsets": self.tcb_offsets,
            "task_lists": self.task_lists,
            "columns": [[a.typecode, len(a)] for a in arrays],
        }
        blob = json.dumps(meta).encode()
        payload = struct.pack("<I", len(blob)) + blob + b"".join(a.tobytes() for a in arrays)
        return CACHE_MAGIC + struct.pack("<II", INFO_VERSION, zlib.crc32(payload)) + payload

    @classmethod
    def from_bytes(cls, blob: bytes, sha256: str) -> ProgramInfo:
        """Rebuild from a cache file; ValueError when it is stale, foreign or damaged."""
        head = len(CACHE_MAGIC)
        if len(blob) < head + 12 or blob[:head] != CACHE_MAGIC:
            raise ValueError("not an espwatch program cache")
        version, crc = struct.unpack_from("<II", blob, head)
        payload = memoryview(blob)[head + 8:]
        if version != INFO_VERSION or zlib.crc32(payload) != crc:
            raise ValueError("stale or damaged cache")
        try:
            (n,) = struct.unpack_from("<I", payload, 0)
            meta = json.loads(bytes(payload[4:4 + n]))
            if meta["sha256"] != sha256 or meta["version"] != INFO_VERSION:
                raise ValueError("cache is for another ELF")
            info = cls(sha256=sha256, arch=meta["arch"])
            info.sections = [Section(*s) for s in meta["sections"]]
            info.rom_names = list(meta["rom_names"])
            info.tcb_size = int(meta["tcb_size"])
            info.tcb_offsets = {str(k): int(v) for k, v in meta["tcb_offsets"].items()}
            info.task_lists = {str(k): (int(v[0]), int(v[1])) for k, v in meta["task_lists"].items()}
            pos = 4 + n
            arrays = []
            for typecode, count in meta["columns"]:
                arr = array(typecode)
                size = count * arr.itemsize
                arr.frombytes(payload[pos:pos + size])
                if len(arr) != count:
                    raise ValueError("truncated cache")
                pos += size
                arrays.append(arr)
        except (KeyError, TypeError, struct.error, UnicodeDecodeError, json.JSONElfError) as exc:
            raise ValueError(f"unreadable cache: {exc}") from exc
        if len(arrays) != len(CfiTable.COLUMNS) + 1:
            raise ValueError("cache layout mismatch")
        for name, arr in zip(CfiTable.COLUMNS, arrays, strict=False):
            if arr.typecode != CfiTable.TYPECODES.get(name, "i"):
                raise ValueError("cache layout mismatch")
            setattr(info.cfi, name, arr)
        info.rom_addrs = arrays[-1]
        return info

    @classmethod
    def load(cls, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
             use_cache: bool = True) -> ProgramInfo:
        """The facts of the ELF at `path`: from the cache when valid, else built and cached."""
        path = os.fspath(path)
        try:
            sha = elf_sha256(path)
        except OSError as exc:
            raise ElfError(f"cannot read ELF file {path}: {exc.strerror or exc}") from exc
        cfile = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / f"{sha}.prog"
        if use_cache:
            try:
                info = cls.from_bytes(cfile.read_bytes(), sha)
                info.path = path
                info.from_cache = True
                return info
            except (OSError, ValueError):
                pass
        info = cls.build(path, sha)
        if use_cache:
            try:
                cfile.parent.mkdir(parents=True, exist_ok=True)
                tmp = cfile.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
                tmp.write_bytes(info.to_bytes())
                os.replace(tmp, cfile)
                _prune(cfile.parent)
            except OSError:
                pass  # a read-only cache folder only costs speed
        return info


def _alias_key(name: str) -> tuple[bool, str]:
    return (name.startswith("esp_rom_"), name)


def _member_offset(value) -> int | None:
    """DW_AT_data_member_location: a constant, or (DWARF 2) an expression `DW_OP_plus_uconst N`."""
    if isinstance(value, int):
        return value
    if isinstance(value, list | bytes) and value and value[0] == 0x23:  # DW_OP_plus_uconst
        result, shift = 0, 0
        for b in value[1:]:
            result |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return result
    return None


def _prune(cdir: Path, keep: int = 32) -> None:
    files = sorted(cdir.glob("*.prog"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        try:
            old.unlink()
        except OSError:
            pass
