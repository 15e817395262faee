"""The espwatch screen: log pane, boot timeline, event detail, status line; live (`--port`) or replay.

The app never parses on its own: a `Follower` thread reads the file (the session log when live) through
the core `Pipeline` and posts batches; the app subscribes to what the pipeline produced and sends commands
(filters, search, device control) to worker threads and to the `SerialSource`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, ProgressBar, Static, Tree
from textual.widgets.tree import TreeNode

from espwatch.device.reader import SerialSource
from espwatch.enrich import Enrichment
from espwatch.events import SEVERITY_RANK, Event
from espwatch.patterns import PatternSet
from espwatch.pipeline import Pipeline
from espwatch.sanitize import for_terminal
from espwatch.tui.detail import (
    SEVERITY_MARK,
    SEVERITY_STYLE,
    boot_label,
    event_plain,
    event_title,
    render_event,
    report_plain,
)
from espwatch.tui.document import Batch, ByteStore, Follower, LineIndex, SessionInfo
from espwatch.tui.logview import LogView, host_time_of_text
from espwatch.tui.query import LEVEL_STEPS, FilterResult, FilterSpec, compile_user_regex, run_filter, search

if TYPE_CHECKING:
    from espwatch.scanproc import ScanProcess

MAX_EVENTS = 200_000
MAX_TIMELINE = 20_000
EXPANDED_BOOTS = 30

HELP = """\
[b]espwatch keys[/b]

  [b]n[/b] / [b]N[/b]        next / previous event        [b]][/b] / [b][[/b]   next / previous boot
  [b]/[/b]            search (regex, smart case)   [b]>[/b] / [b]<[/b]   next / previous match (also F3)
  [b]l[/b]            level filter: all, I+, W+, E  [b]f[/b]       tag filter (regex)
  [b]b[/b]            only the boot under the cursor  [b]Esc[/b]  clear filters and search
  [b]m[/b]            toggle bookmark              [b]'[/b]       next bookmark
  [b]t[/b]            host timestamps on/off       [b]Tab[/b]     next pane
  [b]c[/b]            copy event (clipboard)       [b]C[/b]       copy report      [b]w[/b]  save report
  [b]↑ ↓ PgUp PgDn Home End[/b]  move in the focused pane; End follows the live log

Live monitor:
  [b]Ctrl+R[/b]       reset the chip (DTR/RTS)     [b]Ctrl+P[/b]  reset into the bootloader
  [b]p[/b]            pause / resume the display (recording goes on)
  [b]i[/b]            send a line to the device    [b]Ctrl+][/b] quit ([b]q[/b] too in replay)
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: auto; max-width: 100; border: round $accent; padding: 1 2;
                          background: $panel; }
    """

    def compose(self) -> ComposeResult:
        yield Static(HELP)


class BatchReady(Message):
    def __init__(self, batch: Batch) -> None:
        super().__init__()
        self.batch = batch


class SourceStatus(Message):
    def __init__(self, state: str, text: str) -> None:
        super().__init__()
        self.state = state
        self.text = text


class FilterProgress(Message):
    def __init__(self, result: FilterResult, done: bool) -> None:
        super().__init__()
        self.result = result
        self.done = done


class SearchDone(Message):
    def __init__(self, line: int | None, pattern: str) -> None:
        super().__init__()
        self.line = line
        self.pattern = pattern


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


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
                 eol: bytes = b"\r\n", interval: float | None = None,
                 store: ByteStore | None = None,
                 arrival_time: Callable[[int], float | None] | None = None,
                 scan_in_process: bool | ScanProcess = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.patterns = patterns
        self.enrichment = enrichment
        stages = enrichment.stages() if enrichment is not None else []
        self.pipeline = Pipeline(patterns, stages, keep_events=True)
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
        self._follow_thread: threading.Thread | None = None
        self.events: list[Event] = []
        self.events_dropped = 0
        self.sessions: dict[int, SessionInfo] = {}
        self.timeline_events: list[Event] = []
        self._timeline_lines: list[int] = []
        self._boot_nodes: dict[int, TreeNode[Any]] = {}
        self._event_nodes: dict[int, TreeNode[Any]] = {}
        self.lines = 0
        self.bytes_read = 0
        self.file_size = 0
        self.scan_done = False
        self.started = time.perf_counter()
        self.done_at: float | None = None
        self.selected: Event | None = None
        self.filter_spec = FilterSpec()
        self.filter: FilterResult | None = None
        self._filter_thread: threading.Thread | None = None
        self.search_pattern: str | None = None
        self.search_busy = False
        self._search_cancel = threading.Event()
        self.prompt_mode: str | None = None
        self.source_state = source.state if source else ""
        self.source_text = ""
        self.show_times = show_times
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
                tree: Tree[Any] = Tree("boots", id="timeline")
                tree.show_root = False
                tree.guide_depth = 2
                yield tree
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
    def timeline(self) -> Tree[Any]:
        return self.query_one("#timeline", Tree)

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
        self._follow_thread = threading.Thread(target=self._follow, name="espwatch-follower", daemon=True)
        self._follow_thread.start()
        self._update_status()

    def _follow(self) -> None:
        try:
            self.follower.run()
        except Exception as exc:
            self.post_message(SourceStatus("error", f"scan stopped: {exc}"))

    def on_unmount(self) -> None:
        self.follower.stop.set()
        self.follower.wake.set()
        self._search_cancel.set()
        if self.filter is not None:
            self.filter.cancel.set()
        if self.source is not None:
            self.source.stop()
        if self._follow_thread is not None:
            self._follow_thread.join(2.0)
        self.index.close()

    def set_elf_state(self, text: str) -> None:
        """Hook for the decoder: what the status line says about the ELF (e.g. "app.elf ✓ matches")."""
        self.elf_state = text
        self._update_status()

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

    def on_batch_ready(self, message: BatchReady) -> None:
        b = message.batch
        room = MAX_EVENTS - len(self.events)
        new = b.events if len(b.events) <= room else b.events[: max(room, 0)]
        self.events_dropped += len(b.events) - len(new)
        if new and self.events and new[0].line < self.events[-1].line:
            self.events.extend(new)
            self.events.sort(key=lambda e: e.line)
        else:
            self.events.extend(new)
        for s in b.sessions:
            self.sessions[s.number] = s
        self.lines, self.bytes_read, self.file_size = b.lines, b.bytes_read, b.size
        self._add_to_timeline(b.sessions, new)
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

    def _boot_node(self, number: int) -> TreeNode[Any]:
        node = self._boot_nodes.get(number)
        if node is None:
            s = self.sessions.get(number) or SessionInfo(number, 0, 0, {}, {})
            # Expanded boots cost the tree a rebuild per batch: keep the last two (live) or the first
            # EXPANDED_BOOTS (replay) open; the others are one line each, Enter opens them.
            expand = self.live or len(self._boot_nodes) < EXPANDED_BOOTS
            node = self.timeline.root.add(self._boot_text(s), data=("boot", number), expand=expand)
            self._boot_nodes[number] = node
            old = self._boot_nodes.get(number - 2)
            if self.live and old is not None and old.is_expanded:
                old.collapse()
        return node

    def _boot_text(self, s: SessionInfo) -> Text:
        worst = max(s.counts, key=SEVERITY_RANK.__getitem__) if s.counts else None
        mark_style = {"fatal": "bold red", "error": "red", "warning": "yellow"}.get(worst or "", "green")
        t = Text.assemble(("■ ", mark_style), (boot_label(s), "bold"))
        if s.start_line:
            t.append(f"  {s.start_line}-{s.end_line}", style="dim")
        return t

    def _add_to_timeline(self, sessions: list[SessionInfo], events: list[Event]) -> None:
        for s in sessions:
            self._boot_node(s.number).set_label(self._boot_text(s))
        for ev in events:
            if len(self.timeline_events) >= MAX_TIMELINE or not self.patterns.in_timeline(ev):
                continue
            parent = self._boot_node(ev.boot)
            label = Text.assemble((SEVERITY_MARK.get(ev.severity, "·"), SEVERITY_STYLE.get(ev.severity, "")),
                                  (f" {ev.line:>5} ", "dim"), event_title(ev, self.patterns))
            node = parent.add_leaf(label, data=("event", ev))
            self._event_nodes[id(ev)] = node
            i = bisect_right(self._timeline_lines, ev.line)
            self._timeline_lines.insert(i, ev.line)
            self.timeline_events.insert(i, ev)

    # -- status --------------------------------------------------------------------------------------
    def _update_status(self) -> None:
        parts: list[str] = []
        if self.live and self.source is not None:
            src = self.source
            parts.append(f"{src.url} {src.baud}")
            parts.append(self.source_state or src.state)
            parts.append(_human_bytes(src.bytes_received))
        else:
            parts.append(self.log_name)
            parts.append(_human_bytes(self.file_size))
        parts.append(f"{self.lines:,} lines")
        parts.append(f"{len(self.sessions)} boots")
        n_ev = len(self.events) + self.events_dropped
        parts.append(f"{n_ev:,} events" + (" (timeline capped)" if len(self.timeline_events) >= MAX_TIMELINE
                                            else ""))
        parts.append(self.elf_state)
        if not self.scan_done and not self.live:
            parts.append("scanning…")
        if self.log_view.paused:
            parts.append("DISPLAY PAUSED")
        if self.filter_spec.active:
            done = "" if self.filter is None or self.filter.complete else " …"
            parts.append(f"filter {self.filter_spec.describe()}{done}")
        if self.search_pattern:
            parts.append(f"/{self.search_pattern}" + (" …" if self.search_busy else ""))
        line = for_terminal(" · ".join(parts))
        text = Text(line)
        if self.live and self.source_state in ("lost", "waiting"):
            text = Text(line, style="bold yellow")
        log_problem = self.source.log.status_text() if self.source is not None else None
        if log_problem:
            text = Text.assemble((f" {for_terminal(log_problem)} ", "bold white on red"), " ", text)
        self.query_one("#status", Static).update(text)

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
        data = message.node.data
        if not data:
            return
        kind, value = data
        if kind == "event":
            self.show_event(value)
        else:
            s = self.sessions.get(value)
            if s is not None:
                self.selected = None
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
            table.add_row(for_terminal(k), for_terminal(str(v)))
        if s.counts:
            table.add_row("events", ", ".join(f"{n} {k}" for k, n in s.counts.items()))
        for row in s.facts.get("partitions", []) or []:
            if isinstance(row, dict):
                cells = (str(row.get(k, "")) for k in ("label", "offset", "length"))
                table.add_row("partition", for_terminal(" ".join(cells)))
        return table

    def show_event(self, ev: Event) -> None:
        self.selected = ev
        self.query_one("#detail", Static).update(render_event(ev, self.patterns, self.sessions.get(ev.boot)))
        self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)
        view = self.log_view
        view.range = (ev.line, ev.end_line)
        view.goto_line(ev.line)

    def select_event(self, ev: Event) -> None:
        node = self._event_nodes.get(id(ev))
        if node is not None:
            if node.parent is not None and not node.parent.is_expanded:
                node.parent.expand()
            self.timeline.move_cursor(node)
            self.timeline.scroll_to_node(node, animate=False)
        self.show_event(ev)

    def action_next_event(self, direction: int) -> None:
        if not self.timeline_events:
            self.notify("no events yet", timeout=2)
            return
        cur = self.log_view.current_line()
        if self.selected is not None and self.selected.line == cur:
            pos = bisect_right(self._timeline_lines, cur) if direction > 0 else \
                bisect_left(self._timeline_lines, cur) - 1
            # several events on one line: step through them in order
            same = [i for i, e in enumerate(self.timeline_events) if e is self.selected]
            if same:
                pos = same[0] + direction
        elif direction > 0:
            pos = bisect_right(self._timeline_lines, cur) if cur else 0
        else:
            pos = bisect_left(self._timeline_lines, cur) - 1
        if not 0 <= pos < len(self.timeline_events):
            self.notify("no more events" if direction > 0 else "no earlier event", timeout=2)
            return
        self.select_event(self.timeline_events[pos])

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
        node = self._boot_node(starts[i][1])
        self.timeline.move_cursor(node)
        self.timeline.scroll_to_node(node, animate=False)

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
            if self.source is not None:
                data = value.encode("utf-8") + self.eol
                threading.Thread(target=self.source.send, args=(data,), daemon=True).start()
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
        self._search_cancel.set()
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
        self._search_cancel.set()
        self._search_cancel = cancel = threading.Event()
        start = view.current_line()
        allowed = None
        if self.filter is not None:
            flt = self.filter

            def allowed(line: int, flt: FilterResult = flt) -> bool:
                i = bisect_left(flt.lines, line)
                return i < len(flt.lines) and flt.lines[i] == line

        self.search_busy = True
        self._update_status()

        def work() -> None:
            try:
                line = search(self.index, rx, start, backward=direction < 0, allowed=allowed, cancel=cancel)
            except Exception:
                line = None
            if not cancel.is_set():
                self.post_message(SearchDone(line, pattern))

        threading.Thread(target=work, name="espwatch-search", daemon=True).start()

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
        if flt is None or (self._filter_thread is not None and self._filter_thread.is_alive()):
            return
        events = list(self.events)
        total = self.lines

        def work() -> None:
            last_post = 0.0

            def progress(r: FilterResult) -> None:
                nonlocal last_post
                now = time.perf_counter()
                if now - last_post > 0.2:
                    last_post = now
                    self.post_message(FilterProgress(r, False))

            try:
                run_filter(flt, self.index, events, upto=total, progress=progress)
            finally:
                self.post_message(FilterProgress(flt, True))

        self._filter_thread = threading.Thread(target=work, name="espwatch-filter", daemon=True)
        self._filter_thread.start()

    def on_filter_progress(self, message: FilterProgress) -> None:
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
    def action_reset(self) -> None:
        if self.source is not None:
            threading.Thread(target=self.source.reset, daemon=True).start()

    def action_bootloader(self) -> None:
        if self.source is not None:
            threading.Thread(target=self.source.reset_to_bootloader, daemon=True).start()

    # -- copy / save ---------------------------------------------------------------------------------
    def report_text(self) -> str:
        sessions = [self.sessions[n] for n in sorted(self.sessions)]
        return report_plain(self.log_name, self.lines, sessions, self.events, self.patterns)

    def action_copy_event(self) -> None:
        if self.selected is None:
            self.notify("select an event first (n)", timeout=2)
            return
        self._copy(event_plain(self.selected, self.patterns), "event")

    def action_copy_report(self) -> None:
        self._copy(self.report_text(), "report")

    def _copy(self, text: str, what: str) -> None:
        """The platform's clipboard command, else OSC 52 and a file (espwatch.clipboard); headless
        (tests) never touches the desktop's clipboard."""
        from espwatch.clipboard import copy_text

        result = copy_text(text, self.copy_to_clipboard, use_command=not self.is_headless)
        self.last_copy = result
        self.notify(result.message(what), severity="error" if result.error and not result.saved else
                    "information", timeout=2 if result.command else 6)

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
