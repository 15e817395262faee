"""Strings of an ELF by address: the format strings, tags and `%s` arguments that binary log records name.

With binary logging, ESP-IDF keeps format strings (and bootloader tags) in the `.noload` section: it is in
the ELF but not in the image, at address 0 (its first 4 bytes are zero, so that a NULL pointer reads as an
empty string). Strings the app keeps in flash (tags, `%s` arguments in rodata) are sent as their loaded
address. Nothing is read until the first lookup, so a text-only log costs nothing.
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from espwatch.errors import ElfError

BUFFER_FORMATS = {
    b"__ESP_BUFFER_HEX_FORMAT__": "hex",
    b"__ESP_BUFFER_CHAR_FORMAT__": "char",
    b"__ESP_BUFFER_HEXDUMP_FORMAT__": "hexdump",
}
"""Formats of ESP_LOG_BUFFER_HEX / _CHAR / _HEXDUMP in binary mode (args: length, bytes, address)."""

_BINLOG_MARK = b"__ESP_BUFFER_HEX_FORMAT__ len %d"


SHT_PROGBITS = 1
SHF_ALLOC = 0x2


def _section_headers(fh: BinaryIO, path: Path) -> list[tuple[str, int, int, int, int, int]]:
    """(name, type, flags, address, file offset, size) of every section, from the ELF and section headers
    (32 or 64 bits, either byte order); ElfError when they are not there."""
    ident = fh.read(16)
    if ident[:4] != b"\x7fELF":
        raise ElfError(f"{path} is not an ELF file")
    if ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise ElfError(f"{path}: not a usable ELF file (bad class or byte order)")
    end = "<" if ident[5] == 1 else ">"
    wide = ident[4] == 2
    head = struct.Struct(end + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"))
    shdr = struct.Struct(end + ("IIQQQQIIQQ" if wide else "IIIIIIIIII"))
    raw = fh.read(head.size)
    if len(raw) < head.size:
        raise ElfError(f"{path}: not a usable ELF file (truncated header)")
    fields = head.unpack(raw)
    shoff, shentsize, shnum, shstrndx = fields[5], fields[10], fields[11], fields[12]
    if not shoff or shentsize < shdr.size or shstrndx >= shnum:
        raise ElfError(f"{path}: not a usable ELF file (no section headers)")
    fh.seek(shoff)
    table = fh.read(shentsize * shnum)
    if len(table) < shentsize * shnum:
        raise ElfError(f"{path}: not a usable ELF file (truncated section headers)")
    rows = [shdr.unpack_from(table, i * shentsize) for i in range(shnum)]
    names_row = rows[shstrndx]
    fh.seek(names_row[4])
    names = fh.read(names_row[5])
    out = []
    for name_off, sh_type, flags, addr, offset, size, *_ in rows:
        end_name = names.find(b"\x00", name_off)
        name = names[name_off:end_name if end_name >= 0 else len(names)].decode("ascii", "replace")
        out.append((name, sh_type, flags, addr, offset, size))
    return out


@dataclass
class _Section:
    name: str
    addr: int
    size: int
    offset: int
    data: bytes | None = None


class ElfStrings:
    """Lazy string lookup in one ELF (the app's or the bootloader's)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._noload: _Section | None = None
        self._sections: list[_Section] = []
        self._starts: list[int] = []
        self._loaded = False
        self._names: set[str] = set()
        self._cache: dict[int, bytes | None] = {}
        if not self.path.is_file():
            raise ElfError(f"{self.path}: no such ELF file" if not self.path.exists()
                           else f"{self.path} is not a file")

    @property
    def name(self) -> str:
        return self.path.name

    # -- loading ---------------------------------------------------------------------------------------
    def load(self) -> ElfStrings:
        """Read the section table (ElfError with one line when the file is not a usable ELF). Only the ELF
        header and the section headers are read (no DWARF, no pyelftools): cheap enough for every verb."""
        if self._loaded:
            return self
        try:
            with open(self.path, "rb") as fh:
                sections = _section_headers(fh, self.path)
        except OSError as exc:
            raise ElfError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        for name, sh_type, flags, addr, offset, size in sections:
            self._names.add(name)
            if sh_type != SHT_PROGBITS or not size:
                continue
            sec = _Section(name, addr, size, offset)
            if name == ".noload":
                self._noload = sec
            elif flags & SHF_ALLOC and addr:
                self._sections.append(sec)
        self._sections.sort(key=lambda sec: sec.addr)
        self._starts = [sec.addr for sec in self._sections]
        self._loaded = True
        return self

    def _data(self, sec: _Section) -> bytes:
        if sec.data is None:
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(sec.offset)
                    sec.data = fh.read(sec.size)
            except OSError:
                sec.data = b""
        return sec.data

    # -- what kind of ELF ------------------------------------------------------------------------------
    @property
    def has_binlog(self) -> bool:
        """True when this ELF was built with binary logging (its `.noload` holds the buffer formats)."""
        self.load()
        return self._noload is not None and _BINLOG_MARK in self._data(self._noload)

    @property
    def role(self) -> str | None:
        """"app" (it has an app description), "bootloader" (a bootloader description), else None."""
        self.load()
        if ".flash.appdesc" in self._names:
            return "app"
        if ".dram0.bootdesc" in self._names or ".iram_loader.text" in self._names:
            return "bootloader"
        return None

    # -- lookups ----------------------------------------------------------------------------------------
    def _locate(self, addr: int) -> tuple[_Section, int] | None:
        self.load()
        if addr >> 24 == 0:
            sec = self._noload
            if sec is not None and sec.addr <= addr < sec.addr + sec.size:
                return sec, addr - sec.addr
            return None
        k = bisect_right(self._starts, addr) - 1
        for sec in self._sections[max(0, k - 1):k + 1][::-1]:  # sections may share a start address
            if sec.addr <= addr < sec.addr + sec.size:
                return sec, addr - sec.addr
        return None

    def string_at(self, addr: int) -> bytes | None:
        """The NUL-terminated string at `addr` (without the NUL), None when no section holds it."""
        hit = self._cache.get(addr, self)
        if hit is not self:
            return hit  # type: ignore[return-value]
        loc = self._locate(addr)
        out: bytes | None = None
        if loc is not None:
            sec, off = loc
            data = self._data(sec)
            end = data.find(b"\x00", off)
            out = data[off:end if end >= 0 else len(data)]
        if len(self._cache) < 65536:
            self._cache[addr] = out
        return out

    def bytes_at(self, addr: int, size: int) -> bytes | None:
        """`size` bytes at `addr` (fewer at the end of the section), None when no section holds it."""
        loc = self._locate(addr)
        if loc is None:
            return None
        sec, off = loc
        return self._data(sec)[off:off + size]

    def starts_string(self, addr: int) -> bool:
        """False when `addr` is inside a `.noload` string (the byte before it is not a NUL): a format
        address from another build. Elsewhere (merged rodata strings may share a tail) always True."""
        loc = self._locate(addr)
        if loc is None:
            return False
        sec, off = loc
        if sec is not self._noload or off == 0:
            return True
        return self._data(sec)[off - 1] == 0


def bootloader_beside(app_elf: str | os.PathLike[str]) -> Path | None:
    """The bootloader ELF where ESP-IDF puts it: `bootloader/bootloader.elf` in the app ELF's build folder,
    or the `bootloader_elf` of that folder's `project_description.json`; else a `bootloader.elf` copied
    into the same folder as the app ELF."""
    app = Path(app_elf).resolve()
    folder = app.parent
    cand = folder / "bootloader" / "bootloader.elf"
    if cand.is_file():
        return cand
    desc = folder / "project_description.json"
    if desc.is_file():
        import json

        try:
            value = json.loads(desc.read_text(encoding="utf-8")).get("bootloader_elf")
        except (OSError, ValueError, AttributeError):
            value = None
        if isinstance(value, str) and value:
            p = Path(value) if Path(value).is_absolute() else folder / value
            if p.is_file():
                return p
    cand = folder / "bootloader.elf"
    return cand if cand.is_file() and cand != app else None
