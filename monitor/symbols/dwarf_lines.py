"""A fast decoder of `.debug_line` programs (DWARF 2 to 5) on raw section bytes.

It reproduces BFD's `decode_line_info` (binutils 2.40, used by GNU addr2line): every row is kept
(is_stmt is ignored), a row replaces the previous one at the same address, the discriminator is reset
after each row, a DWARF 5 sequence starts with file 0, and overlapping sequences are trimmed or dropped
the way `sort_line_sequences` does. File names are joined with `comp_dir` and the include directory
exactly like BFD's `concat_filename`.
"""

from __future__ import annotations

import re
import struct
from bisect import bisect_left
from itertools import islice
from operator import itemgetter
from operator import le as _le

from espwatch.symbols.dwarf_info import (
    F_DATA1,
    F_DATA2,
    F_DATA4,
    F_DATA8,
    F_DATA16,
    F_LINE_STRP,
    F_STRING,
    F_STRP,
    F_UDATA,
    DwarfError,
    _u16,
    _u32,
    _u64,
    cstr,
    initial_length,
    sleb,
    uleb,
)

_first = itemgetter(0)
LNCT_PATH, LNCT_DIRECTORY_INDEX, LNCT_TIMESTAMP, LNCT_SIZE, LNCT_MD5 = 1, 2, 3, 4, 5


class LineTable:
    """The decoded line table of one unit.

    `rows` is flat and sorted: (address, file, line, discriminator) where file indexes `files`
    (-1: no file name). A row with file == -2 marks the end of a sequence (a gap up to the next row)."""

    __slots__ = ("files", "ranges", "rows")

    def __init__(self) -> None:
        self.files: list[str | None] = []
        self.rows: list[tuple[int, int, int, int]] = []
        self.ranges: list[tuple[int, int]] = []  # kept sequences [low, end)


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or (len(path) > 2 and path[1] == ":" and path[2] in "/\\")


class _Header:
    __slots__ = (
        "dirs",
        "dwarf5",
        "file_entries",
        "line_base",
        "line_range",
        "max_ops",
        "min_insn",
        "opcode_base",
        "std_lengths",
    )


def _read_entries(data: bytes, pos: int, end: int, offset_size: int, strs: dict[str, bytes], addr_size: int):
    fmt_count = data[pos]
    pos += 1
    formats = []
    for _ in range(fmt_count):
        ctype, pos = uleb(data, pos)
        form, pos = uleb(data, pos)
        formats.append((ctype, form))
    count, pos = uleb(data, pos)
    if fmt_count == 0 and count:
        raise DwarfError("zero format count")
    if count > end - pos:
        raise DwarfError("bad entry count")
    entries = []
    for _ in range(count):
        name = None
        index = 0
        for ctype, form in formats:
            value: object = None
            if form == F_STRING:
                value, pos = cstr(data, pos)
            elif form in (F_LINE_STRP, F_STRP):
                off = _u32(data, pos)[0] if offset_size == 4 else _u64(data, pos)[0]
                pos += offset_size
                sec = strs[".debug_line_str" if form == F_LINE_STRP else ".debug_str"]
                value = cstr(sec, off)[0] if off < len(sec) else None
            elif form == F_UDATA:
                value, pos = uleb(data, pos)
            elif form == F_DATA1:
                value = data[pos]
                pos += 1
            elif form == F_DATA2:
                value = _u16(data, pos)[0]
                pos += 2
            elif form == F_DATA4:
                value = _u32(data, pos)[0]
                pos += 4
            elif form == F_DATA8:
                value = _u64(data, pos)[0]
                pos += 8
            elif form == F_DATA16:
                pos += 16
            elif form == 0x09:  # block
                n, pos = uleb(data, pos)
                pos += n
            else:
                raise DwarfError(f"unsupported form 0x{form:x} in line header")
            if ctype == LNCT_PATH:
                name = value if isinstance(value, str) else None
            elif ctype == LNCT_DIRECTORY_INDEX and isinstance(value, int):
                index = value
            elif ctype not in (LNCT_TIMESTAMP, LNCT_SIZE, LNCT_MD5):
                raise DwarfError("unknown line content type")
        entries.append((name, index))
    return entries, pos


