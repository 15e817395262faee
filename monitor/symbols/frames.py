"""Decoded frames for events, and idf.py-monitor-style annotation of whole logs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from espwatch.events import Event, Frame
from espwatch.symbols.addresses import CodeAddress, extract_addresses, extract_line
from espwatch.symbols.format import addr2line_text, frames_for
from espwatch.symbols.query import IndexQuery as SymbolIndex
from espwatch.symbols.query import Session


def decode_addresses(index: SymbolIndex, addresses: Iterable[CodeAddress]) -> list[Frame]:
    """Frames for each address (innermost first per address). Only addresses inside executable
    sections of the ELF are looked up; the others (ROM, other images, data) are frames with nulls."""
    out: list[Frame] = []
    session = Session()
    for ca in addresses:
        if index.is_code(ca.lookup):
            out.extend(frames_for(ca.lookup, index.lookup(ca.lookup, session)))
        else:
            out.append(Frame(ca.lookup))
    return out


def decode_event(event: Event, symbolizer: SymbolIndex) -> list[Frame]:
    """Frames for the code addresses in `event.text` and `event.block` (backtrace first)."""
    lines = [event.text, *event.block]
    addresses = extract_addresses(lines, symbolizer.arch, symbolizer.is_code)
    return decode_addresses(symbolizer, addresses)


def annotate_log(lines: Iterable[str], index: SymbolIndex, indent: str = "  ") -> Iterator[str]:
    """Yield every input line (without its newline), each followed by the decoded text of the code
    addresses it carries (`0x400d1234: app_main at main.c:42`, `(inlined by)` lines indented)."""
    session = Session()
    for raw in lines:
        line = raw.rstrip("\r\n")
        yield line
        for ca in extract_line(line, index.arch, index.is_code):
            if not index.is_code(ca.lookup):
                continue
            text = addr2line_text(ca.lookup, index.lookup(ca.lookup, session))
            for part in text.split("\n"):
                yield indent + part.lstrip(" ") if part.startswith(" (inlined by)") else indent + part
