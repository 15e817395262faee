"""The espwatch screen: log pane, boot timeline, event detail, status line; live (`--port`) or replay.

This module composes the screen and routes what happens. The pieces live beside it: `logview` the log
pane, `timeline` the boots and events, `detail` the event pane, `status` the status line, `help` the keys
and the Ctrl+T menu, `console` console keys, `eventstore` and `boots` the events and boots in bounded
memory, `messages` what workers post; the app's behaviours are mixins: `searching`, `filtering`, `device`
(sending, resets, console mode, the Ctrl+T menu) and `reports` (copy and save). The app never parses on
its own: a follower worker reads the file (the session log when live) through the core `Pipeline` and
posts batches; filters, searches, reports and device commands run in Textual thread workers
(`@work(thread=True, exclusive=True)`), never on the UI thread."""

from __future__ import annotations

import asyncio
import gc
import os
import queue
import sys
import threading
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, ProgressBar, Static, Tree

from espwatch.decoding import DecodeStage
from espwatch.device.reader import SerialSource
from espwatch.enrich import Enrichment
from espwatch.events import SEVERITIES, Event
from espwatch.patterns import PatternSet
from espwatch.pipeline import Pipeline
from espwatch.portpipe import PortsPipeline
from espwatch.render.frames import frame_lines
from espwatch.reread import reread
from espwatch.sanitize import for_terminal
from espwatch.search import SearchResult
from espwatch.tui.boots import FACT_LINES, BootIndex
from espwatch.tui.console import ConsoleKeys
from espwatch.tui.detail import SEVERITY_MARK, SEVERITY_STYLE, event_title, render_event
from espwatch.tui.device import DeviceMixin
from espwatch.tui.document import Batch, ByteStore, Follower, LineIndex, SessionInfo
from espwatch.tui.eventstore import EventStore, LineOrder
from espwatch.tui.filtering import FilterMixin
from espwatch.tui.help import HelpScreen
from espwatch.tui.logview import LogView, host_time_of_text
from espwatch.tui.messages import BatchReady, SourceStatus
from espwatch.tui.ports import PortsMixin, PortsSetup, port_style
from espwatch.tui.query import FilterResult, FilterSpec
from espwatch.tui.quietsize import update_in_place
from espwatch.tui.reports import ReportMixin
from espwatch.tui.searching import SearchMixin
from espwatch.tui.status import StatusInfo, status_text
from espwatch.tui.timeline import Timeline

if TYPE_CHECKING:
    from espwatch.scanproc import ScanProcess

NARROW = 120
"""Below this many columns the side panes (timeline, details) hide by themselves."""
APPLY_SLICE = 0.008
"""Seconds of batch work per turn of the event loop: keys wait at most about this long for a batch."""


class DetailScreen(ModalScreen[None]):
    """An event's details over the log (when the side panes are hidden)."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > VerticalScroll { width: 90%; height: 90%; border: round $accent; padding: 0 1;
                                    background: $panel; }
    """

    def __init__(self, body: Any) -> None:
        super().__init__()
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.body)