def _concat_filename(hdr: _Header, comp_dir: str | None, file: int) -> str | None:
    """BFD concat_filename; None stands for an empty name."""
    if not hdr.dwarf5:
        if file == 0:
            return "<unknown>"
        file -= 1
    if file >= len(hdr.file_entries):
        return "<unknown>"
    name, d = hdr.file_entries[file]
    if name is None:
        return "<unknown>"
    if not _is_absolute(name):
        dir_name = None
        subdir = None
        if not hdr.dwarf5:
            d -= 1
        if 0 <= d < len(hdr.dirs):
            subdir = hdr.dirs[d]
        if not subdir or not _is_absolute(subdir):
            dir_name = comp_dir
        if not dir_name:
            dir_name, subdir = subdir, None
        if not dir_name:
            return name
        if subdir:
            return f"{dir_name}/{subdir}/{name}"
        return f"{dir_name}/{name}"
    return name


# DWARF 2-4 include directories then file entries (name, then directory, time and size as ULEB128), each
# list ended by an empty name: stepped over in one match
_V4_DIRS = re.compile(rb"(?:[^\x00]++\x00)*+\x00")
_V4_FILE = re.compile(rb"([^\x00]++)\x00([\x80-\xff]*+[\x00-\x7f])(?:[\x80-\xff]*+[\x00-\x7f]){2}")
_V4_TABLES = re.compile(rb"(?:[^\x00]++\x00)*+\x00(?:[^\x00]++\x00(?:[\x80-\xff]*+[\x00-\x7f]){3})*+\x00")


def _read_header(
    data: bytes, offset: int, strs: dict[str, bytes], addr_size: int, names: bool = True
) -> tuple[_Header, int, int]:
    """The line-program header at `offset`: (header, start of the program, end of the program).

    Without `names`, DWARF 2-4 directory and file tables are stepped over without decoding them
    (`dirs` and `file_entries` stay empty; the program starts at the same byte)."""
    n = len(data)
    if n < 16 or offset >= n:
        raise DwarfError("line section too small")
    length, pos, offset_size = initial_length(data, offset)
    if length > n - pos:
        raise DwarfError("line program longer than section")
    end = pos + length
    version = _u16(data, pos)[0]
    pos += 2
    if version < 2 or version > 5:
        raise DwarfError(f"unhandled .debug_line version {version}")
    if version >= 5:
        pos += 1  # address size
        if data[pos] != 0:
            raise DwarfError("segment selector")
        pos += 1
    pos += offset_size  # header_length
    hdr = _Header()
    hdr.dwarf5 = version >= 5
    hdr.min_insn = data[pos]
    pos += 1
    hdr.max_ops = 1
    if version >= 4:
        hdr.max_ops = data[pos]
        pos += 1
    if hdr.max_ops == 0:
        raise DwarfError("max ops per insn 0")
    pos += 1  # default_is_stmt
    hdr.line_base = struct.unpack_from("<b", data, pos)[0]
    hdr.line_range = data[pos + 1]
    hdr.opcode_base = data[pos + 2]
    pos += 3
    hdr.std_lengths = [1, *data[pos:pos + hdr.opcode_base - 1]]
    pos += hdr.opcode_base - 1
    hdr.dirs = []
    hdr.file_entries = []
    if version >= 5:
        dir_entries, pos = _read_entries(data, pos, end, offset_size, strs, addr_size)
        hdr.dirs = [name for name, _ in dir_entries]
        hdr.file_entries, pos = _read_entries(data, pos, end, offset_size, strs, addr_size)
    elif names:
        dirs = _V4_DIRS.match(data, pos)
        if dirs is None:
            raise DwarfError("truncated line program header")
        hdr.dirs = [s.decode("utf-8", "surrogateescape") for s in data[pos:dirs.end() - 1].split(b"\0")[:-1]]
        pos = dirs.end()
        entries = hdr.file_entries
        match = _V4_FILE.match
        while data[pos]:
            entry = match(data, pos)
            if entry is None:
                raise DwarfError("truncated line program header")
            name, d = entry.group(1, 2)
            entries.append((name.decode("utf-8", "surrogateescape"), d[0] if len(d) == 1 else uleb(d, 0)[0]))
            pos = entry.end()
        pos += 1
    else:
        tables = _V4_TABLES.match(data, pos)
        if tables is None:
            raise DwarfError("truncated line program header")
        pos = tables.end()
    return hdr, pos, end


