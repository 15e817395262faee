"""Enrichment with decoded addresses: which ELF, whether it belongs to the log, and the pipeline stage.

Used by `scan`, `report` and the monitor alike, so that they all pick, check and use the ELF the same way.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from espwatch.events import Event
from espwatch.symbols import DecodeError, SymbolIndex, decode_event, elf_sha256, find_elf, sha_matches

if TYPE_CHECKING:
    from espwatch.unwind.program import ProgramInfo

DECODE_KINDS = frozenset({
    "backtrace", "panic", "abort", "assert", "stack_overflow", "cache_disabled_access", "int_wdt",
    "task_wdt", "heap_corrupt", "saved_pc", "spi_flash_guard",
})
"""Kinds whose text or block carries code addresses worth decoding."""
STACK_DUMP_CODE = "EW408"  # RISC-V `Stack memory:` dump: unwound (espwatch.unwind.logpanic)
COREDUMP_CODE = "EW801"  # core dump printed to the UART: decoded (espwatch.coredump.event)


class ElfError(Exception):
    """The ELF cannot be used: one line for the user."""


@dataclass
class ElfChoice:
    """The ELF used for a log: where it came from and its SHA-256."""

    path: Path
    sha256: str
    discovered: bool = False

    def matches(self, printed: str | None) -> bool | None:
        """Whether the hash the app printed is this ELF's: None when the log printed none."""
        if not printed:
            return None
        return sha_matches(self.sha256, printed)

    def describe(self, printed: str | None) -> str:
        state = self.matches(printed)
        name = self.path.name
        if state is None:
            return f"{name} (the log prints no ELF SHA256 to compare)"
        if state:
            return f"{name} matches the firmware (ELF SHA256 {printed})"
        mine = self.sha256[: max(len(printed), 16)]
        return (f"DOES NOT MATCH: {name} is not the ELF of the firmware that printed this log "
                f"(device {printed}, ELF {mine}); decoded names would be wrong")


def choose_elf(given: str | os.PathLike[str] | None, discover: bool = True,
               start: str | os.PathLike[str] | None = None) -> ElfChoice | None:
    """The ELF given on the command line, else one found in the build folders under `start`."""
    if given:
        path = Path(given)
        if path.is_dir():
            raise ElfError(f"{path} is a directory, not an ELF file")
        discovered = False
    elif discover:
        found = find_elf(start)
        if found is None:
            return None
        path, discovered = found, True
    else:
        return None
    try:
        return ElfChoice(path, elf_sha256(path), discovered)
    except FileNotFoundError:
        raise ElfError(f"{path}: no such file") from None
    except OSError as exc:
        raise ElfError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_index(choice: ElfChoice) -> SymbolIndex:
    """The symbol index of the chosen ELF (cached); ElfError with one line when it is unusable."""
    try:
        return SymbolIndex.load(choice.path)
    except DecodeError as exc:
        raise ElfError(str(exc)) from None
    except OSError as exc:
        raise ElfError(f"{choice.path}: cannot read: {exc.strerror or exc}") from None


