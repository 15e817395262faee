"""Finding core dump bytes in what the user has: a serial log, a base64 text, a flash read-back, an ELF core.

- A log holds the dump between `CORE DUMP START` and `CORE DUMP END` lines, base64-encoded one line per
  chunk (ESP-IDF writes at most 48 bytes a line, each line padded on its own), so lines are decoded one
  by one. Host timestamps and colour codes are stripped; log records or monitor messages printed in
  between are skipped. Any other line that is not valid base64 (characters lost or changed on the UART)
  is noted; when it was a full line its 48 bytes are kept as zeros so that what follows stays in place.
- A base64 file (`esp-coredump --core-format b64`) is the same without the markers.
- A raw image starts with the header (`esptool read-flash` of the coredump partition; ESP-IDF v3.x put a
  magic word before it); the rest of the partition is erased flash (0xFF).
- An ELF core file (`ET_CORE`, as `esp-coredump --save-core` writes it) has no header and no checksum.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field

import regex

from espwatch.coredump.header import FLASH_MAGIC_OLD, VERSIONS, looks_like_header
from espwatch.errors import CoreDumpError
from espwatch.image.chips import chip_by_id
from espwatch.lines import clean_text
from espwatch.logformat import parse_line, split_host_time

START_RE = regex.compile(r"CORE\s*DUMP\s*START")
END_RE = regex.compile(r"CORE\s*DUMP\s*END")
B64_RE = regex.compile(r"[A-Za-z0-9+/]+={0,2}")
FULL_LINE_CHARS = 64  # a full line: 48 bytes
FULL_LINE_BYTES = 48


@dataclass
class DumpSource:
    """The bytes of one core dump and where and how they were found."""

    data: bytes
    kind: str  # "log" (between START/END markers), "base64", "raw" (binary image), "elf" (ELF core file)
    first_line: int | None = None  # 1-based line numbers of the markers (log) or of the text
    last_line: int | None = None
    data_lines: int = 0  # base64 lines decoded
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, what was wrong)
    filled: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) kept as zeros
    ended: bool = True  # the END marker was found (log)
    offset: int = 0  # offset of the dump in a raw file
    erased_tail: int = 0  # 0xFF bytes after the dump in a raw image


def find_dumps(blob: bytes, name: str = "input") -> list[DumpSource]:
    """Every core dump in `blob`; CoreDumpError with one line when there is none."""
    if not blob:
        raise CoreDumpError(f"{name} is empty")
    if blob.startswith(b"\x7fELF"):
        return [_elf_core(blob, name)]
    for off in (0, 4):
        if off and (len(blob) < 4 or struct.unpack_from("<I", blob)[0] != FLASH_MAGIC_OLD):
            continue
        if looks_like_header(blob[off:]):
            return [_raw(blob, off)]
    _future_version(blob, name)
    head = blob[:65536]
    if head.count(0xFF) == len(head) and blob.count(0xFF) == len(blob):
        raise CoreDumpError(f"{name} is erased flash (all 0xFF): no core dump was saved there")
    if head.count(0) > len(head) // 16:
        raise CoreDumpError(f"{name} is binary but does not start with a core dump header "
                            "(expected the start of the coredump partition, or an ELF core file)")
    lines = blob.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    dumps = _log_blocks(lines)
    if dumps:
        return dumps
    plain = _base64_text(lines)
    if plain is not None:
        return [plain]
    raise CoreDumpError(f"no core dump in {name}: no `CORE DUMP START` ... `CORE DUMP END` block, "
                        "no base64 core dump, no core dump header")


def _future_version(blob: bytes, name: str) -> None:
    """A header with a known chip and a plausible length but a format version this tool does not know."""
    if len(blob) < 8:
        return
    tot_len, version = struct.unpack_from("<II", blob)
    if chip_by_id(version >> 16) is not None and 16 < tot_len < (64 << 20) and (version & 0xFFFF) >> 8 <= 2:
        ver = version & 0xFFFF
        known = ", ".join(f"{v >> 8}.{v & 0xFF}" for v in VERSIONS)
        raise CoreDumpError(f"{name}: unknown core dump format version {ver >> 8}.{ver & 0xFF} "
                            f"(from a newer ESP-IDF?); known: {known}")


def _elf_core(blob: bytes, name: str) -> DumpSource:
    if len(blob) < 52:
        raise CoreDumpError(f"{name} is a truncated ELF file")
    e_type = struct.unpack_from("<H", blob, 16)[0]
    if e_type != 4:
        raise CoreDumpError(f"{name} is an application ELF, not a core dump (give it with --elf)")
    return DumpSource(blob, "elf")


def _raw(blob: bytes, off: int) -> DumpSource:
    tot_len = struct.unpack_from("<I", blob, off)[0]
    data = blob[off:off + tot_len]
    tail = blob[off + tot_len:]
    erased = len(tail) - len(tail.lstrip(b"\xff")) if tail else 0
    return DumpSource(data, "raw", offset=off, erased_tail=erased)


def _token(raw: bytes) -> str:
    """A line's text without host timestamp, colours and surrounding blanks."""
    return split_host_time(clean_text(raw))[1].strip()


def _decode_line(token: str) -> bytes | None:
    if len(token) % 4 or not B64_RE.fullmatch(token):
        return None
    try:
        return binascii.a2b_base64(token, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def _is_interjection(token: str) -> bool:
    """A log record or a monitor message printed between the markers (not part of the dump)."""
    return token.startswith("---") or parse_line(token).level is not None


def _collect(lines: list[bytes], first: int, src: DumpSource) -> bytes:
    """Decode base64 lines (`first` is the number of lines[0]); note damaged ones in `src`."""
    out = bytearray()
    for i, raw in enumerate(lines):
        token = _token(raw)
        if not token:
            continue
        data = _decode_line(token)
        if data is not None:
            out += data
            src.data_lines += 1
            continue
        if _is_interjection(token):
            continue
        number = first + i
        if abs(len(token) - FULL_LINE_CHARS) <= 8:
            src.filled.append((len(out), FULL_LINE_BYTES))
            out += bytes(FULL_LINE_BYTES)
            src.bad_lines.append((number, f"not valid base64 ({len(token)} characters): 48 bytes lost"))
        else:
            src.bad_lines.append((number, f"not valid base64 ({len(token)} characters): dropped"))
    return bytes(out)


def _log_blocks(lines: list[bytes]) -> list[DumpSource]:
    out: list[DumpSource] = []
    i, n = 0, len(lines)
    while i < n:
        if b"DUMP" not in lines[i] or not START_RE.search(_token(lines[i])):
            i += 1
            continue
        start = i
        j = i + 1
        while j < n and not (b"DUMP" in lines[j] and (END_RE.search(_token(lines[j]))
                                                       or START_RE.search(_token(lines[j])))):
            j += 1
        ended = j < n and bool(END_RE.search(_token(lines[j])))
        src = DumpSource(b"", "log", first_line=start + 1, last_line=(j + 1) if ended else j, ended=ended)
        src.data = _collect(lines[start + 1:j], start + 2, src)
        if src.data_lines:  # a block without base64 lines is a printed report, not a dump
            out.append(src)
        i = j + 1 if ended else j
    return out


def _base64_text(lines: list[bytes]) -> DumpSource | None:
    src = DumpSource(b"", "base64", first_line=1, last_line=len(lines))
    src.data = _collect(lines, 1, src)
    if not src.data_lines or not (looks_like_header(src.data) or src.data.startswith(b"\x7fELF")):
        return None
    return src
