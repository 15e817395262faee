"""The address-decoding stage of the pipeline: adds `frames` to events that carry code addresses.

Which events are decoded is data: the patterns with `decode = true` (see patterns/README.md). The ELF and
its index are decided by `espwatch.enrich.Enrichment`, which makes this stage for each input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING

from espwatch.errors import ElfError
from espwatch.events import Event
from espwatch.symbols import SymbolIndex, decode_event

if TYPE_CHECKING:
    from espwatch.sessions import BootSession


class DecodeStage:
    """Pipeline stage: adds `frames` to the events of the `codes` given (patterns with `decode = true`).

    Takes a loaded index, or a Future of one (`SymbolIndex.load_async`) so that a live monitor never
    waits for an index build: events that arrive before it is ready are kept (at most `backlog`) and
    decoded as soon as it is.
    """

    def __init__(self, index: SymbolIndex | Future[SymbolIndex], codes: Collection[str],
                 backlog: int = 2000) -> None:
        self._index: SymbolIndex | None = index if isinstance(index, SymbolIndex) else None
        self._future: Future[SymbolIndex] | None = None if self._index is not None else index
        self._backlog: deque[Event] = deque(maxlen=backlog)
        self.codes = frozenset(codes)
        self.error: str | None = None
        self._waits = True

    def fork(self, memo: dict[int, object] | None = None) -> DecodeStage:
        """A stage for a what-if run ahead of the input: same index, own backlog, and its `finish` never
        waits for an index still being built (those events just stay undecoded)."""
        other = DecodeStage.__new__(DecodeStage)
        other._index, other._future = self._index, self._future
        other.codes, other.error = self.codes, self.error
        other._backlog = deque(maxlen=self._backlog.maxlen)
        other._waits = False
        return other

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
        frames = decode_event(ev, self._index)
        if frames:
            ev.frames = frames

    def decode_if_ready(self, ev: Event) -> bool:
        """Add frames to `ev` now if the index is loaded (safe from another thread); False otherwise."""
        index = self._index
        if index is None or ev.code not in self.codes:
            return False
        frames = decode_event(ev, index)
        if frames:
            ev.frames = frames
        return True

    def process(self, ev: Event, boot: BootSession | None = None) -> list[Event]:
        if ev.code in self.codes and ev.frames is None:
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