def decode_line_table(
    data: bytes, offset: int, addr_size: int, comp_dir: str | None, strs: dict[str, bytes]
) -> tuple[LineTable, list[str | None], _Header]:
    """Decode the line program at `offset`. Returns the table, the per-file-number names and the header."""
    hdr, pos, end = _read_header(data, offset, strs, addr_size)
    table = LineTable()
    names: dict[int, int] = {}  # file register -> index in table.files
    files = table.files

    def file_index(num: int) -> int:
        idx = names.get(num)
        if idx is None:
            name = _concat_filename(hdr, comp_dir, num)
            idx = -1 if not name else len(files)
            if name:
                files.append(name)
            names[num] = idx
        return idx

    sequences = _run_program(data, pos, end, hdr, addr_size, file_index)
    _flatten(sequences, table)
    return table, files, hdr


_ULEB = rb"[\x80-\xff]*[\x00-\x7f]"
_ZERO_PROGRAMS: dict[tuple, re.Pattern[bytes] | None] = {}


def _zero_program(hdr: _Header, addr_size: int) -> re.Pattern[bytes] | None:
    """A pattern matching exactly the line programs (for this header's parameters) in which every address
    is 0: every DW_LNE_set_address operand is 0 and no opcode advances the address. Such a program keeps
    no sequence (the line programs of units whose code the linker dropped look like that). None when
    the header's opcodes are unusual (the caller then runs the program)."""
    key = (hdr.opcode_base, hdr.line_range, hdr.line_base, hdr.min_insn, hdr.max_ops, tuple(hdr.std_lengths),
           addr_size)
    if key in _ZERO_PROGRAMS:
        return _ZERO_PROGRAMS[key]
    pattern = None
    opcode_base, line_range, min_insn = hdr.opcode_base, hdr.line_range, hdr.min_insn
    if opcode_base >= 10 and line_range:
        still = [op for op in range(opcode_base, 256) if ((op - opcode_base) // line_range) * min_insn == 0]
        alts = [
            rb"\x00" + _ULEB + rb"(?:\x01|\x02" + re.escape(bytes(addr_size)) + rb"|\x04" + _ULEB + rb")",
            rb"[\x01\x06\x07]",  # copy, negate_stmt, basic_block
            rb"\x02\x00",  # advance_pc 0
            rb"[\x03\x04\x05]" + _ULEB,  # advance_line, set_file, set_column
            rb"\x09\x00\x00",  # fixed_advance_pc 0
        ]
        if min_insn * ((255 - opcode_base) // line_range) == 0:
            alts.append(rb"\x08")  # const_add_pc that adds nothing
        for op in range(10, opcode_base):
            alts.append(re.escape(bytes((op,))) + _ULEB * hdr.std_lengths[op])
        if still:
            alts.append(b"[" + b"".join(re.escape(bytes((op,))) for op in still) + b"]")
        pattern = re.compile(b"(?:" + b"|".join(alts) + b")*+")
    _ZERO_PROGRAMS[key] = pattern
    return pattern


def covers_any(data: bytes, offset: int, addr_size: int, strs: dict[str, bytes]) -> bool:
    """Whether the line program at `offset` has a sequence that `decode_line_table` keeps (its table's
    `ranges` are not empty), found without building rows or file names: the cheap test for units
    without address ranges of their own. Raises like `decode_line_table` on a damaged program."""
    hdr, pos, end = _read_header(data, offset, strs, addr_size, names=False)
    zero = _zero_program(hdr, addr_size)
    if zero is not None and zero.fullmatch(data, pos, end):
        return False
    opcode_base = hdr.opcode_base
    line_range = hdr.line_range
    min_insn = hdr.min_insn
    max_ops = hdr.max_ops
    std_lengths = hdr.std_lengths
    const_add = min_insn * ((255 - opcode_base) // line_range) if line_range else 0
    addr_adv = [0] * 256
    if line_range:
        for op in range(opcode_base, 256):
            addr_adv[op] = ((op - opcode_base) // line_range) * min_insn
    while pos < end:
        address = 0
        low = high = -1  # lowest and highest row address of the sequence (-1: no row yet)
        done = False
        while not done and pos < end:
            op = data[pos]
            pos += 1
            if op >= opcode_base:
                if line_range == 0:
                    raise DwarfError("line_range 0")
                address += addr_adv[op]
            elif op == 1:  # copy
                pass
            elif op == 0:  # extended
                _elen, pos = uleb(data, pos)
                sub = data[pos]
                pos += 1
                if sub == 1:  # end_sequence
                    done = True
                    # kept when it has rows, none after its end, and a non-empty extent (see _run_program)
                    if (low < 0 or address >= high) and (address if low < 0 else low) < address:
                        return True
                    continue
                if sub == 2:  # set_address
                    address = int.from_bytes(data[pos:pos + addr_size], "little")
                    pos += addr_size
                elif sub == 3:  # define_file (DWARF <= 4)
                    pos = data.index(b"\0", pos) + 1
                    for _ in range(3):
                        _, pos = uleb(data, pos)
                elif sub == 4:  # set_discriminator
                    _, pos = uleb(data, pos)
                elif sub == 0x80:  # lo_user: skip
                    pos += _elen - 1
                else:
                    raise DwarfError("mangled line number section")
                continue
            elif op == 2:  # advance_pc
                v, pos = uleb(data, pos)
                address += v * min_insn if max_ops == 1 else (v // max_ops) * min_insn
                continue
            elif op == 3:  # advance_line
                _, pos = sleb(data, pos)
                continue
            elif op == 4 or op == 5:  # set_file, set_column
                while data[pos] & 0x80:
                    pos += 1
                pos += 1
                continue
            elif op == 8:  # const_add_pc
                address += const_add
                continue
            elif op == 9:  # fixed_advance_pc
                address += _u16(data, pos)[0]
                pos += 2
                continue
            elif op == 6 or op == 7:  # negate_stmt, basic_block
                continue
            else:
                for _ in range(std_lengths[op] if op < len(std_lengths) else 0):
                    _, pos = uleb(data, pos)
                continue
            # a row (special opcode or copy) at `address`
            if low < 0 or address < low:
                low = address
            if address > high:
                high = address
    return False


def _run_program(data: bytes, pos: int, end: int, hdr: _Header, addr_size: int, file_index) -> list:
    """Execute the line program; return [(low_pc, end_address, rows)] in program order."""
    sequences = []
    opcode_base = hdr.opcode_base
    line_base = hdr.line_base
    line_range = hdr.line_range
    min_insn = hdr.min_insn
    max_ops = hdr.max_ops
    std_lengths = hdr.std_lengths
    const_add = min_insn * ((255 - opcode_base) // line_range) if line_range else 0
    has_files = bool(hdr.file_entries)
    # special opcodes: address and line advance per opcode, computed once
    addr_adv = [0] * 256
    line_adv = [0] * 256
    if line_range:
        for op in range(opcode_base, 256):
            addr_adv[op] = ((op - opcode_base) // line_range) * min_insn
            line_adv[op] = line_base + (op - opcode_base) % line_range
    first_file = 0 if hdr.dwarf5 else 1
    fused = opcode_base > 9  # 9 (fixed_advance_pc) and 1 (copy) are standard opcodes
    while pos < end:
        address = 0
        line = 1
        disc = 0
        fidx = file_index(first_file) if has_files else -1
        rows: list = []
        last_addr = -1
        done = False
        while not done and pos < end:
            op = data[pos]
            pos += 1
            # tests in order of frequency: GCC's relaxation-friendly programs (RISC-V, Xtensa) are mostly
            # set_column, negate_stmt, then advance_line + fixed_advance_pc + copy (read as one step);
            # other producers use special opcodes
            if op >= opcode_base:
                if line_range == 0:
                    raise DwarfError("line_range 0")
                address += addr_adv[op]
                line += line_adv[op]
                row = (address, fidx, line, disc)
                if address == last_addr:
                    rows[-1] = row
                else:
                    rows.append(row)
                    last_addr = address
                disc = 0
            elif op == 3:  # advance_line
                v = data[pos]
                if v < 0x80:  # one byte: the usual case
                    pos += 1
                    line += v - 0x80 if v & 0x40 else v
                elif data[pos + 1] < 0x80:  # two bytes (a jump into or out of an inlined function)
                    v = (v & 0x7F) | data[pos + 1] << 7
                    pos += 2
                    line += v - 0x4000 if v & 0x2000 else v
                else:
                    v, pos = sleb(data, pos)
                    line += v
                if fused and pos + 3 < end and data[pos] == 9 and data[pos + 3] == 1:
                    # then fixed_advance_pc and copy: the step GCC emits for most rows
                    address += data[pos + 1] | data[pos + 2] << 8
                    pos += 4
                    row = (address, fidx, line, disc)
                    if address == last_addr:
                        rows[-1] = row
                    else:
                        rows.append(row)
                        last_addr = address
                    disc = 0
            elif op == 5:  # set_column
                if data[pos] < 0x80:
                    pos += 1
                else:
                    while data[pos] & 0x80:
                        pos += 1
                    pos += 1
            elif op == 9:  # fixed_advance_pc
                address += _u16(data, pos)[0]
                pos += 2
            elif op == 1:  # copy
                row = (address, fidx, line, disc)
                if address == last_addr:
                    rows[-1] = row
                else:
                    rows.append(row)
                    last_addr = address
                disc = 0
            elif op == 6 or op == 7:  # negate_stmt, basic_block
                pass
            elif op == 0:  # extended
                elen = data[pos]
                if elen < 0x80:
                    pos += 1
                else:
                    elen, pos = uleb(data, pos)
                sub = data[pos]
                nxt = pos + elen
                pos += 1
                if sub == 4:  # set_discriminator
                    disc = data[pos]
                    if disc < 0x80:
                        pos += 1
                    else:
                        disc, pos = uleb(data, pos)
                elif sub == 1:  # end_sequence
                    done = True
                    sequences.append((rows, address))
                elif sub == 2:  # set_address
                    address = int.from_bytes(data[pos:pos + addr_size], "little")
                    pos += addr_size
                elif sub == 3:  # define_file (DWARF <= 4)
                    s, pos = cstr(data, pos)
                    d, pos = uleb(data, pos)
                    _, pos = uleb(data, pos)
                    _, pos = uleb(data, pos)
                    hdr.file_entries.append((s, d))
                elif sub == 0x80:  # lo_user: skip
                    pos = nxt
                else:
                    raise DwarfError("mangled line number section")
            elif op == 4:  # set_file
                v, pos = uleb(data, pos)
                fidx = file_index(v)
            elif op == 2:  # advance_pc
                v = data[pos]
                if v < 0x80:
                    pos += 1
                else:
                    v, pos = uleb(data, pos)
                address += v * min_insn if max_ops == 1 else (v // max_ops) * min_insn
            elif op == 8:  # const_add_pc
                address += const_add
            else:
                for _ in range(std_lengths[op] if op < len(std_lengths) else 0):
                    _, pos = uleb(data, pos)
        if not done:
            break  # a sequence without end_sequence adds nothing a lookup could use
    out = []
    for rows, end_addr in sequences:
        if len(rows) > 1:
            addrs = list(map(_first, rows))
            if not all(map(_le, addrs, islice(addrs, 1, None))):
                rows = _sort_rows(rows)
        low_pc = rows[0][0] if rows else end_addr
        if rows and end_addr < rows[-1][0]:
            continue  # malformed: end before rows
        out.append((low_pc, end_addr, rows))
    return out


def _sort_rows(rows: list) -> list:
    """Out-of-order rows: sort by address, the last row at an address wins."""
    rows = sorted(rows, key=lambda r: r[0])
    out: list = []
    for r in rows:
        if out and out[-1][0] == r[0]:
            out[-1] = r
        else:
            out.append(r)
    return out


def _flatten(sequences: list, table: LineTable) -> None:
    """BFD sort_line_sequences: sort, drop nested, trim overlapping; then one flat sorted row list."""
    indexed = sorted(
        ((low, -end, i, rows, end) for i, (low, end, rows) in enumerate(sequences)),
        key=lambda t: (t[0], t[1], t[2]),
    )
    kept = []
    last_high = None
    for low, _neg, _i, rows, end in indexed:
        if last_high is not None and low < last_high:
            if end <= last_high:
                continue
            low = last_high
        last_high = end
        kept.append((low, end, rows))
    out = table.rows
    ranges = table.ranges
    for low, end, rows in kept:
        if low >= end:
            continue
        # rows at/after `low`; the row covering `low` is repeated at `low` when trimmed
        start = 0
        while start + 1 < len(rows) and rows[start + 1][0] <= low:
            start += 1
        first = rows[start] if rows else None
        if first is None:
            continue
        if first[0] < low:
            out.append((low, first[1], first[2], first[3]))
            start += 1
        # rows are in address order: those before `end`, at once
        out.extend(rows[start:bisect_left(rows, end, start, key=_first)])
        out.append((end, -2, 0, 0))
        ranges.append((low, end))
