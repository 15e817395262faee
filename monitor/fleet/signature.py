"""Fleet crash signatures: the diagnosis's crash (cause + top frames), made comparable across logs.

The crash of a boot comes from `diagnosis.signatures.CrashTracker` (the same notion as rule EW903). Before
its frames are compared across thousands of logs they are normalised the way ESP-IDF's panic handler
prints them:

- each PC as `0x%08x`, lower case;
- on Xtensa, a raw windowed return address (top bits set, as `A0` holds it) mapped like
  `esp_cpu_process_stack_pc()`: `(pc & 0x3fffffff) | 0x40000000`, minus 3;
- the first frame always kept (a jump to 0x0 is the crash), and the backtrace cut at the first later frame
  that is not in the chip's code memory, where ESP-IDF stops and prints `|<-CORRUPTED`;
- without a backtrace (RISC-V prints none by default): `MEPC`, then `RA` when the panic printed it.

With the ELF of the firmware that crashed, frames become function names (the function that contains the
address; inlined callees folded into it, as in the diagnosis), so one bug groups across builds; without
it, the PCs stand for themselves (one bug per build). A path in an assert's cause keeps its file name only
(build folders differ between machines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import regex

from espwatch.diagnosis.signatures import TOP_FRAMES

if TYPE_CHECKING:
    from espwatch.diagnosis.signatures import Crash
    from espwatch.symbols import SymbolIndex

_GENERIC_CODE = ((0x40000000, 0x50000000),)
"""Code address ranges when the chip is unknown (every ESP32-family chip runs code in there)."""
_CODE_REGIONS = ("IROM", "IRAM", "IROM_MASK", "DIRAM_IRAM", "RTC_IRAM", "CACHE_PRO", "CACHE_APP")
_PATH_IN_CAUSE = regex.compile(r"(?<![\w.])(?:[A-Za-z]:)?[^\s:()]*[/\\]([^/\\\s:()]+)")


@dataclass(frozen=True, slots=True)
class ChipCode:
    """What a chip's frames look like: its architecture and where its code lives."""

    arch: str | None
    ranges: tuple[tuple[int, int], ...]

    def is_code(self, pc: int) -> bool:
        return any(a <= pc < b for a, b in self.ranges)


def chip_code(chip: str | None) -> ChipCode:
    """The architecture and code ranges of a chip named as a log names it (`esp32c3`, `ESP32-S3`)."""
    if chip:
        from espwatch.image.chips import chip_by_name

        c = chip_by_name(str(chip))
        if c is not None:
            ranges = tuple((a, b) for a, b, name in c.memory_map if name in _CODE_REGIONS)
            return ChipCode(c.arch, ranges or _GENERIC_CODE)
    return ChipCode(None, _GENERIC_CODE)


def _hex(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(str(text), 16)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class FramePC:
    """One frame: the PC as ESP-IDF prints it, and the address to look up in the ELF."""

    pc: int
    lookup: int


def crash_frames(crash: Crash, code: ChipCode, ra: str | None = None) -> list[FramePC]:
    """The crash's frames, innermost first, normalised as described in the module docstring."""
    out: list[FramePC] = []
    if crash.pcs:
        for i, text in enumerate(crash.pcs):
            pc = _hex(text)
            if pc is None:
                continue
            if code.arch != "riscv" and pc & 0x80000000:
                pc = ((pc & 0x3FFFFFFF) | 0x40000000) - 3
            if i and not code.is_code(pc):
                break
            out.append(FramePC(pc, pc))
        return out
    pc = _hex(crash.pc)
    if pc is not None:
        out.append(FramePC(pc, pc))
        ret = _hex(ra)
        if ret and code.arch != "xtensa" and code.is_code(ret):
            out.append(FramePC(ret, ret - 1))  # the call before the return address, as gdb looks it up
    return out


def normal_cause(cause: str) -> str:
    """The crash cause with source paths cut to their file name (`/home/x/queue.c:1545` -> `queue.c:1545`)."""
    return _PATH_IN_CAUSE.sub(r"\1", " ".join(cause.split()))


def frame_names(frames: list[FramePC], index: SymbolIndex) -> list[str]:
    """The function containing each frame (`0x%08x` where the ELF has none), innermost first."""
    from espwatch.symbols import frames_for

    out = []
    for fr in frames:
        name = None
        if index.is_code(fr.lookup):
            decoded = frames_for(fr.lookup, index.lookup(fr.lookup))
            name = decoded[-1].function if decoded else None
        out.append(name or f"0x{fr.pc:08x}")
    return out


@dataclass(frozen=True, slots=True)
class Signature:
    """A crash's fleet signature: `cause @ f1 < f2 < ...` (innermost first), decoded or raw."""

    cause: str
    top: tuple[str, ...]
    decoded: bool

    @property
    def key(self) -> str:
        return f"{self.cause} @ {' < '.join(self.top) or 'no backtrace'}"


def signature(crash: Crash, code: ChipCode, ra: str | None = None,
              index: SymbolIndex | None = None) -> Signature:
    """The signature of `crash`: its normalised cause and top frames (function names with `index`)."""
    frames = crash_frames(crash, code, ra)[:TOP_FRAMES]
    if index is not None and frames:
        return Signature(normal_cause(crash.cause), tuple(frame_names(frames, index)), True)
    return Signature(normal_cause(crash.cause), tuple(f"0x{f.pc:08x}" for f in frames), False)
