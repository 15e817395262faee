"""An event again, from the lines it was found on: how a long session keeps only line numbers in memory.

`Detector` events depend only on their own lines (the first line and its block), so reading those lines
again through a fresh detector gives the same event. What later stages put on an event is either
re-derived (decoded frames: `DecodeStage`) or kept by the caller: `added_fields` says which fields a
pattern cannot produce (e.g. the partition label the boot tracker adds), so only those need keeping.
"""

from __future__ import annotations

from typing import Any

from espwatch.detector import Detector
from espwatch.events import Event
from espwatch.patterns import Pattern, PatternSet

_fields: dict[int, tuple[Pattern, frozenset[str]]] = {}


def _pattern_fields(pat: Pattern) -> frozenset[str]:
    """Every field name the pattern's regexes and constants can produce."""
    hit = _fields.get(id(pat))
    if hit is not None and hit[0] is pat:
        return hit[1]
    names: set[str] = set(pat.fields) | set(pat.lists) | set(pat.flags)
    if pat.rx is not None:
        names.update(pat.rx.groupindex)
    if pat.block is not None:
        for col in pat.block.collect:
            names.update(col.rx.groupindex)
            if col.name:
                names.add(col.name)
    out = frozenset(names)
    _fields[id(pat)] = (pat, out)
    return out


def added_fields(ev: Event, patterns: PatternSet) -> dict[str, Any] | None:
    """The fields of `ev` its pattern cannot produce (put there by a later stage), or None."""
    pat = patterns.by_code.get(ev.code)
    if pat is None or pat.derived:
        return None
    known = _pattern_fields(pat)
    extra = {k: v for k, v in ev.fields.items() if k not in known}
    return extra or None


_templates: dict[int, tuple[PatternSet, Detector]] = {}


def _detector(patterns: PatternSet) -> Detector:
    """A fresh detector; the literal tables and the prefilter are built once per pattern set."""
    hit = _templates.get(id(patterns))
    if hit is None or hit[0] is not patterns:
        hit = _templates[id(patterns)] = (patterns, Detector(patterns))
    return hit[1].fork()


def reread(patterns: PatternSet, data: bytes, first_line: int, kind: str, code: str,
           boot: int = 1) -> Event | None:
    """The event of `kind`/`code` that starts on the first line of `data` (the bytes of its lines, from
    line `first_line` of the log on), with the log's line numbers; None when it is not there."""
    det = _detector(patterns)
    found = None
    for ev in [*det.feed(data), *det.close()]:
        if ev.line == 1 and ev.kind == kind and ev.code == code:
            found = ev
            break
    if found is None:
        return None
    shift = first_line - 1
    found.line += shift
    found.end_line += shift
    found.boot = boot
    return found
