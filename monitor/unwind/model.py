"""What an unwinder returns: frames (PC and SP) and why it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field

# how a frame was found
BY_REGISTERS = "registers"  # frame 0: the PC of the register set
BY_CFI = "cfi"  # the callee's DWARF call frame information gave the return address
BY_WINDOW = "window"  # Xtensa windowed ABI: A0 / the base save area below the callee's SP
BY_RA = "ra"  # the RA register (a jump to a bad address, or a leaf function without CFI)
BY_GUESS = "guess"  # found by scanning the stack past code without CFI (ROM): may be wrong
BY_TAILCALL = "tailcall"  # a function that tail-called the frame below it (its jump is the only one)

# why unwinding stopped
STOP_END = "end"  # the outermost frame (return address 0 or undefined)
STOP_STACK_END = "stack_end"  # the next frame lies outside the memory we have
STOP_NOT_CODE = "not_code"  # a return address that is not code: corrupted stack
STOP_NO_CFI = "no_cfi"  # no call frame information and nothing plausible found on the stack
STOP_CORRUPT = "corrupt"  # the stack pointer did not move up, or the frame repeats
STOP_DEPTH = "depth"  # too many frames
STOP_UNSUPPORTED = "unsupported"  # a CFI rule we do not evaluate (DWARF expression)
STOP_NO_ELF = "no_elf"  # RISC-V without the app's ELF: there is no call frame information


@dataclass(slots=True)
class RawFrame:
    """One frame: its PC (frame 0: where the CPU was; callers: the return address) and stack pointer."""

    pc: int
    sp: int | None
    how: str = BY_REGISTERS

    @property
    def guessed(self) -> bool:
        return self.how == BY_GUESS


@dataclass(slots=True)
class Unwind:
    """The frames found, innermost first, and why the walk ended (`stop` code and a sentence)."""

    frames: list[RawFrame] = field(default_factory=list)
    stop: str = STOP_END
    reason: str = ""
    memory_end: int | None = None  # end of the stack memory the walk used (for "how far it reached")

    @property
    def guessed(self) -> bool:
        return any(f.guessed for f in self.frames)

    @property
    def complete(self) -> bool:
        return self.stop == STOP_END
