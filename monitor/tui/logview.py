"""The log pane: a Line API widget that renders only the visible lines, read from a `LineIndex`.

Rows: each line of the log (or each line a filter keeps) is a row; with decoded frames shown (`d`), the
frames of an event sit as extra rows under its last line, in addr2line's form and styled apart (they are
never written to any file). Without wrapping a row is one screen line (a horizontal scrollbar appears for
wide lines, and never hides the last row); with wrapping (`W`) a row takes as many screen lines as it needs,
laid out from the top row down, or from the last row up while following the tail.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable

import regex
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from espwatch.device.sessionlog import is_host_line
from espwatch.lines import clean_text
from espwatch.logformat import parse_line, split_host_time
from espwatch.merge import split_label
from espwatch.sanitize import for_terminal, sgr_text
from espwatch.tui.document import LineIndex
from espwatch.tui.query import FilterResult
from espwatch.tui.quietsize import quiet_virtual_size, scrollbars_follow

LEVEL_STYLE = {"error": Style(color="red"), "warning": Style(color="yellow"), "info": Style(color="green"),
               "debug": Style(dim=True), "verbose": Style(dim=True)}
HOST_STYLE = Style(color="black", bgcolor="cyan", bold=True)
GUTTER_STYLE = Style(color="grey50")
CURSOR_STYLE = Style(bgcolor="grey30")
CURSOR_BLUR_STYLE = Style(bgcolor="grey23")
RANGE_STYLE = Style(bgcolor="grey15")
MATCH_STYLE = Style(color="black", bgcolor="yellow")
BOOKMARK_STYLE = Style(color="magenta", bold=True)
DECODED_STYLE = Style(color="cyan", italic=True)
DECODED_MARK = "--- "
"""What idf.py monitor prints before a decoded address; the rest of the line is addr2line's."""


def level_style(text: str) -> Style | None:
    """The colour of a line by its log level (E red, W yellow, I green, D/V dim), None without a level."""
    rec = parse_line(text)
    return LEVEL_STYLE.get(rec.level or "")


def line_text(raw: bytes, full_length: int) -> Text:
    """A device line as Rich text: its own SGR colours (espwatch.sanitize.sgr_text, which drops every
    other sequence and control), or a colour by log level; never a raw escape or control."""
    if is_host_line(raw):
        text = Text(for_terminal(raw.decode("utf-8", "replace")), no_wrap=True, end="")
        text.stylize(HOST_STYLE)
        return text
    s = raw.decode("utf-8", "replace")
    if "\t" in s:
        s = s.expandtabs(4)
    text = sgr_text(s)
    if not text.spans:  # no colour of its own: coloured by level
        style = level_style(text.plain)
        if style is not None:
            # a span, not Text.style: Rich drops the base style of a Text without spans when rendering
            text.stylize(style)
    if full_length > len(raw):
        text.append(f" … ({full_length - len(raw):,} more bytes)", style="dim italic")
    return text


