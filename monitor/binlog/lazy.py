"""A stand-in for a binary log decoder that costs nothing on text: the decoder is made (and imported) at the
first chunk holding a byte that could start a frame (0x01 or 0x02), and takes over from there."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from espwatch.binlog.decoder import BinlogDecoder


class LazyDecoder:
    """Like `make()`'s unarmed decoder, which passes such chunks through unchanged too.

    The decoder it makes gets its chunks as bytes (copied from a reused read buffer), so a caller may feed
    it one buffer over and over (`copies_input`)."""

    copies_input = True

    def __init__(self, make: Callable[[], BinlogDecoder]) -> None:
        self._make = make
        self.real: BinlogDecoder | None = None
        self._at_line_start = True
        self._text = 0
        self.notes: list[str] = []

    def feed(self, data: bytes) -> bytes:
        if self.real is None:
            if b"\x01" not in data and b"\x02" not in data:
                if data:
                    self._text += len(data)
                    self._at_line_start = data.endswith(b"\n")
                return data
            real = self._make()
            real._at_line_start = self._at_line_start
            real.stats.text_bytes += self._text
            real.notes[:0] = self.notes
            self.real = real
        return self.real.feed(bytes(data))

    def idle(self) -> bytes:
        return self.real.idle() if self.real is not None else b""

    def close(self) -> bytes:
        return self.real.close() if self.real is not None else b""

    def fresh(self) -> LazyDecoder:
        return LazyDecoder(self._make)

    @property
    def active(self) -> bool:
        return self.real is not None and self.real.active

    @property
    def stats(self) -> Any:
        return self.real.stats if self.real is not None else None
