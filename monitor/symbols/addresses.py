"""Which code addresses a crash report line carries, and which address to look up for each.

Rules (ESP-IDF panic handler and esp-idf-monitor):
- Xtensa `Backtrace: PC:SP PC:SP ...`: the firmware prints each PC already processed by
  `esp_cpu_process_stack_pc()` (window-increment bits replaced, minus 3), so printed PCs are decoded as
  they are, like idf.py monitor does. A PC that still carries window bits (top bits 0b10 / 0b11) is a raw
  return address: it is mapped with `(pc & 0x3fffffff) | 0x40000000` and looked up minus 3.
- Register dumps: `PC` / `MEPC` as printed; Xtensa `A0` is a raw return address (same mapping, minus 3);
  RISC-V `RA` is looked up minus 1 (the call instruction, as gdb does for caller frames);
  `EXCVADDR` / `MTVAL` only when they point into code (an instruction fetch fault).
- `abort() was called at PC 0x...`: the firmware already subtracted 3; decoded as printed.
- Any other `0x4xxxxxxx`-looking value in the text is kept only when it lies in an executable
  section of the ELF (so `%p` data pointers are not decoded).
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Iterable

BACKTRACE_RE = re.compile(r"Backtrace\s*:", re.I)
PAIR_RE = re.compile(r"\b(0x[0-9a-fA-F]{1,8}):(0x[0-9a-fA-F]{1,8})\b")
REG_RE = re.compile(r"\b(PC|A0|EXCVADDR|MEPC|RA|MTVAL)\s*:\s*(0x[0-9a-fA-F]{1,8})\b")
ABORT_RE = re.compile(r"abort\(\) was called at PC (0x[0-9a-fA-F]{1,8})")
HEX_RE = re.compile(r"(?<![0-9A-Za-z_])0x([0-9a-fA-F]{8})(?![0-9A-Za-z_])")
STACK_DUMP_RE = re.compile(r"^\s*(?:0x)?[0-9a-fA-F]{8}\s*:\s*0x[0-9a-fA-F]{8}\s+0x[0-9a-fA-F]{8}")


class CodeAddress(namedtuple("CodeAddress", "printed lookup source")):
    """One address found in a log line: as printed, and the address to decode; `source` is "backtrace",
    "register:PC" (etc.), "abort" or "text". (Immutable, and cheaper to import than a dataclass.)"""

    __slots__ = ()


def xtensa_return_address(value: int) -> int:
    """Map a raw windowed-ABI return address to the call instruction (ESP-IDF esp_cpu_process_stack_pc)."""
    if value & 0x80000000:
        value = (value & 0x3FFFFFFF) | 0x40000000
    return value - 3


def _backtrace_pc(value: int, arch: str) -> int:
    if arch == "xtensa" and value & 0x80000000:
        return xtensa_return_address(value)
    return value


def _looks_like_code(value: int) -> bool:
    return 0x40000000 <= value < 0x50000000


def extract_line(
    line: str, arch: str, is_code: Callable[[int], bool] | None = None
) -> list[CodeAddress]:
    """Code addresses in one line, in the order they appear."""
    check = is_code or _looks_like_code
    out: list[CodeAddress] = []
    taken: set[tuple[int, int]] = set()  # character spans already used by a specific rule
    m = BACKTRACE_RE.search(line)
    if m:
        for pm in PAIR_RE.finditer(line, m.end()):
            pc = int(pm.group(1), 16)
            taken.add(pm.span(1))
            if pc == 0:
                continue
            out.append(CodeAddress(pc, _backtrace_pc(pc, arch), "backtrace"))
        return out
    for rm in REG_RE.finditer(line):
        reg = rm.group(1)
        value = int(rm.group(2), 16)
        taken.add(rm.span(2))
        if reg in ("PC", "MEPC"):
            lookup = value
        elif reg == "A0":
            if arch != "xtensa" or value == 0:
                continue
            lookup = xtensa_return_address(value)
        elif reg == "RA":
            if arch != "riscv" or value == 0:
                continue
            lookup = value - 1
        else:  # EXCVADDR / MTVAL: only an instruction address is interesting
            if not check(value):
                continue
            lookup = value
        if value == 0:
            continue
        out.append(CodeAddress(value, lookup, f"register:{reg}"))
    am = ABORT_RE.search(line)
    if am:
        value = int(am.group(1), 16)
        taken.add(am.span(1))
        out.append(CodeAddress(value, value, "abort"))
    if out or STACK_DUMP_RE.match(line):
        return out
    for hm in HEX_RE.finditer(line):
        if hm.span() in taken:
            continue
        value = int(hm.group(1), 16)
        if check(value):
            out.append(CodeAddress(value, value, "text"))
    return out


def extract_addresses(
    lines: Iterable[str], arch: str, is_code: Callable[[int], bool] | None = None
) -> list[CodeAddress]:
    """Code addresses of an event's lines: backtrace frames first (call order), then the others.

    Duplicates (same lookup address) are dropped, keeping the first occurrence.
    """
    backtrace: list[CodeAddress] = []
    other: list[CodeAddress] = []
    for line in lines:
        for ca in extract_line(line, arch, is_code):
            (backtrace if ca.source == "backtrace" else other).append(ca)
    out = []
    seen: set[int] = set()
    for ca in backtrace + other:
        if ca.lookup in seen:
            continue
        seen.add(ca.lookup)
        out.append(ca)
    return out
