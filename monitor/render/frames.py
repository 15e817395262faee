"""Decoded frames as text, exactly as GNU `addr2line -pfiaC` prints the same addresses.

One address decodes to a chain of frames, innermost first: every frame of the chain but the last sits in
code inlined into the next (`Frame.inlined`). addr2line prints the chain as the address line followed by
` (inlined by) ` lines; every renderer (scan, report, the monitor, copy and save) prints it this way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from espwatch.events import Frame


def frame_chains(frames: Iterable[Frame]) -> Iterator[list[Frame]]:
    """The frames of each decoded address: a chain ends at its first frame that is not inlined."""
    chain: list[Frame] = []
    for f in frames:
        if chain and f.addr != chain[0].addr:
            yield chain
            chain = []
        chain.append(f)
        if not f.inlined:
            yield chain
            chain = []
    if chain:
        yield chain


def chain_text(chain: list[Frame]) -> str:
    """One address's `-pfiaC` text (several lines when it has inlined frames)."""
    from espwatch.symbols import LineHit, addr2line_text

    if not any(f.function or f.file for f in chain):
        return addr2line_text(chain[0].addr, None)
    hits = [LineHit(f.function, f.file, f.line or 0, f.discriminator or 0) for f in chain]
    return addr2line_text(chain[0].addr, hits, demangle_names=False)


def frame_lines(frames: Iterable[Frame]) -> list[str]:
    """Every line addr2line -pfiaC would print for these frames' addresses, in order."""
    out: list[str] = []
    for chain in frame_chains(frames):
        out.extend(chain_text(chain).split("\n"))
    return out