class DecodeStage:
    """Pipeline stage: adds `frames` to events that carry code addresses.

    Takes a loaded index, or a Future of one (`SymbolIndex.load_async`) so that a live monitor never
    waits for an index build: events that arrive before it is ready are kept (at most `backlog`) and
    decoded as soon as it is (in the loading thread, when no later event comes to do it).
    """

    def __init__(self, index: SymbolIndex | Future[SymbolIndex], backlog: int = 2000) -> None:
        self._index: SymbolIndex | None = index if isinstance(index, SymbolIndex) else None
        self._future: Future[SymbolIndex] | None = None if self._index is not None else index
        self._backlog: deque[Event] = deque(maxlen=backlog)
        self.error: str | None = None
        # RISC-V panics: the register dump before a `Stack memory:` dump (EW408); the ELF's CFI
        self._last_regs: Event | None = None
        self._stack_regs: dict[int, list[str]] = {}
        self._program: ProgramInfo | None = None
        self.program_error: str | None = None
        self._lock = threading.RLock()
        if self._future is not None:
            self._future.add_done_callback(lambda _f: self._poll())

    @property
    def state(self) -> str:
        """"ready", "indexing" or "failed" (safe to ask from another thread: it changes nothing)."""
        if self._index is not None:
            return "ready"
        future = self._future
        if future is not None and future.done():
            return "failed" if future.exception() is not None else "ready"
        return "failed" if self.error else "indexing"

    def _poll(self) -> SymbolIndex | None:
        with self._lock:
            if self._index is None and self._future is not None and self._future.done():
                future, self._future = self._future, None
                try:
                    self._index = future.result()
                except (DecodeError, OSError) as exc:
                    self.error = str(exc)
                    self._backlog.clear()
                    return None
                while self._backlog:
                    self._decode(self._backlog.popleft())
            return self._index

    def _decode(self, ev: Event) -> None:
        assert self._index is not None
        if ev.code == STACK_DUMP_CODE:
            self._unwind(ev)
            return
        if ev.code == COREDUMP_CODE:
            from espwatch.coredump.event import enrich_event

            enrich_event(ev, self._index, self._program_info())
            return
        frames = decode_event(ev, self._index)
        if frames:
            ev.frames = frames

    def _unwind(self, ev: Event) -> None:
        """A RISC-V `Stack memory:` dump: unwind it with the register dump before it (CFI from the ELF)."""
        from espwatch.unwind.logpanic import decode_stack_dump

        regs = self._stack_regs.pop(id(ev), None)
        if regs is None:
            return
        out = decode_stack_dump(regs, ev.block, self._index, self._program_info())
        if out is not None:
            fields, frames = out
            ev.fields.update(fields)
            ev.frames = [f for bt in frames for f in bt.event_frames()]

    def _program_info(self) -> ProgramInfo | None:
        """The ELF's call frame information and FreeRTOS facts (loaded once, on the first crash)."""
        if self._program is None and self.program_error is None and self._index is not None:
            from espwatch.unwind.program import ProgramInfo

            try:
                self._program = ProgramInfo.load(self._index.path)
            except (DecodeError, OSError) as exc:
                self.program_error = str(exc)
        return self._program

    def process(self, ev: Event) -> list[Event]:
        if ev.code == STACK_DUMP_CODE:
            last = self._last_regs
            if last is not None and last.boot == ev.boot and 0 <= ev.line - last.end_line <= 3:
                self._stack_regs[id(ev)] = [last.text, *last.block]
        elif "MEPC" in ev.text or any("MEPC" in line for line in ev.block[:4]):
            self._last_regs = ev
        if (ev.kind in DECODE_KINDS or ev.code == COREDUMP_CODE) and ev.frames is None:
            with self._lock:
                if self._poll() is not None:
                    self._decode(ev)
                elif self._future is not None:
                    self._backlog.append(ev)
        return [ev]

    def finish(self) -> list[Event]:
        if self._future is not None:
            wait([self._future])
        self._poll()
        return []


def elf_status(choice: ElfChoice | None, stage: DecodeStage | None, printed: list[str]) -> str:
    """The monitor's status text for the ELF: name, index state, and whether it matches the device."""
    if choice is None:
        return "no ELF"
    state = stage.state if stage is not None else "ready"
    if state == "failed":
        return f"ELF {choice.path.name}: unusable ({stage.error if stage else ''})"
    mismatched = [p for p in printed if choice.matches(p) is False]
    if mismatched:
        return f"ELF {choice.path.name} ✗ DOES NOT MATCH the device ({mismatched[-1]})"
    suffix = " (indexing…)" if state == "indexing" else ""
    if printed:
        return f"ELF {choice.path.name} ✓ matches{suffix}"
    return f"ELF {choice.path.name}{suffix}"
