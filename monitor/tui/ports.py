"""Several ports in one monitor: the merged log's label colours, `o` (all ports / one port alone), the port
that reset, send and console act on, and a status line per port.

The screen follows the merged log (`espwatch.merge`) like any log; its pipeline is a
`espwatch.portpipe.PortsPipeline`, so events, boots and decoding stay per port. A mixin of `MonitorApp`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from espwatch.merge import split_label
from espwatch.pipeline import Pipeline
from espwatch.portpipe import PortsPipeline, port_lines
from espwatch.sanitize import for_terminal
from espwatch.tui.status import human_bytes

if TYPE_CHECKING:
    from espwatch.device.reader import SerialSource
    from espwatch.enrich import Enrichment
    from espwatch.patterns import PatternSet
    from espwatch.sessions import SessionInfo

PORT_COLOURS = ("bright_cyan", "bright_magenta", "bright_green", "bright_yellow", "bright_blue", "orange1",
                "orchid", "spring_green2")


def port_style(i: int) -> Style:
    return Style(color=PORT_COLOURS[i % len(PORT_COLOURS)], bold=True)


@dataclass
class PortsSetup:
    """What the screen shows of several ports: labels, names (port or log), and live their readers."""

    labels: list[str]
    names: list[str]
    sources: list[SerialSource] = field(default_factory=list)
    enrichments: list[Enrichment | None] = field(default_factory=list)

    def pipeline(self, patterns: PatternSet) -> PortsPipeline:
        enr = self.enrichments or [None] * len(self.labels)
        return PortsPipeline(self.labels, [Pipeline(patterns, e.stages() if e is not None else [],
                                                    keep_events=False) for e in enr])


class PortsMixin:
    """The app's side of several ports (`self.ports` is a `PortsSetup`, or None for one port)."""

    def _port_index(self, label: str | None) -> int | None:
        return self.ports.labels.index(label) if label in self.ports.labels else None

    def port_of_line(self, line: int) -> int | None:
        """The port (index) of a merged log line."""
        if line <= 0 or line > self.index.line_count:
            return None
        raw, _, _ = self.index.line(line)
        return self._port_index(split_label(raw)[0])

    def _port_data(self, first: int, last: int) -> tuple[int | None, bytes]:
        """(port, its bytes) of merged lines first..last: the port of line `first`."""
        data = b"".join(buf for _, buf in self.index.iter_ranges(first, last))
        lane = self.port_of_line(first)
        if lane is None:
            return None, b""
        return lane, port_lines(data, self.ports.labels[lane])

    def action_port(self) -> None:
        """`o`: all ports -> port A alone -> port B alone -> ... -> all ports. Reset, send and console act on
        the port shown alone (with all shown, on the last one chosen)."""
        if self.ports is None:
            return
        labels = self.ports.labels
        cur = self.filter_spec.port
        nxt = labels[0] if cur is None else (labels[labels.index(cur) + 1]
                                            if labels.index(cur) + 1 < len(labels) else None)
        if nxt is not None:
            self.select_port(labels.index(nxt))
        self.set_filter(port=nxt)
        what = "port" if self.live else "log"  # replay of several saved logs: they are logs
        if nxt is None:
            acts = f"; reset and send act on {self.selected_port_name}" if self.live else ""
            self.notify(f"all {what}s" + acts, timeout=3)
        else:
            name = for_terminal(self.ports.names[labels.index(nxt)])
            self.notify(f"{what} {nxt} only ({name})", timeout=3)

    def port_boot_filter(self, number: int) -> None:
        """`b` in a merged log: the boot of the cursor line's port that the line is in, that port only."""
        pp = self.pipeline
        lane = self.port_of_line(self.log_view.current_line())
        if lane is None or not isinstance(pp, PortsPipeline):
            return
        owner = pp.boot_owner
        n = min(number, len(owner))
        while n >= 1 and owner[n - 1] != lane:
            n -= 1
        if n < 1 or n > len(self.sessions):
            return
        later = any(owner[j] == lane for j in range(n, len(owner)))
        end = self.sessions.end[n - 1] if later else 1 << 62
        self.select_port(lane)
        self.set_filter(boot=(n, self.sessions.start[n - 1], end), port=self.ports.labels[lane])

    def select_port(self, lane: int) -> None:
        """The port that reset, send and console act on."""
        self.port_selected = lane
        if self.ports is not None and self.ports.sources:
            self.source = self.ports.sources[lane]
        self._update_status()

    @property
    def selected_port_name(self) -> str:
        lane = self.port_selected
        return f"{self.ports.labels[lane]} ({for_terminal(self.ports.names[lane])})"

    @property
    def indexing(self) -> bool:
        """An ELF index (of any port) is still being built: decoding waits for it."""
        enrs = (self.ports.enrichments if self.ports is not None and self.ports.enrichments
                else [self.enrichment])
        return any(e is not None and e.state == "indexing" for e in enrs)

    def note_port_boot(self, s: SessionInfo) -> None:
        """Keep the ELF SHA256 each port's app printed (at most 16 a port), for the ELF status per port."""
        sha, port = s.facts.get("elf_sha256"), s.facts.get("port")
        if isinstance(sha, str) and isinstance(port, str):
            seen = self._port_hashes.setdefault(port, set())
            if len(seen) < 16:
                seen.add(sha)

    def ports_elf_state(self) -> str:
        """The ELF status of each port (once when they all say the same)."""
        setup = self.ports
        enrs = setup.enrichments or [self.enrichment] * len(setup.labels)
        texts = [e.status(sorted(self._port_hashes.get(label, ()))) if e is not None else "no ELF"
                 for label, e in zip(setup.labels, enrs, strict=True)]
        if len(set(texts)) == 1:
            return texts[0]
        return ", ".join(f"{label}: {t}" for label, t in zip(setup.labels, texts, strict=True))

    def report_source(self) -> tuple[Path, Enrichment | None]:
        """What `w` and `C` report on: the log and its ELF (several ports: the selected port's)."""
        if self.ports is None:
            return self.path, self.enrichment
        lane = self.port_selected
        path = self.ports.sources[lane].log.path if self.ports.sources else Path(self.ports.names[lane])
        enr = self.ports.enrichments[lane] if self.ports.enrichments else self.enrichment
        return path, enr

    def ports_status(self) -> Text:
        """One part per port: label in its colour, port, state, bytes (the selected one marked)."""
        out = Text()
        setup = self.ports
        for i, label in enumerate(setup.labels):
            if i:
                out.append(" ")
            style = port_style(i)
            mark = "▸" if self.live and i == self.port_selected else ""
            out.append(f"{mark}{label}", style=style)
            if setup.sources:
                src = setup.sources[i]
                state = src.state
                name = for_terminal(src.url.rsplit("/", 1)[-1])
                warn = state in ("lost", "waiting")
                out.append(f" {name} ", style="bold yellow" if warn else "")
                out.append(state if warn else "ok", style="bold yellow" if warn else "green")
                out.append(f" {human_bytes(src.bytes_received)}")
                problem = src.log.status_text()
                if problem:
                    out.append(f" {for_terminal(problem)}", style="bold white on red")
            else:
                out.append(f" {for_terminal(setup.names[i].rsplit('/', 1)[-1])}")
        return out
