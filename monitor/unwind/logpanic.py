"""A RISC-V panic in a serial log: its register dump and `Stack memory:` lines, unwound and decoded.

The panic handler prints the registers (`MEPC : 0x...  RA : 0x...  SP : 0x...`, `S0/FP`, ..., `MCAUSE`)
and then up to 1 KB of stack from SP, 8 words a line (`3fc8cd5c: 0xa5a5a5a5 0x3fc8ce34 ...`). With the
app's ELF that is enough to unwind (`unwind_riscv`); the result becomes the fields and frames of the
`backtrace` event the `Stack memory:` pattern (EW408) makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from espwatch.symbols import SymbolIndex
from espwatch.unwind.memory import Memory
from espwatch.unwind.model import Unwind
from espwatch.unwind.program import ProgramInfo
from espwatch.unwind.riscv import ABI_NAMES, unwind_riscv
from espwatch.unwind.symbolize import BacktraceFrame, decode_frames

STACK_DUMP_CODE = "EW408"
REG_RE = re.compile(r"(?<![\w/])([A-Z][A-Z0-9]*(?:/[A-Z0-9]+)?)\s*:\s*0x([0-9a-fA-F]{8})\b")
DUMP_LINE_RE = re.compile(r"^\s*(?:0x)?([0-9a-fA-F]{8})\s*:((?:\s*0x[0-9a-fA-F]{8})+)\s*$")
_NAMES = {name.upper(): name for name in ABI_NAMES}
_NAMES.update({"MEPC": "pc", "S0/FP": "s0", "FP": "s0"})


def riscv_registers(lines: Iterable[str]) -> dict[str, int] | None:
    """The registers of a RISC-V register dump (ABI names, `pc` for MEPC), or None without MEPC and SP."""
    regs: dict[str, int] = {}
    for line in lines:
        for name, value in REG_RE.findall(line):
            key = _NAMES.get(name, name.lower())
            regs.setdefault(key, int(value, 16))
    return regs if "pc" in regs and "sp" in regs else None


def stack_memory(lines: Iterable[str]) -> tuple[Memory, int | None, int]:
    """The dumped stack as memory, its first address and its size in bytes."""
    memory = Memory()
    first = None
    size = 0
    for line in lines:
        m = DUMP_LINE_RE.match(line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        words = [int(w, 16) for w in m.group(2).split()]
        memory.add(addr, b"".join(w.to_bytes(4, "little") for w in words))
        first = addr if first is None else first
        size += 4 * len(words)
    return memory, first, size


def unwind_panic(regs: dict[str, int], memory: Memory, program: ProgramInfo | None,
                 chip: str | None = None) -> Unwind:
    xregs = {n: regs[name] for n, name in enumerate(ABI_NAMES) if n and name in regs}
    return unwind_riscv(regs["pc"], xregs, memory, program, chip)


def backtrace_fields(unwound: Unwind, frames: list[BacktraceFrame], first: int | None, size: int
                     ) -> dict[str, Any]:
    """The fields of the `backtrace` event (events.md): frames as `pc:sp`, and how the walk went."""
    end = None if first is None else first + size
    return {
        "frames": [f"0x{f.pc:08x}:0x{(f.sp or 0):08x}" for f in frames],
        "unwound_by": "espwatch",
        "stack_bytes": size,
        "stack_range": None if first is None else f"0x{first:08x}-0x{end:08x}",
        "stop": unwound.stop,
        "stop_reason": unwound.reason,
        "guessed": unwound.guessed,
    }


def decode_stack_dump(reg_lines: Iterable[str], dump_lines: Iterable[str], index: SymbolIndex | None,
                      program: ProgramInfo | None, chip: str | None = None
                      ) -> tuple[dict[str, Any], list[BacktraceFrame]] | None:
    """Fields and decoded frames for a stack dump and the register dump before it (None without registers)."""
    regs = riscv_registers(reg_lines)
    if regs is None:
        return None
    memory, first, size = stack_memory(dump_lines)
    unwound = unwind_panic(regs, memory, program, chip)
    frames = decode_frames(unwound.frames, index, program)
    return backtrace_fields(unwound, frames, first, size), frames
