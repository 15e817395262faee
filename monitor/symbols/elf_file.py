"""A small reader of 32-bit little-endian ELF files: header, section headers, section bytes, symbols.

Only what the symbol index needs, on the file's bytes with `struct` (no pyelftools: reading 4,000
symbols through it costs a third of a second). Every inconsistency is a `ElfError` with one line.
"""

from __future__ import annotations

import struct

from espwatch.errors import ElfError

EM_XTENSA = 94
EM_RISCV = 243
ARCH_BY_MACHINE = {EM_XTENSA: "xtensa", EM_RISCV: "riscv"}
# names for the message about a foreign ELF (the usual suspects; others are printed as numbers)
MACHINE_NAMES = {
    0: "EM_NONE", 2: "EM_SPARC", 3: "EM_386", 8: "EM_MIPS", 20: "EM_PPC", 21: "EM_PPC64", 40: "EM_ARM",
    50: "EM_IA_64", 62: "EM_X86_64", 83: "EM_AVR", 94: "EM_XTENSA", 183: "EM_AARCH64", 243: "EM_RISCV",
    247: "EM_BPF", 258: "EM_LOONGARCH",
}

SHT_NOBITS = 8
SHT_SYMTAB = 2
SHT_DYNSYM = 11
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHF_COMPRESSED = 0x800
ELFCOMPRESS_ZLIB = 1

_EHDR = struct.Struct("<HHIIIIIHHHHHH")  # e_type .. e_shstrndx, after e_ident
_SHDR = struct.Struct("<IIIIIIIIII")
_SYM = struct.Struct("<IIIBBH")

# STT_* names as pyelftools spelled them (the symbol code keys on these strings)
_STT = {0: "STT_NOTYPE", 1: "STT_OBJECT", 2: "STT_FUNC", 3: "STT_SECTION", 4: "STT_FILE", 5: "STT_COMMON",
        6: "STT_TLS", 10: "STT_LOOS"}
_STB = {0: "STB_LOCAL", 1: "STB_GLOBAL", 2: "STB_WEAK"}


class ElfSection:
    """One section header."""

    __slots__ = ("addr", "entsize", "flags", "index", "link", "name", "offset", "size", "type")

    def __init__(self, index: int, name: str, fields: tuple[int, ...]) -> None:
        self.index = index
        self.name = name
        _n, self.type, self.flags, self.addr, self.offset, self.size, self.link, _i, _a, self.entsize = fields


