"""Xtensa (ESP32/S2/S3) call stacks with the windowed ABI, the way ESP-IDF's panic handler walks them.

A frame's caller is at its A0 (a return address whose top two bits hold the window increment: the PC
is `(A0 & 0x3fffffff) | 0x40000000`); below each frame's SP lies the base save area where the caller's
A0 and SP were spilled (`SP - 16` and `SP - 12`, `esp_backtrace_get_next_frame`). No debug information
is needed, so ROM frames unwind like any other. Every walk needs the windows spilled to the stack, as the
panic handler and context switches do.
"""

from __future__ import annotations

from collections.abc import Callable

from espwatch.unwind.memory import Memory
from espwatch.unwind.model import (
    BY_REGISTERS,
    BY_WINDOW,
    STOP_CORRUPT,
    STOP_DEPTH,
    STOP_END,
    STOP_NOT_CODE,
    STOP_STACK_END,
    RawFrame,
    Unwind,
)

MAX_FRAMES = 64


def window_pc(value: int) -> int:
    """The code address of a windowed return address (ESP-IDF esp_cpu_process_stack_pc, without the -3)."""
    return (value & 0x3FFFFFFF) | 0x40000000


def after_call(code: bytes) -> bool:
    """Are these 3 bytes (before a return address) a windowed call: CALL4/8/12 or CALLX4/8/12?"""
    if len(code) != 3:
        return False
    b0, b1, b2 = code
    if b0 & 0x0F == 0x5:  # CALLn: op0 0101, n in bits 4-5
        return (b0 >> 4) & 3 != 0
    return b0 & 0x0F == 0 and b0 >> 4 in (0xD, 0xE, 0xF) and b1 >> 4 == 0 and b2 == 0  # CALLXn


def _default_code(addr: int) -> bool:
    return 0x40000000 <= addr < 0x50000000


def unwind_xtensa(pc: int, a0: int, sp: int, memory: Memory, is_code: Callable[[int], bool] | None = None,
                  max_frames: int = MAX_FRAMES) -> Unwind:
    """The call stack of a task from its PC, A0 and A1 (SP), over `memory`."""
    code = is_code or _default_code
    out = Unwind()
    region = memory.region_of(sp)
    out.memory_end = region[1] if region else None
    out.frames.append(RawFrame(window_pc(pc) if pc else pc, sp, BY_REGISTERS))
    next_pc = a0
    while True:
        if next_pc == 0:
            out.stop, out.reason = STOP_END, "outermost frame (return address 0)"
            return out
        caller_pc = window_pc(next_pc)
        if not code(caller_pc):
            out.stop = STOP_NOT_CODE
            out.reason = f"return address 0x{next_pc:08x} is not code (corrupted stack?)"
            return out
        if len(out.frames) >= max_frames:
            out.stop, out.reason = STOP_DEPTH, f"stopped after {max_frames} frames"
            return out
        saved_a0 = memory.u32(sp - 16)
        saved_sp = memory.u32(sp - 12)
        if saved_a0 is None or saved_sp is None:
            out.frames.append(RawFrame(caller_pc, None, BY_WINDOW))
            out.stop, out.reason = STOP_STACK_END, \
                f"the base save area below SP 0x{sp:08x} is outside the stack memory"
            return out
        if saved_sp <= sp:
            out.frames.append(RawFrame(caller_pc, None, BY_WINDOW))
            out.stop = STOP_CORRUPT
            out.reason = f"the caller's stack pointer 0x{saved_sp:08x} is not above 0x{sp:08x}"
            return out
        out.frames.append(RawFrame(caller_pc, saved_sp, BY_WINDOW))
        next_pc, sp = saved_a0, saved_sp
