"""Unwound frames to function, file and line: the PC of frame 0, the return address minus 1 of callers.

This is gdb's rule (the return address points after the call; one byte back is inside it), and with the
symbol index it gives GNU addr2line's answer for that address, inline chain included (each inlined
function becomes its own line, as gdb prints inline frames). Addresses outside the ELF (mask ROM) get
the nearest symbol the app's symbol table names there, if any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from espwatch.events import Frame
from espwatch.symbols import Session, SymbolIndex, frames_for
from espwatch.unwind.model import RawFrame
from espwatch.unwind.program import ProgramInfo


@dataclass(slots=True)
class BacktraceFrame:
    """One unwound frame with what the ELF says about it (`lines`: innermost first, inline chain)."""

    pc: int
    sp: int | None
    how: str
    lookup: int
    lines: list[Frame] = field(default_factory=list)
    rom_symbol: str | None = None  # nearest ROM symbol (no line info there)
    rom_offset: int = 0

    @property
    def function(self) -> str | None:
        if self.lines and self.lines[0].function:
            return self.lines[0].function
        return self.rom_symbol

    def event_frames(self) -> list[Frame]:
        """Frames for an event's `frames` list (events.md): the address as unwound, names decoded."""
        if self.lines:
            return [Frame(self.pc, f.function, f.file, f.line, f.inlined, f.discriminator)
                    for f in self.lines]
        return [Frame(self.pc, self.rom_symbol)]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pc": f"0x{self.pc:08x}",
            "sp": None if self.sp is None else f"0x{self.sp:08x}",
            "how": self.how,
        }
        if self.lines:
            out["function"] = self.lines[0].function
            out["file"] = self.lines[0].file
            out["line"] = self.lines[0].line
            out["inlined_by"] = [{"function": f.function, "file": f.file, "line": f.line}
                                 for f in self.lines[1:]]
        else:
            out["function"] = self.rom_symbol
            out["file"] = None
            out["line"] = None
            out["inlined_by"] = []
        if self.rom_symbol is not None:
            out["rom_symbol_offset"] = self.rom_offset
        return out


def decode_frames(frames: list[RawFrame], index: SymbolIndex | None, program: ProgramInfo | None,
                  session: Session | None = None) -> list[BacktraceFrame]:
    """Look every frame up (frame 0 at its PC, callers at the return address minus 1)."""
    out = []
    session = session or Session()
    for i, fr in enumerate(frames):
        lookup = fr.pc if i == 0 else fr.pc - 1
        bt = BacktraceFrame(fr.pc, fr.sp, fr.how, lookup)
        if index is not None and index.is_code(lookup):
            hits = index.lookup(lookup, session)
            if hits:
                bt.lines = frames_for(lookup, hits)
        if not bt.lines and program is not None:
            found = program.rom_symbol(lookup)
            if found is not None:
                bt.rom_symbol, off = found
                bt.rom_offset = fr.pc - (lookup - off)
        out.append(bt)
    return out
