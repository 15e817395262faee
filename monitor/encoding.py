"""Text encodings of saved logs: what a file is written in, and a reader that hands the pipeline UTF-8.

Logs are bytes and the pipeline matches UTF-8 bytes. Windows PowerShell 5 `>` writes UTF-16 LE with a BOM,
some editors UTF-16 BE or UTF-8 with a BOM; those are detected from the first bytes (with or without a BOM)
and transcoded on the fly, so line numbers stay those of the text. Anything else is read as UTF-8,
best-effort (bad bytes become U+FFFD); when the start of a file looks like text in an encoding that cannot
be read that way, `Sniffed.note` says so, for `scan` to tell the user instead of a bare "no events".
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import BinaryIO

SNIFF_BYTES = 4096

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the first bytes of a file say: its encoding, the length of its BOM, and a note if unreadable."""

    encoding: str = "utf-8"
    bom: int = 0
    note: str | None = None

    @property
    def transcode(self) -> bool:
        return self.encoding != "utf-8"


def _zero_share(head: bytes, offset: int, step: int) -> float:
    part = head[offset::step]
    return part.count(0) / len(part) if part else 0.0


def _mostly_text(data: bytes) -> bool:
    """Printable ASCII, tabs and line breaks make up most of `data`."""
    if not data:
        return False
    ok = sum(1 for b in data if 32 <= b < 127 or b in (9, 10, 13))
    return ok / len(data) > 0.85


def _looks_like(body: bytes, encoding: str) -> bool:
    """The bytes after a BOM are text of that encoding too (a BOM followed by binary noise is noise)."""
    if len(body) < 8:
        return True
    if encoding == "utf-8":
        text = body.decode("utf-8", "replace")
        return text.count("\ufffd") / len(text) < 0.05
    unit = 4 if encoding.startswith("utf-32") else 2
    n = len(body) - len(body) % unit
    text_at = 0 if encoding.endswith("le") else unit - 1
    zeros = [_zero_share(body[:n], o, unit) for o in range(unit) if o != text_at]
    return min(zeros) > 0.3 and _zero_share(body[:n], text_at, unit) < 0.3


def sniff(head: bytes) -> Sniffed:
    """The encoding of a log from its first bytes (up to SNIFF_BYTES)."""
    head = head[:SNIFF_BYTES]
    for bom, name in _BOMS:
        if head.startswith(bom) and _looks_like(head[len(bom):], name):
            return Sniffed(name, len(bom))
    n = len(head) - len(head) % 4
    if n >= 16:
        h = head[:n]
        for enc, text_at in (("utf-32-le", 0), ("utf-32-be", 3)):
            others = [o for o in range(4) if o != text_at]
            if all(_zero_share(h, o, 4) > 0.95 for o in others) and _mostly_text(h[text_at::4]):
                return Sniffed(enc)
    n = len(head) - len(head) % 2
    if n >= 8:
        h = head[:n]
        even, odd = _zero_share(h, 0, 2), _zero_share(h, 1, 2)
        if odd > 0.6 and even < 0.05 and _mostly_text(h[0::2]):
            return Sniffed("utf-16-le")
        if even > 0.6 and odd < 0.05 and _mostly_text(h[1::2]):
            return Sniffed("utf-16-be")
    if not head:
        return Sniffed()
    nul = head.count(0) / len(head)
    if nul > 0.1:
        return Sniffed(note=f"{nul:.0%} of its first bytes are NUL: text in an encoding espwatch cannot read "
                            f"(or not a text log); it was scanned as UTF-8, best-effort")
    text = head.decode("utf-8", "replace")
    bad = text.count("\ufffd") / max(1, len(text))
    if bad > 0.2:
        return Sniffed(note=f"{bad:.0%} of its first characters are not UTF-8: text in another encoding, or "
                            f"binary data; it was scanned as UTF-8, best-effort")
    return Sniffed()


class Utf8Reader:
    """Reads a binary file in another encoding and returns its text as UTF-8 bytes."""

    def __init__(self, raw: BinaryIO, sniffed: Sniffed, head: bytes = b"") -> None:
        self.raw = raw
        self.sniffed = sniffed
        self._head = head[sniffed.bom:] if head else b""
        self._skip = 0 if head else sniffed.bom
        name = "utf-8-sig" if sniffed.encoding == "utf-8" else sniffed.encoding
        self._decoder = codecs.getincrementaldecoder(name)(errors="replace")
        self._done = False

    def _convert(self, data: bytes) -> bytes:
        if self._skip:
            cut = min(self._skip, len(data))
            data, self._skip = data[cut:], self._skip - cut
        if self._head:
            data, self._head = self._head + data, b""
        return self._decoder.decode(data, final=False).encode("utf-8", "replace")

    def _read_with(self, fn, size: int) -> bytes:  # type: ignore[no-untyped-def]
        if self._done:
            return b""
        while True:
            data = fn(size)
            if not data:
                self._done = True
                rest = self._convert(b"") if self._head else b""
                return rest + self._decoder.decode(b"", final=True).encode("utf-8", "replace")
            out = self._convert(data)
            if out:
                return out

    def read(self, size: int = -1) -> bytes:
        return self._read_with(self.raw.read, size)

    def read1(self, size: int = -1) -> bytes:
        return self._read_with(getattr(self.raw, "read1", self.raw.read), size)

    def close(self) -> None:
        self.raw.close()


class _Prefixed:
    """A non-seekable stream whose first bytes were already read (to sniff them): gives them back first."""

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.raw = raw
        self._head = head

    def _take(self, fn, size: int) -> bytes:  # type: ignore[no-untyped-def]
        if self._head:
            data, self._head = self._head, b""
            return data
        return fn(size)

    def read(self, size: int = -1) -> bytes:
        return self._take(self.raw.read, size)

    def read1(self, size: int = -1) -> bytes:
        return self._take(getattr(self.raw, "read1", self.raw.read), size)

    def close(self) -> None:
        self.raw.close()


def utf8_stream(raw: BinaryIO, head: bytes, seekable: bool) -> tuple[BinaryIO, Sniffed]:
    """A stream of UTF-8 bytes for `raw`, whose first bytes `head` were read to sniff it.

    A seekable `raw` is expected back at its start; a non-seekable one (stdin) gets `head` given back.
    UTF-8 without a BOM is returned as it is: nothing is added to the hot path.
    """
    sniffed = sniff(head)
    if not sniffed.transcode and not sniffed.bom:
        return (raw if seekable else _Prefixed(raw, head)), sniffed  # type: ignore[return-value]
    if seekable:
        return Utf8Reader(raw, sniffed), sniffed  # type: ignore[return-value]
    return Utf8Reader(raw, sniffed, head), sniffed  # type: ignore[return-value]