class LogView(ScrollView, can_focus=True):
    """Virtual view over lines 1..rows of a file (or the rows a filter keeps), plus decoded frames."""

    DEFAULT_CSS = """
    LogView { background: $surface; }
    """
    virtual_size = quiet_virtual_size()  # grows with each batch: no new layout of the screen each time

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
        """Rows of log lines (lines, or lines the filter keeps); the cursor is on one of them."""
        self.cursor = 0
        self.follow = True
        self.paused = False
        self.filter: FilterResult | None = None
        self.bookmarks: set[int] = set()
        self.range: tuple[int, int] | None = None
        self.search_rx: regex.Pattern[str] | None = None
        self.show_times = False
        self.wrap = False
        self.show_decoded = True
        self.time_of: Callable[[int, int, bytes], str | None] = lambda line, offset, raw: None
        self.port_styles: dict[str, Style] | None = None
        """Several ports (a merged log, espwatch.merge): each label's colour; the label goes in the gutter."""
        self.decoded_text: Callable[[int], list[str]] = lambda line: []
        """The decoded lines shown under a log line (the app reads them from its events)."""
        self.first_render: float | None = None
        """perf_counter() when a file line was first drawn (the "first screen" of benchmarks)."""
        self._cache: OrderedDict[int, Text] = OrderedDict()
        self._max_width = 0
        self._total_lines = 0
        self._decoded: dict[int, int] = {}
        """line -> number of decoded lines under it."""
        self._x_rows: list[int] = []  # rows that have decoded lines under them, sorted
        self._x_disp: list[int] = []  # their display rows
        self._x_counts: list[int] = []
        self._x_total = 0
        self._x_beyond = False
        """Some decoded lines wait for their log line to be counted in `rows`."""
        self._layout_key: tuple | None = None
        self._drawn_gutter = 0
        self._paint_style: Style | None = None
        self._layout: list[tuple[int, int]] = []

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
        # the lines on screen stay as they are when they all were (and are) there before: then only the
        # scrollbar changes (a batch of a big replay, read at the top of the log)
        same = not self.wrap and not self.follow and self._gutter_width() == self._drawn_gutter and \
            min(rows, self.rows) + self._x_total > round(self.scroll_offset.y) + self._view_height()
        self._drawn_gutter = self._gutter_width()
        self.rows = rows
        if grew and self._x_beyond:
            self._rebuild_extras()
        self._update_virtual_size()
        if self.follow and rows:
            self.cursor = rows - 1
            self._scroll_cursor(center=False)
        elif self.cursor >= rows:
            self.cursor = max(0, rows - 1)
        if grew and not same:
            self.refresh()

    def set_decoded(self, line: int, count: int) -> None:
        """`count` decoded lines go under `line` (0: none)."""
        old = self._decoded.get(line)
        if count == (old or 0):
            return
        row = line - 1
        if count and old is None and self.show_decoded and self.filter is None and row < self.rows \
                and (not self._x_rows or row > self._x_rows[-1]):
            # the usual case, the newest crash: append (no rebuild, whatever the number of decoded lines)
            self._decoded[line] = count
            self._x_rows.append(row)
            self._x_disp.append(row + self._x_total)
            self._x_counts.append(count)
            self._x_total += count
            below = not self.follow and not self.wrap and \
                self._x_disp[-1] > round(self.scroll_offset.y) + self._view_height()
        else:
            below = False
            if count:
                self._decoded[line] = count
            else:
                del self._decoded[line]
            self._rebuild_extras()
        self._update_virtual_size()
        if self.follow and self.rows:
            self._scroll_cursor(center=False)
        if not below:  # the newest crash's frames under a line below the screen change nothing on it
            self.refresh()

    def _rebuild_extras(self) -> None:
        rows: list[tuple[int, int]] = []
        self._x_beyond = False
        if self.show_decoded:
            flt = self.filter
            for line, n in self._decoded.items():
                if flt is not None:
                    r = bisect_left(flt.lines, line)
                    if r >= len(flt.lines) or flt.lines[r] != line:
                        continue
                else:
                    r = line - 1
                if r < self.rows:
                    rows.append((r, n))
                elif flt is None:
                    self._x_beyond = True
        rows.sort()
        self._x_rows = [r for r, _ in rows]
        self._x_counts = [n for _, n in rows]
        self._x_disp = []
        total = 0
        for r, n in rows:
            self._x_disp.append(r + total)
            total += n
        self._x_total = total

    def set_show_decoded(self, show: bool) -> None:
        keep = self.current_line()
        self.show_decoded = show
        self._rebuild_extras()
        self._update_virtual_size()
        if keep and not self.follow:
            self.goto_line(keep, center=False)
        elif self.follow and self.rows:
            self._scroll_cursor(center=False)
        self.refresh()

    @property
    def display_rows(self) -> int:
        return self.rows + self._x_total

    def disp_of(self, row: int) -> int:
        """The display row of a log row (decoded lines above it push it down)."""
        i = bisect_left(self._x_rows, row)
        return row + (self._x_disp[i - 1] - self._x_rows[i - 1] + self._x_counts[i - 1] if i else 0)

    def at_disp(self, disp: int) -> tuple[int, int]:
        """(log row, k) shown on a display row: k = -1 for the log line, else its k-th decoded line."""
        i = bisect_right(self._x_disp, disp) - 1
        if i < 0:
            return disp, -1
        start = self._x_disp[i]
        if disp <= start + self._x_counts[i]:
            return self._x_rows[i], disp - start - 1
        return disp - (start - self._x_rows[i]) - self._x_counts[i], -1

    def _gutter_width(self) -> int:
        return max(4, len(str(self._total_lines or 1))) + 2 + (13 if self.show_times else 0) + \
            (2 if self.port_styles else 0)

    def _view_height(self) -> int:
        """Screen lines for rows: the widget's height without the horizontal scrollbar."""
        return max(1, self.scrollable_content_region.height)

    def _update_virtual_size(self) -> None:
        width = 0 if self.wrap else self._gutter_width() + self._max_width + 1
        self.virtual_size = Size(width, self.display_rows)

    def watch_virtual_size(self, size: Size) -> None:
        scrollbars_follow(self, size)

    def _grow_width(self) -> None:
        """A wider line was drawn: widen the view; a scrollbar now takes a row, so keep following."""
        self._update_virtual_size()
        if self.follow and self.rows:
            self.call_after_refresh(self._scroll_cursor, False)

    def on_resize(self) -> None:
        if self.follow and self.rows:
            self._scroll_cursor(center=False)

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        """The horizontal scrollbar takes the last screen line: keep the newest line above it."""
        self._layout_key = None
        if self.follow and self.rows:
            self.call_after_refresh(self._scroll_cursor, False)

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
        self._rebuild_extras()
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
        height = self._view_height()
        top = self.scroll_offset.y
        first = self.disp_of(self.cursor)
        last = first + (self._x_counts[i] if (i := bisect_left(self._x_rows, self.cursor)) < len(self._x_rows)
                        and self._x_rows[i] == self.cursor else 0)
        if self.wrap:
            if self.follow or not (top <= first < top + len(self._fully_visible(top, height))):
                target = self._top_for_bottom(last, height) if not center else max(0, first - height // 3)
                self.scroll_to(y=target, animate=False, immediate=True, force=True)
            return
        if center:
            # a third down the pane (of its whole height: the same place whether a scrollbar shows or not)
            if not (top <= first < top + height) or first > top + height - 3:
                target = max(0, first - self.size.height // 3)
                self.scroll_to(y=target, animate=False, immediate=True, force=True)
        elif first < top:
            self.scroll_to(y=first, animate=False, immediate=True, force=True)
        elif last >= top + height:
            self.scroll_to(y=last - height + 1, animate=False, immediate=True, force=True)

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
        self._move(self.cursor + direction * max(1, self._view_height() - 1))

    def action_top(self) -> None:
        self._move(0)

    def action_bottom(self) -> None:
        self._move(self.rows - 1)

    def on_click(self, event) -> None:
        layout = self._screen_layout()
        if 0 <= event.y < len(layout):
            self._move(self.at_disp(layout[event.y][0])[0])

    def set_wrap(self, wrap: bool) -> None:
        self.wrap = wrap
        self._layout_key = None
        self._update_virtual_size()
        if not wrap:
            self.scroll_to(x=0, animate=False, immediate=True, force=True)
        self._scroll_cursor(center=not self.follow)
        self.refresh()

    # -- look --------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        self._cache.clear()
        self._layout_key = None
        self._update_virtual_size()
        self.refresh()

    def _content(self, line: int) -> tuple[Text, int, bytes]:
        assert self.index is not None
        raw, length, offset = self.index.line(line)
        text = self._cache.get(line)
        if text is None:
            if self.port_styles is not None and split_label(raw)[0] is not None:
                text = line_text(raw[3:], length - 3)
            else:
                text = line_text(raw, length)
            if line < self._total_lines:
                self._cache[line] = text
                if len(self._cache) > 2000:
                    self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(line)
        return text, offset, raw

    def _body(self, disp: int) -> tuple[Text, int, int, bytes]:
        """(text, log row, k, raw) of a display row; k = -1 for a log line, else a decoded line."""
        row, k = self.at_disp(disp)
        line = self.row_line(row)
        if k < 0:
            text, _, raw = self._content(line)
            if self.search_rx is not None:
                plain = text.plain
                hits = [(m.start(), m.end()) for m in self.search_rx.finditer(plain) if m.end() > m.start()]
                if hits:
                    text = text.copy()
                    for a, b in hits[:50]:
                        text.stylize(MATCH_STYLE, a, b)
            return text, row, k, raw
        decoded = self.decoded_text(line)
        body = decoded[k] if k < len(decoded) else ""
        return Text(DECODED_MARK + body, style=DECODED_STYLE, no_wrap=True, end=""), row, k, b""

    def _height_of(self, disp: int, width: int) -> int:
        if width <= 0:
            return 1
        cells = self._body(disp)[0].cell_len
        return max(1, -(-cells // width))

    def _fully_visible(self, top: int, height: int) -> list[int]:
        """Display rows from `top` that fit whole in `height` screen lines (wrap mode)."""
        width = self._body_width()
        out: list[int] = []
        used = 0
        disp = top
        total = self.display_rows
        while disp < total:
            h = self._height_of(disp, width)
            if used + h > height:
                break
            out.append(disp)
            used += h
            disp += 1
        return out

    def _top_for_bottom(self, bottom: int, height: int) -> int:
        """The top display row that puts `bottom` on the last screen line (wrap mode)."""
        width = self._body_width()
        used = 0
        disp = bottom
        while disp >= 0:
            used += self._height_of(disp, width)
            if used >= height:
                return disp if used == height or disp == bottom else disp + 1
            disp -= 1
        return 0

    def _body_width(self) -> int:
        return max(1, self.scrollable_content_region.width - self._gutter_width())

    def _screen_layout(self) -> list[tuple[int, int]]:
        """(display row, part) of each screen line: part is the wrapped piece of the row (0 without wrap)."""
        height = self._view_height()
        top = round(self.scroll_offset.y)
        if not self.wrap:
            return [(top + y, 0) for y in range(height) if top + y < self.display_rows]
        key = (top, height, self.size.width, self.display_rows, self.follow, self.cursor, self.show_times,
               self._total_lines)
        if key == self._layout_key:
            return self._layout
        width = self._body_width()
        out: list[tuple[int, int]] = []
        total = self.display_rows
        if self.follow and total:
            # the tail: lay out from the last row up, so that the newest line is always whole on screen
            disp = total - 1
            rows: list[tuple[int, int]] = []
            while disp >= 0 and len(rows) < height:
                h = self._height_of(disp, width)
                rows[:0] = [(disp, part) for part in range(h)]
                disp -= 1
            out = rows[-height:]
        else:
            disp = top
            while disp < total and len(out) < height:
                h = self._height_of(disp, width)
                out.extend((disp, part) for part in range(h))
                disp += 1
            out = out[:height]
        self._layout_key, self._layout = key, out
        return out

    def render_lines(self, crop: Region) -> list[Strip]:
        self._paint_style = self.rich_style  # once per paint, not once per line (it walks the ancestors)
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self._paint_style if self._paint_style is not None else self.rich_style
        if self.index is None or not self.rows:
            return Strip.blank(width, style)
        layout = self._screen_layout()
        if y >= len(layout):
            return Strip.blank(width, style)
        disp, part = layout[y]
        text, row, k, raw = self._body(disp)
        line = self.row_line(row)
        if line <= 0:
            return Strip.blank(width, style)
        if self.first_render is None:
            self.first_render = time.perf_counter()
        cell_len = text.cell_len
        if not self.wrap and cell_len > self._max_width:
            self._max_width = cell_len
            self.call_later(self._grow_width)
        num_w = max(4, len(str(self._total_lines or 1)))
        if k < 0 and part == 0:
            mark = "◆" if line in self.bookmarks else " "
            gutter = Text(f"{line:>{num_w}}", style=GUTTER_STYLE)
            gutter.append(mark, style=BOOKMARK_STYLE)
            gutter.append(" ")
            if self.show_times:
                _, _, offset = self.index.line(line)
                stamp = self.time_of(line, offset, raw) or ""
                gutter.append(f"{stamp[:12]:<12} ", style="cyan")
            if self.port_styles is not None:
                label, whole, _ = split_label(raw)
                if label is None:
                    gutter.append("  ")
                else:
                    gutter.append(label, style=self.port_styles.get(label, GUTTER_STYLE))
                    gutter.append(" " if whole else "~", style=GUTTER_STYLE)
        else:
            gutter = Text(" " * self._gutter_width())
        console = self.app.console
        g_strip = Strip(list(gutter.render(console, end="")), gutter.cell_len)
        body_w = max(0, width - gutter.cell_len)
        strip = Strip(list(text.render(console, end="")), cell_len)
        if self.wrap:
            c_strip = strip.crop(part * body_w, (part + 1) * body_w)
        else:
            scroll_x = self.scroll_offset.x
            c_strip = strip.crop(scroll_x, scroll_x + body_w)
        base = style
        if row == self.cursor and k < 0:
            base = base + (CURSOR_STYLE if self.has_focus else CURSOR_BLUR_STYLE)
        elif self.range is not None and self.range[0] <= line <= self.range[1]:
            base = base + RANGE_STYLE
        return Strip.join([g_strip, c_strip]).adjust_cell_length(width, base).apply_style(base)

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