class ElfImage:
    """An ELF file in memory: its machine and section headers; section bytes on request."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.path = path
        self.machine = 0
        self.sections: list[ElfSection] = []
        self._parse()

    @property
    def arch(self) -> str:
        return ARCH_BY_MACHINE[self.machine]

    def _parse(self) -> None:
        data, path = self.data, self.path
        if data[:4] != b"\x7fELF":
            raise ElfError(f"{path} is not an ELF file")
        if len(data) < 20:
            raise ElfError(f"{path} is truncated ({len(data)} bytes, not even an ELF header)")
        little = data[5] == 1
        machine = int.from_bytes(data[18:20], "little" if little else "big")
        if machine not in ARCH_BY_MACHINE:
            name = MACHINE_NAMES.get(machine, f"machine {machine}")
            raise ElfError(f"{path} is an ELF for {name}, not an ESP32-family chip (Xtensa or RISC-V)")
        if data[4] != 1 or not little:
            raise ElfError(f"{path} is not a 32-bit little-endian ELF")
        if len(data) < 52:
            raise ElfError(f"{path} is truncated ({len(data)} bytes, its headers need 52)")
        self.machine = machine
        (_type, _mach, _ver, _entry, _phoff, shoff, _flags, _ehsize, _phentsize, _phnum, shentsize, shnum,
         shstrndx) = _EHDR.unpack_from(data, 16)
        if shnum == 0 or shoff == 0:
            return
        if shentsize < _SHDR.size:
            raise ElfError(f"{path} is damaged (section header size {shentsize})")
        end = shoff + shnum * shentsize
        if end > len(data):
            raise ElfError(f"{path} is truncated ({len(data)} bytes, its headers need {end})")
        raw = [_SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        for fields in raw:
            if fields[1] != SHT_NOBITS:
                end = max(end, fields[4] + fields[5])
        if end > len(data):
            raise ElfError(f"{path} is truncated ({len(data)} bytes, its headers need {end})")
        names = b""
        if shstrndx < shnum and raw[shstrndx][1] != SHT_NOBITS:
            s = raw[shstrndx]
            names = data[s[4]:s[4] + s[5]]
        for i, fields in enumerate(raw):
            self.sections.append(ElfSection(i, _cstr(names, fields[0]), fields))

    def section(self, name: str) -> ElfSection | None:
        """The first section called `name`, else None."""
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def section_data(self, sec: ElfSection) -> bytes:
        """A section's bytes (decompressed when SHF_COMPRESSED); empty for SHT_NOBITS."""
        if sec.type == SHT_NOBITS:
            return b""
        blob = self.data[sec.offset:sec.offset + sec.size]
        if not sec.flags & SHF_COMPRESSED:
            return blob
        if len(blob) < 12:
            raise ElfError(f"{self.path}: compressed section {sec.name} is damaged")
        ch_type, ch_size, _align = struct.unpack_from("<III", blob, 0)
        if ch_type != ELFCOMPRESS_ZLIB:
            raise ElfError(f"{self.path}: section {sec.name} uses an unknown compression ({ch_type})")
        import zlib

        try:
            out = zlib.decompress(blob[12:])
        except zlib.error as exc:
            raise ElfError(f"{self.path}: compressed section {sec.name} is damaged ({exc})") from exc
        if len(out) != ch_size:
            raise ElfError(f"{self.path}: compressed section {sec.name} has the wrong size")
        return out

    def symbol_table(self) -> tuple[ElfSection, bytes, bytes] | None:
        """(.symtab, its bytes, its string table bytes), else the same for .dynsym, else None."""
        for name, kind in ((".symtab", SHT_SYMTAB), (".dynsym", SHT_DYNSYM)):
            sec = self.section(name)
            if sec is None or sec.type != kind:
                continue
            strtab = b""
            if 0 < sec.link < len(self.sections):
                strtab = self.section_data(self.sections[sec.link])
            return sec, self.section_data(sec), strtab
        return None

    def iter_symbols(self):
        """(order, name, value, size, type name, bind name, hidden, section index or -1) per symbol."""
        table = self.symbol_table()
        if table is None:
            return
        sec, blob, strtab = table
        entsize = sec.entsize if sec.entsize >= _SYM.size else _SYM.size
        count = len(blob) // entsize
        unpack = _SYM.unpack_from
        for order in range(count):
            st_name, value, size, info, other, shndx = unpack(blob, order * entsize)
            kind = info & 0xF
            bind = info >> 4
            yield (order, _cstr(strtab, st_name), value, size, _STT.get(kind, str(kind)),
                   _STB.get(bind, str(bind)), (other & 3) == 2, shndx if 0 < shndx < 0xFF00 else -1)


def _cstr(table: bytes, offset: int) -> str:
    if offset >= len(table):
        return ""
    end = table.find(b"\0", offset)
    if end < 0:
        end = len(table)
    return table[offset:end].decode("utf-8", "surrogateescape")


def read_elf(path: str, data: bytes | None = None) -> ElfImage:
    """The ELF at `path` (or its bytes, already read); ElfError when unusable."""
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise ElfError(f"cannot open ELF file {path}: {exc.strerror or exc}") from exc
    try:
        return ElfImage(data, path)
    except ElfError:
        raise
    except (struct.error, ValueError, IndexError) as exc:
        raise ElfError(f"{path} is truncated or damaged ({exc})") from exc
