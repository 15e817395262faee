"""The log pane: a Line API widget that renders only the visible lines, read from a `LineIndex`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import regex
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from espwatch.device.sessionlog import is_host_line
from espwatch.lines import clean_text
from espwatch.logformat import parse_line, split_host_time
from espwatch.sanitize import for_terminal, has_sequences, sgr_text
from espwatch.tui.document import LineIndex
from espwatch.tui.query import FilterResult

LEVEL_STYLE = {"error": Style(color="red"), "warning": Style(color="yellow"), "info": Style(color="green"),
               "debug": Style(dim=True), "verbose": Style(dim=True)}
HOST_STYLE = Style(color="black", bgcolor="cyan", bold=True)
GUTTER_STYLE = Style(color="grey50")
CURSOR_STYLE = Style(bgcolor="grey30")
CURSOR_BLUR_STYLE = Style(bgcolor="grey23")
RANGE_STYLE = Style(bgcolor="grey15")
MATCH_STYLE = Style(color="black", bgcolor="yellow")
BOOKMARK_STYLE = Style(color="magenta", bold=True)


def line_text(raw: bytes, full_length: int) -> Text:
    """A device line as Rich text: its own SGR colours (espwatch.sanitize.sgr_text, which drops every
    other sequence and control), or a colour by log level; never a raw escape or control."""
    if is_host_line(raw):
        return Text(for_terminal(raw.decode("utf-8", "replace")), style=HOST_STYLE)
    s = raw.decode("utf-8", "replace")
    if "\t" in s:
        s = s.expandtabs(4)
    if has_sequences(s):
        text = sgr_text(s)
    else:
        rec = parse_line(s)
        text = sgr_text(s, LEVEL_STYLE.get(rec.level or "", ""))
    if full_length > len(raw):
        text.append(f" … ({full_length - len(raw):,} more bytes)", style="dim italic")
    return text


class LogView(ScrollView, can_focus=True):
    """Virtual view over lines 1..rows of a file (or the rows a filter keeps)."""

    DEFAULT_CSS = """
    LogView { background: $surface; }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "top", "Top", show=False),
        Binding("end", "bottom", "End", show=False),
    ]

    class CursorMoved(Message):
        def __init__(self, line: int) -> None:
            super().__init__()
            self.line = line

    def __init__(self, index: LineIndex | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = index
        self.rows = 0
        self.cursor = 0
        self.follow = True
        self.paused = False
        self.filter: FilterResult | None = None
        self.bookmarks: set[int] = set()
        self.range: tuple[int, int] | None = None
        self.search_rx: regex.Pattern[str] | None = None
        self.show_times = False
        self.time_of: Callable[[int, int, bytes], str | None] = lambda line, offset, raw: None
        self.first_render: float | None = None
        """perf_counter() when a file line was first drawn (the "first screen" of benchmarks)."""
        self._cache: OrderedDict[int, Text] = OrderedDict()
        self._max_width = 0
        self._total_lines = 0

    # -- data --------------------------------------------------------------------------------------
    def set_index(self, index: LineIndex) -> None:
        self.index = index
        self._cache.clear()

    def lines_changed(self, total_lines: int) -> None:
        """The file has `total_lines` lines now (called after each batch)."""
        self._total_lines = total_lines
        if self.index is not None and self._cache:
            last = max(self._cache)  # the last line may have been partial
            if last >= total_lines - 1:
                self._cache.pop(last, None)
        if self.paused:
            return
        rows = len(self.filter.lines) if self.filter is not None else total_lines
        self._set_rows(rows)

    def _set_rows(self, rows: int) -> None:
        grew = rows != self.rows
        self.rows = rows
        self._update_virtual_size()
        if self.follow and rows:
            self.cursor = rows - 1
            self._scroll_cursor(center=False)
        elif self.cursor >= rows:
            self.cursor = max(0, rows - 1)
        if grew:
            self.refresh()

    def _gutter_width(self) -> int:
        return max(4, len(str(self._total_lines or 1))) + 2 + (13 if self.show_times else 0)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._gutter_width() + self._max_width + 1, self.rows)

    def set_filter(self, result: FilterResult | None) -> None:
        keep = self.current_line()
        self.filter = result
        self._set_rows_for_filter()
        if keep:
            self.goto_line(keep)

    def _set_rows_for_filter(self) -> None:
        rows = len(self.filter.lines) if self.filter is not None else self._total_lines
        self.rows = rows
        self.cursor = min(self.cursor, max(0, rows - 1))
        self._update_virtual_size()
        self.refresh()

    def filter_grew(self) -> None:
        if self.filter is not None and not self.paused:
            follow = self.follow
            self._set_rows_for_filter()
            if follow and self.rows:
                self.cursor = self.rows - 1
                self._scroll_cursor(center=False)

    def row_line(self, row: int) -> int:
        if self.filter is not None:
            return self.filter.lines[row] if row < len(self.filter.lines) else 0
        return row + 1

    def line_row(self, line: int) -> int:
        if self.filter is not None:
            return min(self.filter.row_of(line), max(0, len(self.filter.lines) - 1))
        return max(0, min(line - 1, self.rows - 1))

    def current_line(self) -> int:
        return self.row_line(self.cursor) if self.rows else 0

    # -- movement ----------------------------------------------------------------------------------
    def goto_line(self, line: int, center: bool = True) -> None:
        if not self.rows:
            return
        self.cursor = self.line_row(line)
        self.follow = False
        self._scroll_cursor(center=center)
        self.refresh()
        self.post_message(self.CursorMoved(self.current_line()))

    def _scroll_cursor(self, center: bool) -> None:
        height = max(1, self.size.height)
        top = self.scroll_offset.y
        if center:
            if not (top <= self.cursor < top + height) or self.cursor > top + height - 3:
                self.scroll_to(y=max(0, self.cursor - height // 3), animate=False, immediate=True, force=True)
        elif self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True, force=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True, force=True)

    def _move(self, row: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(row, self.rows - 1))
        self.follow = self.cursor == self.rows - 1
        self._scroll_cursor(center=False)
        self.refresh()
        self.post_message(self.CursorMoved(self.current_line()))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self.size.height - 1))

    def action_top(self) -> None:
        self._move(0)

    def action_bottom(self) -> None:
        self._move(self.rows - 1)

    def on_click(self, event) -> None:
        self._move(self.scroll_offset.y + event.y)

    # -- look --------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        self._cache.clear()
        self._update_virtual_size()
        self.refresh()

    def _content(self, line: int) -> tuple[Text, int, bytes]:
        assert self.index is not None
        raw, length, offset = self.index.line(line)
        text = self._cache.get(line)
        if text is None:
            text = line_text(raw, length)
            if line < self._total_lines:
                self._cache[line] = text
                if len(self._cache) > 2000:
                    self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(line)
        return text, offset, raw

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        if self.index is None or row >= self.rows:
            return Strip.blank(width, self.rich_style)
        line = self.row_line(row)
        if line <= 0:
            return Strip.blank(width, self.rich_style)
        text, offset, raw = self._content(line)
        if self.first_render is None:
            import time

            self.first_render = time.perf_counter()
        if self.search_rx is not None:
            plain = text.plain
            hits = [(m.start(), m.end()) for m in self.search_rx.finditer(plain) if m.end() > m.start()]
            if hits:
                text = text.copy()
                for a, b in hits[:50]:
                    text.stylize(MATCH_STYLE, a, b)
        cell_len = text.cell_len
        if cell_len > self._max_width:
            self._max_width = cell_len
            self.call_later(self._update_virtual_size)
        num_w = max(4, len(str(self._total_lines or 1)))
        mark = "◆" if line in self.bookmarks else " "
        gutter = Text(f"{line:>{num_w}}", style=GUTTER_STYLE)
        gutter.append(mark, style=BOOKMARK_STYLE)
        gutter.append(" ")
        if self.show_times:
            stamp = self.time_of(line, offset, raw) or ""
            gutter.append(f"{stamp[:12]:<12} ", style="cyan")
        console = self.app.console
        g_strip = Strip(list(gutter.render(console, end="")), gutter.cell_len)
        body_w = max(0, width - gutter.cell_len)
        c_strip = Strip(list(text.render(console, end="")), cell_len).crop(scroll_x, scroll_x + body_w)
        base = self.rich_style
        if row == self.cursor:
            base = base + (CURSOR_STYLE if self.has_focus else CURSOR_BLUR_STYLE)
        elif self.range is not None and self.range[0] <= line <= self.range[1]:
            base = base + RANGE_STYLE
        strip = Strip.join([g_strip, c_strip]).adjust_cell_length(width, base).apply_style(base)
        return strip

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


def host_time_of_text(raw: bytes) -> str | None:
    """The host timestamp a captured line carries (`12:00:01.123 -> ...`), if any."""
    ts, _ = split_host_time(clean_text(raw[:64]))
    if ts is None:
        return None
    return ts.split(" ")[-1].split("T")[-1]
