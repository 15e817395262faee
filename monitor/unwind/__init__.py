"""Call stacks without gdb: DWARF CFI for RISC-V, the windowed ABI for Xtensa.

Public API:
- `Memory` (stack memory regions), `ProgramInfo.load(elf)` (per-ELF CFI and facts, cached),
- `unwind_riscv(pc, regs, memory, program, chip)`, `unwind_xtensa(pc, a0, sp, memory, is_code)` -> `Unwind`,
- `decode_frames(frames, index, program)` -> `BacktraceFrame`s with function, file and line.
"""

from __future__ import annotations

from espwatch.unwind.memory import Memory
from espwatch.unwind.model import RawFrame, Unwind
from espwatch.unwind.program import ProgramInfo
from espwatch.unwind.riscv import unwind_riscv
from espwatch.unwind.symbolize import BacktraceFrame, decode_frames
from espwatch.unwind.xtensa import unwind_xtensa

__all__ = ["BacktraceFrame", "Memory", "ProgramInfo", "RawFrame", "Unwind", "decode_frames", "unwind_riscv",
           "unwind_xtensa"]
