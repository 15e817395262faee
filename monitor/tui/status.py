"""The status line: where the bytes come from, how much was read, boots, events, ELF, filters, search."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from espwatch.progress import human_size as human_bytes
from espwatch.sanitize import for_terminal


@dataclass
class StatusInfo:
    """What the status line shows; the app fills it from its state."""

    source: str = ""
    """Live: "URL BAUD"; replay: the log's name."""
    state: str = ""
    """Live: connected / waiting / lost."""
    size: int = 0
    """Live: bytes received; replay: the file's size."""
    live: bool = False
    lines: int = 0
    boots: int = 0
    events: int = 0
    timeline_capped: bool = False
    elf: str = ""
    scanning: bool = False
    following: bool = False
    paused: bool = False
    filter: str = ""
    filter_busy: bool = False
    hidden: int = 0
    """Lines the filter hides."""
    search: str = ""
    search_busy: bool = False
    search_hits: int = 0
    search_progress: float = 1.0
    extra: list[str] = field(default_factory=list)


def status_text(info: StatusInfo) -> Text:
    parts: list[str] = []
    if info.live:
        parts += [info.source, info.state, human_bytes(info.size)]
    else:
        parts += [info.source, human_bytes(info.size)]
    parts.append(f"{info.lines:,} lines")
    parts.append(f"{info.boots} boots")
    parts.append(f"{info.events:,} events" + (" (timeline capped)" if info.timeline_capped else ""))
    parts.append(info.elf)
    if info.scanning:
        parts.append("scanning…")
    elif info.following:
        parts.append("following")
    if info.paused:
        parts.append("DISPLAY PAUSED")
    if info.filter:
        busy = " …" if info.filter_busy else ""
        parts.append(f"filter {info.filter}: {info.hidden:,} lines hidden{busy}")
    if info.search:
        hits = "1 hit" if info.search_hits == 1 else f"{info.search_hits:,} hits"
        busy = f" … {100 * info.search_progress:.0f}%" if info.search_busy else ""
        parts.append(f"/{info.search}: {hits}{busy}")
    parts += info.extra
    style = "bold yellow" if info.live and info.state in ("lost", "waiting") else ""
    return Text(for_terminal(" · ".join(parts)), style=style)  # names and patterns come from outside
