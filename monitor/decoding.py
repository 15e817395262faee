"""The address-decoding stage of the pipeline: adds `frames` to events that carry code addresses.

Which events are decoded is data: the patterns with `decode = true` (see patterns/README.md). The ELF and
its index are decided by `espwatch.enrich.Enrichment`, which makes this stage for each input. Two codes get
more than addresses: a RISC-V `Stack memory:` dump (EW408) is unwound with the register dump before it
(`espwatch.unwind.logpanic`), and a core dump printed in the log (EW801) is decoded onto its event
(`espwatch.coredump.event`); both use the ELF's call frame information (`ProgramInfo`, loaded on first use).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING

from espwatch.errors import ElfError
from espwatch.events import Event
from espwatch.symbols import SymbolIndex, decode_event

if TYPE_CHECKING:
    from espwatch.sessions import BootSession
    from espwatch.unwind.program import ProgramInfo

STACK_DUMP_CODE = "EW408"  # RISC-V `Stack memory:` dump: unwound (espwatch.unwind.logpanic)
COREDUMP_CODE = "EW801"  # core dump printed to the UART: decoded (espwatch.coredump.event)


class DecodeStage:
    """Pipeline stage: adds `frames` to the events of the `codes` given (patterns with `decode = true`).

    Takes a loaded index, or a Future of one (`SymbolIndex.load_async`) so that a live monitor never
    waits for an index build: events that arrive before it is ready are kept (at most `backlog`) and
    decoded as soon as it is (in the loading thread, when no later event comes to do it).
    """

    def __init__(self, index: SymbolIndex | Future[SymbolIndex], codes: Collection[str],
                 backlog: int = 2000) -> None:
        self._index: SymbolIndex | None = index if isinstance(index, SymbolIndex) else None
        self._future: Future[SymbolIndex] | None = None if self._index is not None else index
        self._backlog: deque[Event] = deque(maxlen=backlog)
        self.codes = frozenset(codes)
        self.error: str | None = None
        # RISC-V panics: the register dump before a `Stack memory:` dump; the ELF's CFI
        self._last_regs: Event | None = None
        self._stack_regs: dict[int, list[str]] = {}
        self._program: ProgramInfo | None = None
        self.program_error: str | None = None
        self._lock = threading.RLock()
        self._waits = True
        if self._future is not None:
            self._future.add_done_callback(lambda _f: self._poll())

    def fork(self, memo: dict[int, object] | None = None) -> DecodeStage:
        """A stage for a what-if run ahead of the input (`Pipeline.speculate`): the same index and ELF
        facts, its own backlog and pending stack dumps, and a `finish` that never waits for an index still
        being built (those events just stay undecoded)."""
        other = DecodeStage.__new__(DecodeStage)
        with self._lock:
            other._index, other._future = self._index, self._future
            other._backlog = deque(maxlen=self._backlog.maxlen)
            other.codes, other.error = self.codes, self.error
            other._last_regs, other._stack_regs = self._last_regs, dict(self._stack_regs)
            other._program, other.program_error = self._program, self.program_error
        other._lock = threading.RLock()
        other._waits = False
        return other

    @staticmethod
    def redecodable(code: str) -> bool:
        """Whether an event's frames come back from the event alone (`decode_if_ready`): not those of a
        stack dump (they need the register dump before it) nor of a core dump."""
        return code not in (STACK_DUMP_CODE, COREDUMP_CODE)

    def decode_if_ready(self, ev: Event) -> bool:
        """Add frames to an event read again from the log, if the index is loaded (safe from another
        thread); False when it is not (yet) or the event needs more than itself (see `redecodable`)."""
        index = self._index
        if index is None or ev.code not in self.codes or not self.redecodable(ev.code):
            return False
        frames = decode_event(ev, index)
        if frames:
            ev.frames = frames
        return True

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
                except (ElfError, OSError) as exc:
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
            except (ElfError, OSError) as exc:
                self.program_error = str(exc)
        return self._program

    def process(self, ev: Event, boot: BootSession | None = None) -> list[Event]:
        if ev.code == STACK_DUMP_CODE:
            last = self._last_regs
            if last is not None and last.boot == ev.boot and 0 <= ev.line - last.end_line <= 3:
                self._stack_regs[id(ev)] = [last.text, *last.block]
        elif "MEPC" in ev.text or any("MEPC" in line for line in ev.block[:4]):
            self._last_regs = ev
        if ev.code in self.codes and ev.frames is None:
            with self._lock:
                if self._poll() is not None:
                    self._decode(ev)
                elif self._future is not None:
                    self._backlog.append(ev)
        return [ev]

    def finish(self) -> list[Event]:
        if self._future is not None and self._waits:
            wait([self._future])
        self._poll()
        return []
