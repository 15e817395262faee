"""Text in GNU `addr2line -pfiaC` form, and Frame objects from index answers."""

from __future__ import annotations

from collections.abc import Iterable

from espwatch.symbols.demangle import demangle
from espwatch.symbols.query import IndexQuery as SymbolIndex
from espwatch.symbols.query import LineHit

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (decode starts fast)
if TYPE_CHECKING:
    from espwatch.events import Frame


def addr2line_text(addr: int, hits: list[LineHit] | None, demangle_names: bool = True) -> str:
    """The `-pfiaC` lines for one address (no trailing newline); `hits` from SymbolIndex.lookup."""
    head = f"0x{addr & 0xFFFFFFFF:08x}: "
    if not hits:
        return head + "?? ??:0"
    parts = []
    for hit in hits:
        name = hit.function
        if not name:
            name = "??"
        elif demangle_names:
            name = demangle(name)
        where = f"{hit.file or '??'}:"
        if hit.line:
            where += f"{hit.line} (discriminator {hit.discriminator})" if hit.discriminator else str(hit.line)
        else:
            where += "?"
        parts.append(f"{name} at {where}")
    return head + "\n (inlined by) ".join(parts)


def addr2line_lines(index: SymbolIndex, addrs: Iterable[int]) -> list[str]:
    """One `-pfiaC` block per address, decoded in order like a single addr2line process would."""
    addrs = list(addrs)
    return [addr2line_text(a, h) for a, h in zip(addrs, index.lookup_many(addrs), strict=True)]


def frames_for(addr: int, hits: list[LineHit] | None) -> list[Frame]:
    """Frames for one address: innermost first; all but the last are inside inlined code."""
    from espwatch.events import Frame

    if not hits:
        return [Frame(addr)]
    out = []
    last = len(hits) - 1
    for i, hit in enumerate(hits):
        out.append(
            Frame(
                addr,
                function=demangle(hit.function) if hit.function else None,
                file=hit.file,
                line=hit.line or None,
                inlined=i < last,
                discriminator=hit.discriminator or None,
            )
        )
    return out