class MonitorApp(SearchMixin, FilterMixin, DeviceMixin, ReportMixin, PortsMixin, App[int]):
    """Live monitor (with `source`) or replay of `path`; with `ports`, `path` is the merged log of several
    ports (espwatch.merge) and the pipeline gives each port its own (espwatch.tui.ports)."""

    TITLE = "espwatch"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #main { height: 1fr; }
    #left { width: 1fr; }
    #log { height: 1fr; }
    #prompt { display: none; height: 3; }
    #prompt.shown { display: block; }
    #console { display: none; }
    #console.shown { display: block; }
    #right { width: 52; border-left: solid $primary-darken-2; }
    #right.collapsed { display: none; }
    #timeline { height: 1fr; border-bottom: solid $primary-darken-2; }
    #detail-scroll { height: 1fr; }
    #detail { padding: 0 1; }
    #eventbar { height: 1; display: none; background: $boost; }
    #eventbar.shown { display: block; }
    #statusbar { height: 1; background: $primary-darken-3; }
    #status { width: 1fr; height: 1; }
    #progress { width: 30; height: 1; display: none; }
    #progress.shown { display: block; }
    """

    BINDINGS = [
        Binding("ctrl+right_square_bracket", "quit", "Quit", priority=True, key_display="^]"),
        Binding("ctrl+t", "menu", "Menu", priority=True, show=False, key_display="^T"),
        Binding("n", "next_event(1)", "Next event", key_display="n/N"),
        Binding("N", "next_event(-1)", "Prev event", show=False),
        Binding("right_square_bracket", "next_boot(1)", "Next boot", key_display="]/["),
        Binding("left_square_bracket", "next_boot(-1)", "Prev boot", show=False),
        Binding("slash", "prompt('search')", "Search", key_display="/"),
        Binding("greater_than_sign,f3", "next_match(1)", "Next match", show=False),
        Binding("less_than_sign,shift+f3", "next_match(-1)", "Prev match", show=False),
        Binding("l", "level", "Level"),
        Binding("f", "prompt('tag')", "Tag"),
        Binding("b", "boot_filter", "Boot", show=False),
        Binding("m", "bookmark", "Mark"),
        Binding("apostrophe", "next_bookmark", "Next mark", show=False, key_display="'"),
        Binding("t", "timestamps", "Time", show=False),
        Binding("s", "side", "Side", show=False),
        Binding("W", "wrap", "Wrap", show=False),
        Binding("d", "decoded", "Decoded", show=False),
        Binding("enter", "details", "Details", show=False),
        Binding("c", "copy_event", "Copy", show=False),
        Binding("C", "copy_report", "Copy report", show=False),
        Binding("w", "save_report", "Save", show=False),
        Binding("escape", "escape", "Clear", show=False),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
    ]
    LIVE_BINDINGS = [
        Binding("f2", "console", "Console", key_display="F2"),
        Binding("ctrl+r", "reset", "Reset", key_display="^R"),
        Binding("ctrl+p", "bootloader", "Bootloader", key_display="^P"),
        Binding("p", "pause", "Pause"),
        Binding("i", "prompt('send')", "Send"),
    ]
    REPLAY_BINDINGS = [Binding("q", "quit", "Quit", show=False)]
    PORTS_BINDINGS = [Binding("o", "port", "Port")]

    def __init__(self, path: str | os.PathLike[str], patterns: PatternSet, *,
                 enrichment: Enrichment | None = None,
                 source: SerialSource | None = None, follow: bool = False,
                 until: threading.Event | None = None, name: str | None = None,
                 show_times: bool = False, report_dir: str | os.PathLike[str] | None = None,
                 eol: bytes = b"\r\n", interval: float | None = None,
                 store: ByteStore | None = None,
                 arrival_time: Callable[[int], float | None] | None = None,
                 scan_in_process: bool | ScanProcess = False, ports: PortsSetup | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.patterns = patterns
        self.enrichment = enrichment
        self.ports = ports
        self.port_selected = 0
        self._port_hashes: dict[str, set[str]] = {}
        """Several ports: the one reset, send and console act on (espwatch.tui.ports)."""
        if ports is not None:
            self.pipeline: Pipeline | PortsPipeline = ports.pipeline(patterns)
            source = ports.sources[0] if ports.sources else None
        else:
            stages = enrichment.stages() if enrichment is not None else []
            self.pipeline = Pipeline(patterns, stages, keep_events=False)
        self.source = source
        self.live = source is not None
        if self.live:
            # The reader thread must get the GIL back quickly after each read, also while the UI and the
            # parser are busy: 1 ms instead of Python's 5 ms between thread switches (measured: about 2x
            # the bytes/s under a flood, bench/bench_live.py).
            sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self.log_name = name or self.path.name
        self.elf_state = enrichment.status([]) if enrichment is not None else "no ELF"
        self.report_dir = Path(report_dir) if report_dir else self.path.resolve().parent
        self.eol = eol
        # Live, the screen reads the session through the SessionLog: it also has what the file could not take.
        # `store` / `arrival_time` given with a source: the screen shows a copy made from what the source
        # wrote (a binary log's decoded text), with the arrival times mapped back to the source's bytes.
        self.index = LineIndex(self.path, store=store if store is not None else
                               source.log if source is not None else None)
        self.arrival_time = arrival_time if arrival_time is not None else \
            source.arrival_time if source is not None else None
        self.follower = Follower(self.index, self.pipeline, self._post_batch, follow=follow or self.live,
                                 until=until, interval=interval or (0.1 if self.live else 0.25))
        if scan_in_process and not self.live and not follow and store is None:
            made = scan_in_process
            self.follower.scan_process = self._scan_process if made is True else lambda: made  # type: ignore
        self.store = EventStore(patterns, self._reread, keep_frames=lambda c: not DecodeStage.redecodable(c))
        """Every event found (a row each; bodies read again from the log when needed)."""
        self.notable = LineOrder()
        """The events the timeline would list (all of them, also beyond what it lists), by line."""
        self.sessions = BootIndex(self._reread_boot, keep=self._boot_listed)
        """Every boot (numbers in arrays; facts of the listed and recent ones, the others read again)."""
        self.lines = 0
        self.bytes_read = 0
        self.file_size = 0
        self.scan_done = False
        self.started = time.perf_counter()
        self.done_at: float | None = None
        self.selected: Event | None = None
        self.selected_row: int | None = None
        self.filter_spec = FilterSpec(labelled=ports is not None)
        self.filter: FilterResult | None = None
        self._filtering: FilterResult | None = None
        """The filter a worker is extending now."""
        self.search_pattern: str | None = None
        self.search: SearchResult | None = None
        self._search_sorted: list[int] | None = None
        self.prompt_mode: str | None = None
        self.source_state = source.state if source else ""
        self.source_text = ""
        self.show_times = show_times
        self.last_report: Path | None = None
        self.console_mode = False
        self.side_choice: bool | None = None
        """The side panes as the user chose with `s` (None: by the terminal's width)."""
        self.capture: IO[bytes] | None = None
        self.capture_path: Path | None = None
        self._decoded_at: dict[int, list[int]] = {}
        """Line -> store rows of the events whose decoded frames are shown under it."""
        self._undecoded: list[int] = []
        """Rows of events to decode once the ELF index is ready."""
        self._send_queue: queue.Queue[bytes | None] = queue.Queue()
        self._batches: deque[Batch] = deque()
        """Batches from the follower not applied yet (see `_apply_batches`)."""
        self._applying_steps: Iterator[None] | None = None
        self._applying = False
        for b in [*(self.LIVE_BINDINGS if self.live else self.REPLAY_BINDINGS),
                  *(self.PORTS_BINDINGS if ports is not None else [])]:
            self.bind(b.key, b.action, description=b.description, show=b.show,
                      key_display=b.key_display)

    # -- layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield LogView(self.index, id="log")
                yield Input(id="prompt")
                yield ConsoleKeys(self.eol, id="console")
            with Vertical(id="right"):
                yield Timeline(self.patterns, self.live, id="timeline")
                with VerticalScroll(id="detail-scroll"):
                    yield Static(Text("Select an event in the timeline (n / N), or press ? for keys.",
                                      style="dim"), id="detail")
        yield Static(id="eventbar")
        with Horizontal(id="statusbar"):
            yield Static(id="status")
            yield ProgressBar(id="progress", show_eta=False, total=100)
        yield Footer()

    @property
    def log_view(self) -> LogView:
        return self.query_one("#log", LogView)

    @property
    def timeline(self) -> Timeline:
        return self.query_one("#timeline", Timeline)

    @property
    def timeline_events(self) -> list[Event]:
        """The events listed in the timeline, by line (read again from the log when not in memory)."""
        return [ev for ev in map(self.store.get, self.timeline.rows) if ev is not None]

    @property
    def events(self) -> list[Event]:
        """Every event, whole, by line (reads the log for bodies not in memory: for tests and small logs)."""
        return self.store.events()

    @property
    def search_busy(self) -> bool:
        return self.search is not None and not self.search.done

    @property
    def side_shown(self) -> bool:
        return not self.query_one("#right").has_class("collapsed")

    def _boot_listed(self, number: int) -> bool:
        try:
            return self.timeline.lists_boot(number)
        except Exception:  # before the screen is composed
            return True

    def _reread_boot(self, number: int, first: int, last: int) -> SessionInfo | None:
        """A boot's facts, read again from its first lines (see espwatch.tui.boots)."""
        extra: dict[str, Any] = {}
        if self.ports is not None:  # the boot's port's own lines
            lane, data = self._port_data(first, min(last, first + FACT_LINES))
            if lane is None:
                return None
            pp = self.pipeline
            extra = {"port": self.ports.labels[lane], "port_boot": pp.boot_local[number - 1]} \
                if isinstance(pp, PortsPipeline) and number <= len(pp.boot_local) else {}
        else:
            data = b"".join(buf for _, buf in self.index.iter_ranges(first, min(last, first + FACT_LINES)))
        pipe = Pipeline(self.patterns, [], keep_events=False)
        pipe.feed(data)
        pipe.close()
        s = pipe.sessions[0]
        i = number - 1
        counts = {name: self.sessions.counts[r][i] for r, name in enumerate(SEVERITIES)
                  if self.sessions.counts[r][i]}
        return SessionInfo(number, first, last, {**s.facts, **extra}, counts)

    def _reread(self, first: int, last: int, kind: str, code: str, boot: int) -> Event | None:
        stages = self.pipeline.stages
        if self.ports is not None:  # the event's port's own lines, then the merged line numbers again
            lane, data = self._port_data(first, last)
            if lane is None or not isinstance(self.pipeline, PortsPipeline):
                return None
            ev = reread(self.patterns, data, 1, kind, code, boot)
            if ev is not None:
                ev.line, ev.end_line = first, last
            stages = self.pipeline.stages_of(lane)
        else:
            data = b"".join(buf for _, buf in self.index.iter_ranges(first, last))
            ev = reread(self.patterns, data, first, kind, code, boot)
        if ev is not None:
            for stage in stages:
                if isinstance(stage, DecodeStage):
                    stage.decode_if_ready(ev)
        return ev

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).cursor_blink = False
        view = self.log_view
        view.show_times = self.show_times
        view.time_of = self._time_of
        view.decoded_text = self._decoded_text
        view.follow = self.follower.follow
        view.focus()
        if not self.live:
            self.query_one("#progress", ProgressBar).add_class("shown")
        if self.ports is not None:
            view.port_styles = {label: port_style(i) for i, label in enumerate(self.ports.labels)}
            for label, src in zip(self.ports.labels, self.ports.sources, strict=False):
                src.on_status = lambda state, text, label=label: self.post_message(
                    SourceStatus(state, f"{label}: {text}"))
                if not src.running:
                    src.start()
            if self.ports.sources:
                self._sender()
        elif self.source is not None:
            src = self.source
            src.on_data = lambda n: self.follower.wake.set()
            src.on_status = lambda state, text: self.post_message(SourceStatus(state, text))
            src.log.listeners.append(self.follower.wake.set)
            if not src.running:
                src.start()
            if src.message:
                self.source_text = src.message
            self._sender()
        self._follow()
        self._apply_side()
        self._update_status()
        # What start-up made (modules, patterns, widgets: most of the objects the collector tracks) stays for
        # the life of the screen: out of the collector's full passes, which otherwise held the event loop
        # (and the follower thread, with the GIL) 100-400 ms at a time during a big replay.
        self.call_after_refresh(gc.freeze)

    @work(thread=True, exclusive=True, group="follower", exit_on_error=False)
    def _follow(self) -> None:
        """Reads the file through the pipeline until the app stops (or the end of a saved log)."""
        try:
            self.follower.run()
        except Exception as exc:
            self.post_message(SourceStatus("error", f"scan stopped: {exc}"))

    def on_unmount(self) -> None:
        self.follower.stop.set()
        self.follower.wake.set()
        self._send_queue.put(None)
        self.workers.cancel_all()
        if self.filter is not None:
            self.filter.cancel.set()
        for src in self.ports.sources if self.ports is not None else [self.source] if self.source else []:
            src.stop()
        self._stop_capture()
        self.index.close()

    def set_elf_state(self, text: str) -> None:
        """Hook for the decoder: what the status line says about the ELF (e.g. "app.elf ✓ matches")."""
        self.elf_state = text
        self._update_status()

    # -- side panes, event bar -------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._apply_side()

    def _apply_side(self) -> None:
        show = self.side_choice if self.side_choice is not None else self.size.width >= NARROW
        self.query_one("#right").set_class(not show, "collapsed")
        self.query_one("#eventbar").set_class(not show, "shown")
        if not show and self.focused is not None and self.focused.id in ("timeline", "detail-scroll"):
            self.log_view.focus()
        self._update_eventbar()

    def action_side(self) -> None:
        self.side_choice = not self.side_shown
        self._apply_side()

    def _update_eventbar(self) -> None:
        bar = self.query_one("#eventbar", Static)
        if self.side_shown:
            return
        row = self.selected_row
        if row is None:
            row = self.notable.last()
        t = Text()
        ev = self.store.held(row) if row is not None else None
        if ev is None and row is not None:
            ev = self.store.get(row)
        if ev is not None:
            t.append(SEVERITY_MARK.get(ev.severity, "·") + " ", style=SEVERITY_STYLE.get(ev.severity, ""))
            t.append(f"{ev.line} ", style="dim")
            t.append(event_title(ev, self.patterns), style="bold")
            if row in self.store.provisional:
                t.append(" …", style="dim")
            t.append(f"  ({ev.kind}, boot {ev.boot})", style="dim")
        else:
            t.append("no events yet", style="dim")
        t.append(f"  · {len(self.store):,} events · n/N browse · Enter details · s side panes", style="dim")
        update_in_place(bar, t)

    def action_details(self) -> None:
        if self.side_shown or self.selected is None:
            return
        self.push_screen(DetailScreen(render_event(self.selected, self.patterns,
                                                   self.sessions.get(self.selected.boot),
                                                   self.selected_row in self.store.provisional)))

    # -- batches from the follower -----------------------------------------------------------------
    def _scan_process(self) -> ScanProcess:
        """The worker process that scans a saved file (replay), with the same patterns, rules and ELF (the
        replay command starts it before the screen, and passes it as `scan_in_process`)."""
        from espwatch.scanproc import ScanProcess

        enr = self.enrichment
        return ScanProcess(str(self.path), self.patterns, enr.rules if enr is not None else None,
                           enr.elf if enr is not None else None, enrich=enr is not None)

    def _post_batch(self, batch: Batch) -> None:
        self.post_message(BatchReady(batch))

    def screen_gone(self) -> bool:
        """The widgets are gone (the app is closing): a worker's late message has nothing to update (the
        bytes are in the log file; nothing is lost by not drawing them)."""
        try:
            return self.timeline is None
        except NoMatches:
            return True

    def on_batch_ready(self, message: BatchReady) -> None:
        if self.screen_gone():
            return
        self._batches.append(message.batch)
        if not self._applying:
            self._apply_batches()

    def _apply_batches(self) -> None:
        """Apply the batches that came, for at most `APPLY_SLICE` seconds; the rest on a later turn of the
        event loop, after the keys that came meanwhile (a batch of a 1 GB replay holds hundreds of events:
        applied at once, it held the keys for tens to hundreds of ms)."""
        self._applying = False
        if self.screen_gone():
            return
        deadline = time.perf_counter() + APPLY_SLICE
        with self.timeline.changes():
            while self._batches:
                if self._applying_steps is None:
                    self._applying_steps = self._batch_steps(self._batches[0])
                for n, _ in enumerate(self._applying_steps):
                    if not n & 15 and time.perf_counter() >= deadline:
                        break
                else:
                    self._applying_steps = None
                    self._batches.popleft()
                    continue
                # Through the event loop, not straight into the app's queue: Textual runs the messages
                # queued there back to back, and keys (posted from the driver's thread) only get into it
                # when the loop turns.
                self._applying = True
                asyncio.get_running_loop().call_soon(self.call_later, self._apply_batches)
                return

    def _batch_steps(self, b: Batch) -> Iterator[None]:
        """Apply one batch: yields after each event (see `_apply_batches`)."""
        ch = b.changes
        store, timeline = self.store, self.timeline
        timeline.update_boots(b.sessions)  # first: the boots it lists keep their facts in memory
        for s in b.sessions:
            self.sessions.update(s)
        self.lines, self.bytes_read, self.file_size = b.lines, b.bytes_read, b.size
        provisional = {id(e) for e in ch.provisional}
        for ev in ch.withdrawn:
            row = store.remove(ev)
            if row is not None:
                timeline.remove(row)
                self.notable.remove(row)
                self._set_decoded(row, ev, None)
                if row == self.selected_row:
                    self._show_withdrawn(ev)
            yield
        for old, new in ch.updated:
            prov = id(new) in provisional
            row = store.replace(old, new, prov)
            if self.patterns.in_timeline(new):
                self.notable.add(new.line, row)
            if timeline.has(row):
                timeline.relabel(row, new, prov)
            else:
                timeline.add(row, new, self.sessions, prov)
            self._set_decoded(row, old, new)
            if row == self.selected_row:
                self.show_event(row, move=False)
            yield
        for ev in ch.new:
            prov = id(ev) in provisional
            row = store.add(ev, prov)
            if self.patterns.in_timeline(ev):
                self.notable.add(ev.line, row)
            timeline.add(row, ev, self.sessions, prov)
            self._set_decoded(row, None, ev)
            yield
        self._retry_decoding()
        self.log_view.lines_changed(b.lines)
        if b.done and not self.scan_done:
            self.scan_done = True
            self.done_at = time.perf_counter()
            self.query_one("#progress", ProgressBar).remove_class("shown")
        elif not self.live and b.size:
            bar = self.query_one("#progress", ProgressBar)
            bar.update(progress=100.0 * b.bytes_read / b.size)
            # following a file (replay --follow): once it has caught up, it is following, not scanning
            bar.set_class(b.bytes_read < b.size, "shown")
        if self.filter is not None and not self.filter.complete:
            self._start_filter()
        if self.ports is not None:
            for s in b.sessions:
                self.note_port_boot(s)
            self.elf_state = self.ports_elf_state()
        elif self.enrichment is not None:
            self.elf_state = self.enrichment.status(sorted(self.sessions.printed_hashes))
        self._update_eventbar()
        self._update_status()

    # -- decoded frames under their lines ------------------------------------------------------------
    def _set_decoded(self, row: int, old: Event | None, new: Event | None) -> None:
        """Keep the log pane's decoded lines in step with an event that came, changed or went."""
        if old is not None:
            rows = self._decoded_at.get(old.end_line)
            if rows and row in rows:
                rows.remove(row)
                self._refresh_decoded(old.end_line)
        if new is None or new.code not in self.patterns.decode_codes:
            return
        if not new.frames:
            if self.indexing:
                self._undecoded.append(row)
            return
        rows = self._decoded_at.setdefault(new.end_line, [])
        if row not in rows:
            rows.append(row)
        self._refresh_decoded(new.end_line)

    def _refresh_decoded(self, line: int) -> None:
        rows = self._decoded_at.get(line)
        if not rows:
            self._decoded_at.pop(line, None)
        self.log_view.set_decoded(line, len(self._decoded_text(line)))

    def _decoded_text(self, line: int) -> list[str]:
        out: list[str] = []
        for row in self._decoded_at.get(line, ()):
            ev = self.store.get(row)
            if ev is not None and ev.frames:
                out.extend(frame_lines(ev.frames))
        return out

    def _retry_decoding(self) -> None:
        if not self._undecoded or self.indexing:
            return
        rows, self._undecoded = self._undecoded, []
        for row in rows:
            ev = self.store.get(row)
            if ev is not None and self.store.alive[row]:
                self._set_decoded(row, None, ev)

    def action_decoded(self) -> None:
        view = self.log_view
        view.set_show_decoded(not view.show_decoded)
        self.notify("decoded frames " + ("shown under their lines" if view.show_decoded else "hidden"),
                    timeout=2)

    # -- status --------------------------------------------------------------------------------------
    def _status_info(self) -> StatusInfo:
        reading = not self.scan_done and not self.live
        info = StatusInfo(live=self.live, lines=self.lines, boots=len(self.sessions),
                          events=len(self.store), timeline_capped=self.timeline.capped, elf=self.elf_state,
                          scanning=reading and self.bytes_read < self.file_size,
                          following=reading and self.bytes_read >= self.file_size,
                          paused=self.log_view.paused,
                          search=self.search_pattern or "")
        if self.ports is not None:
            info.source, info.size = f"merged {self.log_name}", self.file_size
            info.state = f"reset/send → {self.ports.labels[self.port_selected]}" if self.live else ""
        elif self.live and self.source is not None:
            src = self.source
            info.source, info.state, info.size = f"{src.url} {src.baud}", self.source_state or src.state, \
                src.bytes_received
        else:
            info.source, info.size = self.log_name, self.file_size
        if self.filter_spec.active:
            info.filter = self.filter_spec.describe()
            info.filter_busy = self.filter is not None and not self.filter.complete
            if self.filter is not None:
                info.hidden = self.lines - len(self.filter.lines) if self.filter.complete else \
                    self.filter.hidden
        res = self.search
        if res is not None and self.search_pattern:
            info.search_hits = res.count
            info.search_busy = not res.done
            info.search_progress = res.progress
        if self.console_mode:
            info.extra.append("CONSOLE (F2 leaves)")
        if self.capture_path is not None:
            info.extra.append(f"logging to {self.capture_path.name}")
        if self.log_view.wrap:
            info.extra.append("wrap")
        return info

    def _update_status(self) -> None:
        try:
            info = self._status_info()
        except NoMatches:  # a reader's note after the screen went (several ports stop one after the other)
            return
        text = status_text(info)
        if self.ports is not None:
            text = Text.assemble(self.ports_status(), " · ", text)
        one = self.source is not None and self.ports is None  # several ports: in ports_status
        log_problem = self.source.log.status_text() if one else None
        if log_problem:
            text = Text.assemble((f" {for_terminal(log_problem)} ", "bold white on red"), " ", text)
        update_in_place(self.query_one("#status", Static), text)

    def on_source_status(self, message: SourceStatus) -> None:
        if message.state in ("connected", "waiting", "lost"):
            self.source_state = message.state
        self.source_text = message.text
        if message.state in ("log_failing", "log_dropping"):
            self.notify(message.text, title="session log", severity="error", timeout=15)
        elif message.state == "log_ok":
            self.notify(message.text, title="session log", timeout=6)
        elif message.state in ("lost", "waiting", "error"):
            self.notify(message.text, severity="warning", timeout=4)
        elif message.state in ("connected", "info"):
            self.notify(message.text, timeout=3)
        self._update_status()

    def _time_of(self, line: int, offset: int, raw: bytes) -> str | None:
        t = self.arrival_time(offset) if self.arrival_time is not None else None
        if t is not None:
            d = datetime.fromtimestamp(t)
            return f"{d:%H:%M:%S}.{d.microsecond // 1000:03d}"
        return None if self.live else host_time_of_text(raw)

    # -- selection -----------------------------------------------------------------------------------
    @on(Tree.NodeHighlighted, "#timeline")
    def _node_highlighted(self, message: Tree.NodeHighlighted) -> None:
        """The user moves in the timeline (selecting from elsewhere shows its target itself: the tree also
        highlights nodes as they are added, which must not move the log)."""
        data = message.node.data
        if not data or not self.timeline.has_focus:
            return
        kind, value = data
        if kind == "event":
            if value != self.selected_row:
                self.show_event(value)
        else:
            self.show_boot(value)

    def show_boot(self, number: int) -> None:
        s = self.sessions.get(number)
        if s is None:
            return
        self.selected, self.selected_row = None, None
        self.log_view.range = (s.start_line, s.end_line)
        self.log_view.goto_line(s.start_line)
        self.query_one("#detail", Static).update(self._boot_detail(s))
        self._update_eventbar()

    def _boot_detail(self, s: SessionInfo) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="cyan", no_wrap=True)
        table.add_column(overflow="fold")
        table.add_row("boot", f"{s.number} (lines {s.start_line}-{s.end_line})")
        for k, v in s.facts.items():
            if k in ("partitions", "partition_line"):
                continue
            table.add_row(for_terminal(k.replace("_", " ")), for_terminal(str(v)))
        if s.counts:
            table.add_row("events", ", ".join(f"{n} {k}" for k, n in s.counts.items()))
        for row in s.facts.get("partitions", []) or []:
            if isinstance(row, dict):
                cells = (str(row.get(k, "")) for k in ("label", "offset", "length"))
                table.add_row("partition", for_terminal(" ".join(cells)))
        return table

    def show_event(self, row: int, move: bool = True) -> None:
        """Show the event of a store row in the detail pane (and its lines in the log pane)."""
        ev = self.store.get(row)
        if ev is None:
            return
        self.selected, self.selected_row = ev, row
        detail = render_event(ev, self.patterns, self.sessions.get(ev.boot), row in self.store.provisional)
        self.query_one("#detail", Static).update(detail)
        view = self.log_view
        view.range = (ev.line, ev.end_line)
        if move:
            self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)
            view.goto_line(ev.line)
        self._update_eventbar()

    def _show_withdrawn(self, ev: Event) -> None:
        self.selected, self.selected_row = None, None
        self.query_one("#detail", Static).update(
            Text(f"{event_title(ev, self.patterns)}: withdrawn (the lines that followed contradict it)",
                 style="dim"))

    def select_event(self, ev: Event | int) -> None:
        """Select an event (an event object handed out by the app, or a store row)."""
        row = ev if isinstance(ev, int) else self.store.row_of(ev)
        if row is None:
            return
        self.timeline.reveal(row)
        self.show_event(row)

    def action_next_event(self, direction: int) -> None:
        notable = self.notable
        if not len(notable):
            self.notify("no events yet", timeout=2)
            return
        view = self.log_view
        cur = view.current_line()
        sel = self.selected_row
        on_it = sel is not None and self.selected is not None and self.selected.line == cur
        if direction > 0:
            row = notable.after(cur, sel) if on_it else notable.after(cur)  # type: ignore[arg-type]
        else:
            row = notable.before(cur, sel) if on_it else notable.before(cur)  # type: ignore[arg-type]
        if row is None and direction > 0 and view.follow:
            row = notable.last()  # at the live tail: the newest event
        if row is None:
            if direction > 0:
                self.notify("no later event" + (" yet" if self.live else ""), timeout=2)
            else:
                self.notify("no earlier event", timeout=2)
            return
        self.select_event(row)

    def action_next_boot(self, direction: int) -> None:
        starts = self.sessions.start
        if not len(starts):
            return
        cur = self.log_view.current_line()
        i = bisect_right(starts, cur) if direction > 0 else bisect_left(starts, cur) - 1
        if not 0 <= i < len(starts):
            self.notify("no more boots" if direction > 0 else "no earlier boot", timeout=2)
            return
        if self.side_shown:
            self.timeline.reveal_boot(i + 1)
        self.show_boot(i + 1)

    # -- prompt (search, tag filter, send) -----------------------------------------------------------
    def action_prompt(self, mode: str) -> None:
        if mode == "send" and not self.live:
            return
        prompt = self.query_one("#prompt", Input)
        self.prompt_mode = mode
        prompt.placeholder = {"search": "search: text or regex (lowercase = ignore case), Enter to find",
                              "tag": "filter by tag: regex, empty to clear",
                              "send": "send to the device, Enter sends the line (F2: console mode)"}[mode]
        prompt.value = {"search": self.search_pattern or "", "tag": self.filter_spec.tag or ""}.get(mode, "")
        prompt.border_title = mode
        prompt.add_class("shown")
        prompt.focus()

    def _hide_prompt(self) -> None:
        prompt = self.query_one("#prompt", Input)
        prompt.remove_class("shown")
        self.prompt_mode = None
        self.log_view.focus()

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, message: Input.Submitted) -> None:
        mode, value = self.prompt_mode, message.value
        if mode == "send":
            self._send_queue.put(value.encode("utf-8") + self.eol)
            message.input.value = ""
            return  # stay in the box for the next line
        self._hide_prompt()
        if mode == "search":
            self.start_search(value)
        elif mode == "tag":
            self.set_filter(tag=value or None)

    def action_escape(self) -> None:
        if self.prompt_mode is not None:
            self._hide_prompt()
            return
        changed = self.filter_spec.active or self.search_pattern
        self._clear_search()
        if self.filter_spec.active:
            self.set_filter(clear=True)
        self.log_view.refresh()
        if changed:
            self.notify("filters and search cleared", timeout=2)
        self._update_status()

    # -- bookmarks, timestamps, wrap, pause ------------------------------------------------------------
    def action_bookmark(self) -> None:
        view = self.log_view
        line = view.current_line()
        if not line:
            return
        if line in view.bookmarks:
            view.bookmarks.discard(line)
        else:
            view.bookmarks.add(line)
        view.refresh()

    def action_next_bookmark(self) -> None:
        view = self.log_view
        if not view.bookmarks:
            self.notify("no bookmarks (m sets one)", timeout=2)
            return
        marks = sorted(view.bookmarks)
        i = bisect_right(marks, view.current_line())
        view.goto_line(marks[i % len(marks)])

    def action_timestamps(self) -> None:
        view = self.log_view
        view.show_times = self.show_times = not view.show_times
        view.invalidate()

    def action_wrap(self) -> None:
        view = self.log_view
        view.set_wrap(not view.wrap)
        self._update_status()

    def action_pause(self) -> None:
        view = self.log_view
        view.paused = not view.paused
        if not view.paused:
            view.lines_changed(self.lines)
        self._update_status()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
