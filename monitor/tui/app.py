"""The espwatch screen: log pane, boot timeline, event detail, status line; live (`--port`) or replay.

This module composes the screen and routes what happens: the pieces live beside it (`logview` the log
pane, `timeline` the boots and events, `detail` the event pane, `status` the status line, `help` the keys,
`messages` what workers post). The app never parses on its own: a follower worker reads the file (the
session log when live) through the core `Pipeline` and posts batches; filters, searches and device
commands run in Textual thread workers (`@work(thread=True, exclusive=True)`), never on the UI thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from bisect import bisect_left, bisect_right
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Input, ProgressBar, Static, Tree
from textual.worker import get_current_worker

from espwatch.decoding import DecodeStage
from espwatch.enrich import Enrichment
from espwatch.events import Event
from espwatch.patterns import PatternSet
from espwatch.pipeline import Pipeline
from espwatch.reread import reread
from espwatch.sources import SerialSource
from espwatch.tui.detail import event_plain, event_title, render_event, report_plain
from espwatch.tui.document import Batch, Follower, LineIndex, SessionInfo
from espwatch.tui.eventstore import EventStore
from espwatch.tui.help import HelpScreen
from espwatch.tui.logview import LogView, host_time_of_text
from espwatch.tui.messages import BatchReady, FilterProgress, SearchDone, SourceStatus
from espwatch.tui.query import (
    LEVEL_STEPS,
    FilterResult,
    FilterSpec,
    compile_user_regex,
    min_rank,
    run_filter,
    search,
)
from espwatch.tui.status import StatusInfo, status_text
from espwatch.tui.timeline import Timeline


class MonitorApp(App[int]):
    """Live monitor (with `source`) or replay of `path`."""

    TITLE = "espwatch"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #main { height: 1fr; }
    #left { width: 1fr; }
    #log { height: 1fr; }
    #prompt { display: none; height: 3; }
    #prompt.shown { display: block; }
    #right { width: 52; border-left: solid $primary-darken-2; }
    #timeline { height: 1fr; border-bottom: solid $primary-darken-2; }
    #detail-scroll { height: 1fr; }
    #detail { padding: 0 1; }
    #statusbar { height: 1; background: $primary-darken-3; }
    #status { width: 1fr; height: 1; }
    #progress { width: 30; height: 1; display: none; }
    #progress.shown { display: block; }
    """

    BINDINGS = [
        Binding("ctrl+right_square_bracket", "quit", "Quit", priority=True, key_display="^]"),
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
        Binding("c", "copy_event", "Copy", show=False),
        Binding("C", "copy_report", "Copy report", show=False),
        Binding("w", "save_report", "Save", show=False),
        Binding("escape", "escape", "Clear", show=False),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
    ]
    LIVE_BINDINGS = [
        Binding("ctrl+r", "reset", "Reset", key_display="^R"),
        Binding("ctrl+p", "bootloader", "Bootloader", key_display="^P"),
        Binding("p", "pause", "Pause"),
        Binding("i", "prompt('send')", "Send"),
    ]
    REPLAY_BINDINGS = [Binding("q", "quit", "Quit", show=False)]

    def __init__(self, path: str | os.PathLike[str], patterns: PatternSet, *,
                 enrichment: Enrichment | None = None,
                 source: SerialSource | None = None, follow: bool = False,
                 until: threading.Event | None = None, name: str | None = None,
                 show_times: bool = False, report_dir: str | os.PathLike[str] | None = None,
                 eol: bytes = b"\r\n", interval: float | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.patterns = patterns
        self.enrichment = enrichment
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
        self.report_dir = Path(report_dir) if report_dir else Path.cwd()
        self.eol = eol
        self.index = LineIndex(self.path)
        self.follower = Follower(self.index, self.pipeline, self._post_batch, follow=follow or self.live,
                                 until=until, interval=interval or (0.1 if self.live else 0.25))
        self.store = EventStore(patterns, self._reread)
        """Every event found (a row each; bodies read again from the log when needed)."""
        self.sessions: dict[int, SessionInfo] = {}
        self.lines = 0
        self.bytes_read = 0
        self.file_size = 0
        self.scan_done = False
        self.started = time.perf_counter()
        self.done_at: float | None = None
        self.selected: Event | None = None
        self.selected_row: int | None = None
        self.filter_spec = FilterSpec()
        self.filter: FilterResult | None = None
        self._filtering: FilterResult | None = None
        """The filter a worker is extending now."""
        self.search_pattern: str | None = None
        self.search_busy = False
        self.prompt_mode: str | None = None
        self.source_state = source.state if source else ""
        self.source_text = ""
        self.show_times = show_times
        self.last_report: Path | None = None
        for b in self.LIVE_BINDINGS if self.live else self.REPLAY_BINDINGS:
            self.bind(b.key, b.action, description=b.description, show=b.show,
                      key_display=b.key_display)

    # -- layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield LogView(self.index, id="log")
                yield Input(id="prompt")
            with Vertical(id="right"):
                yield Timeline(self.patterns, self.live, id="timeline")
                with VerticalScroll(id="detail-scroll"):
                    yield Static(Text("Select an event in the timeline (n / N), or press ? for keys.",
                                      style="dim"), id="detail")
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

    def _reread(self, first: int, last: int, kind: str, code: str, boot: int) -> Event | None:
        data = b"".join(buf for _, buf in self.index.iter_ranges(first, last))
        ev = reread(self.patterns, data, first, kind, code, boot)
        if ev is not None:
            for stage in self.pipeline.stages:
                if isinstance(stage, DecodeStage):
                    stage.decode_if_ready(ev)
        return ev

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).cursor_blink = False
        view = self.log_view
        view.show_times = self.show_times
        view.time_of = self._time_of
        view.follow = self.follower.follow
        view.focus()
        if not self.live:
            self.query_one("#progress", ProgressBar).add_class("shown")
        if self.source is not None:
            src = self.source
            src.on_data = lambda n: self.follower.wake.set()
            src.on_status = lambda state, text: self.post_message(SourceStatus(state, text))
            src.log.listeners.append(self.follower.wake.set)
            if not src.running:
                src.start()
            if src.message:
                self.source_text = src.message
        self._follow()
        self._update_status()

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
        self.workers.cancel_all()
        if self.filter is not None:
            self.filter.cancel.set()
        if self.source is not None:
            self.source.stop()
        self.index.close()

    def set_elf_state(self, text: str) -> None:
        """Hook for the decoder: what the status line says about the ELF (e.g. "app.elf ✓ matches")."""
        self.elf_state = text
        self._update_status()

    # -- batches from the follower -----------------------------------------------------------------
    def _post_batch(self, batch: Batch) -> None:
        self.post_message(BatchReady(batch))

    def on_batch_ready(self, message: BatchReady) -> None:
        b = message.batch
        ch = b.changes
        for s in b.sessions:
            self.sessions[s.number] = s
        self.lines, self.bytes_read, self.file_size = b.lines, b.bytes_read, b.size
        store, timeline = self.store, self.timeline
        timeline.update_boots(b.sessions, self.sessions)
        provisional = {id(e) for e in ch.provisional}
        for ev in ch.withdrawn:
            row = store.remove(ev)
            if row is not None:
                timeline.remove(row)
                if row == self.selected_row:
                    self._show_withdrawn(ev)
        for old, new in ch.updated:
            prov = id(new) in provisional
            row = store.replace(old, new, prov)
            if row in timeline._event_nodes:
                timeline.relabel(row, new, prov)
            else:
                timeline.add(row, new, self.sessions, prov)
            if row == self.selected_row:
                self.show_event(row)
        for ev in ch.new:
            prov = id(ev) in provisional
            timeline.add(store.add(ev, prov), ev, self.sessions, prov)
        self.log_view.lines_changed(b.lines)
        if b.done and not self.scan_done:
            self.scan_done = True
            self.done_at = time.perf_counter()
            self.query_one("#progress", ProgressBar).remove_class("shown")
        elif not self.live and b.size:
            self.query_one("#progress", ProgressBar).update(progress=100.0 * b.bytes_read / b.size)
        if self.filter is not None and not self.filter.complete:
            self._start_filter()
        if self.enrichment is not None:
            printed = [s.facts["elf_sha256"] for s in self.sessions.values() if s.facts.get("elf_sha256")]
            self.elf_state = self.enrichment.status(printed)
        self._update_status()

    # -- status --------------------------------------------------------------------------------------
    def _status_info(self) -> StatusInfo:
        info = StatusInfo(live=self.live, lines=self.lines, boots=len(self.sessions),
                          events=len(self.store),
                          timeline_capped=self.timeline.capped, elf=self.elf_state,
                          scanning=not self.scan_done and not self.live, paused=self.log_view.paused,
                          search=self.search_pattern or "", search_busy=self.search_busy)
        if self.live and self.source is not None:
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
        return info

    def _update_status(self) -> None:
        self.query_one("#status", Static).update(status_text(self._status_info()))

    def on_source_status(self, message: SourceStatus) -> None:
        if message.state in ("connected", "waiting", "lost"):
            self.source_state = message.state
        self.source_text = message.text
        if message.state in ("lost", "waiting", "error"):
            self.notify(message.text, severity="warning", timeout=4)
        elif message.state in ("connected", "info"):
            self.notify(message.text, timeout=3)
        self._update_status()

    def _time_of(self, line: int, offset: int, raw: bytes) -> str | None:
        if self.source is not None:
            t = self.source.arrival_time(offset)
            if t is None:
                return None
            d = datetime.fromtimestamp(t)
            return f"{d:%H:%M:%S}.{d.microsecond // 1000:03d}"
        return host_time_of_text(raw)

    # -- selection -----------------------------------------------------------------------------------
    @on(Tree.NodeHighlighted, "#timeline")
    def _node_highlighted(self, message: Tree.NodeHighlighted) -> None:
        data = message.node.data
        if not data:
            return
        kind, value = data
        if kind == "event":
            self.show_event(value)
        else:
            s = self.sessions.get(value)
            if s is not None:
                self.selected, self.selected_row = None, None
                self.log_view.range = (s.start_line, s.end_line)
                self.log_view.goto_line(s.start_line)
                self.query_one("#detail", Static).update(self._boot_detail(s))

    def _boot_detail(self, s: SessionInfo) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="cyan", no_wrap=True)
        table.add_column(overflow="fold")
        table.add_row("boot", f"{s.number} (lines {s.start_line}-{s.end_line})")
        for k, v in s.facts.items():
            if k in ("partitions", "partition_line"):
                continue
            table.add_row(k, str(v))
        if s.counts:
            table.add_row("events", ", ".join(f"{n} {k}" for k, n in s.counts.items()))
        for row in s.facts.get("partitions", []) or []:
            if isinstance(row, dict):
                cells = (str(row.get(k, "")) for k in ("label", "offset", "length"))
                table.add_row("partition", " ".join(cells))
        return table

    def show_event(self, row: int) -> None:
        """Show the event of a store row in the detail pane and its lines in the log pane."""
        ev = self.store.get(row)
        if ev is None:
            return
        self.selected, self.selected_row = ev, row
        detail = render_event(ev, self.patterns, self.sessions.get(ev.boot))
        self.query_one("#detail", Static).update(detail)
        self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)
        view = self.log_view
        view.range = (ev.line, ev.end_line)
        view.goto_line(ev.line)

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
        if not self.timeline.rows:
            self.notify("no events yet", timeout=2)
            return
        row = self.timeline.neighbour(self.selected_row, self.log_view.current_line(), direction)
        if row is None:
            self.notify("no more events" if direction > 0 else "no earlier event", timeout=2)
            return
        self.select_event(row)

    def action_next_boot(self, direction: int) -> None:
        if not self.sessions:
            return
        cur = self.log_view.current_line()
        starts = sorted((s.start_line, n) for n, s in self.sessions.items())
        lines = [a for a, _ in starts]
        i = bisect_right(lines, cur) if direction > 0 else bisect_left(lines, cur) - 1
        if not 0 <= i < len(starts):
            self.notify("no more boots" if direction > 0 else "no earlier boot", timeout=2)
            return
        self.timeline.reveal_boot(starts[i][1], self.sessions)

    # -- prompt (search, tag filter, send) -----------------------------------------------------------
    def action_prompt(self, mode: str) -> None:
        if mode == "send" and not self.live:
            return
        prompt = self.query_one("#prompt", Input)
        self.prompt_mode = mode
        prompt.placeholder = {"search": "search: regex (lowercase = ignore case), Enter to find",
                              "tag": "filter by tag: regex, empty to clear",
                              "send": "send to the device, Enter sends the line"}[mode]
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
            self._send(value.encode("utf-8") + self.eol)
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
        self.search_pattern = None
        self.log_view.search_rx = None
        self.workers.cancel_group(self, "search")
        if self.filter_spec.active:
            self.set_filter(clear=True)
        self.log_view.refresh()
        if changed:
            self.notify("filters and search cleared", timeout=2)
        self._update_status()

    # -- search --------------------------------------------------------------------------------------
    def start_search(self, pattern: str, direction: int = 1) -> None:
        if not pattern:
            self.search_pattern = None
            self.log_view.search_rx = None
            self.log_view.refresh()
            self._update_status()
            return
        try:
            rx = compile_user_regex(pattern)
        except Exception as exc:
            self.notify(f"bad regex: {exc}", severity="error", timeout=4)
            return
        self.search_pattern = pattern
        view = self.log_view
        view.search_rx = rx
        view.refresh()
        allowed = None
        if self.filter is not None:
            flt = self.filter

            def allowed(line: int, flt: FilterResult = flt) -> bool:
                i = bisect_left(flt.lines, line)
                return i < len(flt.lines) and flt.lines[i] == line

        self.search_busy = True
        self._update_status()
        self._search(rx, pattern, view.current_line(), direction < 0, allowed)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, rx: Any, pattern: str, start: int, backward: bool, allowed: Any) -> None:
        cancel = get_current_worker().cancelled_event
        try:
            line = search(self.index, rx, start, backward=backward, allowed=allowed, cancel=cancel)
        except Exception:
            line = None
        if not cancel.is_set():
            self.post_message(SearchDone(line, pattern))

    def on_search_done(self, message: SearchDone) -> None:
        self.search_busy = False
        if message.pattern != self.search_pattern:
            return
        if message.line is None:
            self.notify(f"no match for /{message.pattern}", severity="warning", timeout=3)
        else:
            self.log_view.goto_line(message.line)
        self._update_status()

    def action_next_match(self, direction: int) -> None:
        if not self.search_pattern:
            self.action_prompt("search")
            return
        self.start_search(self.search_pattern, direction)

    # -- filters -------------------------------------------------------------------------------------
    def set_filter(self, *, level: str | bool | None = False, tag: str | bool | None = False,
                   boot: tuple[int, int, int] | bool | None = False, clear: bool = False) -> None:
        spec = FilterSpec() if clear else FilterSpec(self.filter_spec.min_level, self.filter_spec.tag,
                                                      self.filter_spec.boot)
        if level is not False:
            spec.min_level = level  # type: ignore[assignment]
        if tag is not False:
            if tag:
                try:
                    compile_user_regex(str(tag))
                except Exception as exc:
                    self.notify(f"bad regex: {exc}", severity="error", timeout=4)
                    return
            spec.tag = tag  # type: ignore[assignment]
        if boot is not False:
            spec.boot = boot  # type: ignore[assignment]
        self.filter_spec = spec
        if self.filter is not None:
            self.filter.cancel.set()
        if not spec.active:
            self.filter = None
            self.log_view.set_filter(None)
        else:
            self.filter = FilterResult(spec)
            self.log_view.set_filter(self.filter)
            self._start_filter()
        self._update_status()

    def _start_filter(self) -> None:
        flt = self.filter
        if flt is None:
            return
        if self._filtering is flt:
            return  # a worker extends this filter; it takes the newer lines when it is done
        self._filtering = flt
        rank = min_rank(flt.spec)
        self._filter(flt, self.store.own_spans(rank) if rank is not None else [], self.lines)

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def _filter(self, flt: FilterResult, spans: list[tuple[int, int]], total: int) -> None:
        last_post = 0.0

        def progress(r: FilterResult) -> None:
            nonlocal last_post
            now = time.perf_counter()
            if now - last_post > 0.2:
                last_post = now
                self.post_message(FilterProgress(r, False))

        try:
            run_filter(flt, self.index, spans, upto=total, progress=progress)
        finally:
            self.post_message(FilterProgress(flt, True))

    def on_filter_progress(self, message: FilterProgress) -> None:
        if message.done and message.result is self._filtering:
            self._filtering = None
        if message.result is not self.filter:
            return
        view = self.log_view
        had_rows = view.rows
        view.filter_grew()
        if not had_rows and view.rows:
            view.goto_line(view.row_line(0))
        if message.done:
            flt = message.result
            if flt.scanned_to < self.lines:
                self._start_filter()  # more lines arrived meanwhile
            elif self.scan_done:
                flt.complete = True
        self._update_status()

    def action_level(self) -> None:
        i = LEVEL_STEPS.index(self.filter_spec.min_level)
        nxt = LEVEL_STEPS[(i + 1) % len(LEVEL_STEPS)]
        self.set_filter(level=nxt)
        self.notify(f"level filter: {nxt or 'all lines'}", timeout=2)

    def action_boot_filter(self) -> None:
        if self.filter_spec.boot is not None:
            self.set_filter(boot=None)
            return
        line = self.log_view.current_line()
        for s in sorted(self.sessions.values(), key=lambda s: s.start_line, reverse=True):
            if s.start_line <= line:
                end = s.end_line if s.number < len(self.sessions) else 1 << 62
                self.set_filter(boot=(s.number, s.start_line, end))
                return

    # -- bookmarks, timestamps, pause --------------------------------------------------------------------
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

    def action_pause(self) -> None:
        view = self.log_view
        view.paused = not view.paused
        if not view.paused:
            view.lines_changed(self.lines)
        self._update_status()

    # -- device control ------------------------------------------------------------------------------
    @work(thread=True, group="device", exit_on_error=False)
    def _send(self, data: bytes) -> None:
        if self.source is not None:
            self.source.send(data)

    @work(thread=True, group="device", exit_on_error=False)
    def action_reset(self) -> None:
        if self.source is not None:
            self.source.reset()

    @work(thread=True, group="device", exit_on_error=False)
    def action_bootloader(self) -> None:
        if self.source is not None:
            self.source.reset_to_bootloader()

    # -- copy / save ---------------------------------------------------------------------------------
    def report_text(self) -> str:
        sessions = [self.sessions[n] for n in sorted(self.sessions)]
        return report_plain(self.log_name, self.lines, sessions, self.events, self.patterns)

    def action_copy_event(self) -> None:
        if self.selected is None:
            self.notify("select an event first (n)", timeout=2)
            return
        self.copy_to_clipboard(event_plain(self.selected, self.patterns))
        self.notify("event copied to the clipboard (OSC 52)", timeout=2)

    def action_copy_report(self) -> None:
        self.copy_to_clipboard(self.report_text())
        self.notify("report copied to the clipboard (OSC 52)", timeout=2)

    def action_save_report(self) -> None:
        stem = Path(self.log_name).stem or "log"
        path = self.report_dir / f"espwatch-report-{stem}-{datetime.now():%Y%m%d-%H%M%S}.txt"
        try:
            path.write_text(self.report_text(), encoding="utf-8")
        except OSError as exc:
            self.notify(f"cannot save the report: {exc}", severity="error", timeout=5)
            return
        self.last_report = path
        self.notify(f"report saved to {path}", timeout=4)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
