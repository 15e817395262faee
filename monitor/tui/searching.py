"""Search in the monitor: the core search (espwatch.search) over the log's bytes in a worker, the first hit
shown as soon as it is found, the hit count when the whole log is read, `>` / `<` through the hits.

A mixin of `MonitorApp` (it uses the app's index, log pane, filter and status line).
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from typing import Any

from textual import work
from textual.worker import get_current_worker

from espwatch.search import SearchResult, plan, search_lines
from espwatch.tui.document import BLOCK
from espwatch.tui.messages import SearchDone, SourceStatus


class SearchMixin:
    """The app's search: `start_search`, the worker, hit navigation."""

    def _clear_search(self) -> None:
        self.search_pattern = None
        self.search = None
        self._search_sorted = None
        self.log_view.search_rx = None
        self.workers.cancel_group(self, "search")

    def start_search(self, pattern: str, direction: int = 1) -> None:
        """Search the whole log for `pattern` (from the cursor on, wrapping); the first hit is shown as soon
        as it is found, the hit count when the search is done."""
        if not pattern:
            self._clear_search()
            self.log_view.refresh()
            self._update_status()
            return
        if pattern == self.search_pattern and self.search is not None and self.search.done \
                and self.search.bytes_total >= self.index.indexed:
            self._goto_hit(direction)
            return
        try:
            p = plan(pattern)
        except Exception as exc:
            self.notify(f"bad regex: {exc}", severity="error", timeout=4)
            return
        self.workers.cancel_group(self, "search")
        self.search_pattern = pattern
        self.search = result = SearchResult(p, bytes_total=self.index.indexed)
        self._search_sorted = None
        view = self.log_view
        view.search_rx = p.rx
        view.refresh()
        self._update_status()
        self._search(result, view.current_line(), direction)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, result: SearchResult, start: int, direction: int) -> None:
        cancel = get_current_worker().cancelled_event
        index = self.index
        total = index.line_count
        first_hit: list[int] = []
        allowed = self._allowed_lines()
        last_post = [0.0]

        def on_hit(line: int) -> None:
            if first_hit or (allowed is not None and not allowed(line)):
                return
            if direction > 0 and line <= start:
                return
            first_hit.append(line)
            self.call_from_thread(self._goto_first_hit, result, line)

        def on_progress(r: SearchResult) -> None:
            now = time.perf_counter()
            if now - last_post[0] > 0.2:
                last_post[0] = now
                self.call_from_thread(self._update_status)

        try:
            end = index.indexed
            cut = index.line_start(start + 1) if direction > 0 and 0 < start < total else 0
            segments = [(cut, end), (0, cut)]  # from the cursor on, then from the top (the hits wrap)
            for a, b in segments:
                if a < b:
                    search_lines(result.plan, index.iter_chunks(a, b), index.line_of_offset, result, on_hit,
                                 cancel, on_progress, blocks=index.blocks, block=BLOCK)
            if direction > 0 and not first_hit and result.count:
                # the only hits are at or before the cursor: wrap to the first
                hits = sorted(result.lines)
                ok = [h for h in hits if allowed is None or allowed(h)]
                if ok:
                    first_hit.append(ok[0])
                    self.call_from_thread(self._goto_first_hit, result, ok[0])
        except Exception as exc:
            self.post_message(SourceStatus("info", f"search stopped: {exc}"))
        if not cancel.is_set():
            result.done = True
            self.post_message(SearchDone(None if first_hit or direction > 0 else start, result.plan.pattern))

    def _allowed_lines(self) -> Any:
        flt = self.filter
        if flt is None:
            return None

        def allowed(line: int) -> bool:
            i = bisect_left(flt.lines, line)
            return i < len(flt.lines) and flt.lines[i] == line

        return allowed

    def _goto_first_hit(self, result: SearchResult, line: int) -> None:
        if result is self.search:
            self.log_view.goto_line(line)

    def on_search_done(self, message: SearchDone) -> None:
        if self.screen_gone():
            return
        res = self.search
        if res is None or message.pattern != self.search_pattern:
            return
        self._search_sorted = sorted(res.lines)
        if message.line is not None:  # a backward search: the hit before the cursor
            self._goto_hit(-1, message.line)
        elif not res.count:
            self.notify(f"no match for /{message.pattern} (0 hits)", severity="warning", timeout=3)
        self._update_status()

    def _goto_hit(self, direction: int, cur: int | None = None) -> None:
        hits = self._search_sorted
        if hits is None:
            return
        allowed = self._allowed_lines()
        if allowed is not None:
            hits = [h for h in hits if allowed(h)]
        if not hits:
            self.notify(f"no match for /{self.search_pattern} (0 hits)", severity="warning", timeout=3)
            return
        cur = self.log_view.current_line() if cur is None else cur
        if direction > 0:
            i = bisect_right(hits, cur)
            line = hits[i] if i < len(hits) else hits[0]
        else:
            i = bisect_left(hits, cur) - 1
            line = hits[i] if i >= 0 else hits[-1]
        self.log_view.goto_line(line)

    def action_next_match(self, direction: int) -> None:
        if not self.search_pattern:
            self.action_prompt("search")
            return
        self.start_search(self.search_pattern, direction)
