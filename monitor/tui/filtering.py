"""Filters in the monitor: level, tag and boot, run over the log in a worker that extends the kept lines as
the log grows (see espwatch.tui.query for what each filter keeps).

A mixin of `MonitorApp`.
"""

from __future__ import annotations

import time

from textual import work

from espwatch.tui.messages import FilterProgress
from espwatch.tui.query import LEVEL_STEPS, FilterResult, FilterSpec, min_rank, run_filter


class FilterMixin:
    """The app's filters: `set_filter`, the worker, `l` and `b`."""

    def set_filter(self, *, level: str | bool | None = False, tag: str | bool | None = False,
                   boot: tuple[int, int, int] | bool | None = False, port: str | bool | None = False,
                   clear: bool = False) -> None:
        from dataclasses import replace

        from espwatch.search import compile_user_regex

        spec = FilterSpec(labelled=self.filter_spec.labelled) if clear else replace(self.filter_spec)
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
        if port is not False:
            spec.port = port  # type: ignore[assignment]
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
        self._filter(flt, min_rank(flt.spec), len(self.store.alive), self.lines)

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def _filter(self, flt: FilterResult, rank: int | None, rows: int, total: int) -> None:
        """Runs the filter over the lines known when it started (the events' spans are gathered here,
        off the UI thread: on a crash-dense log they are millions)."""
        spans = self.store.own_spans(rank, rows) if rank is not None else ((), ())
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
        if self.screen_gone():
            return
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
        number = self.sessions.boot_at(self.log_view.current_line())
        if number is None:
            return
        if self.ports is not None:  # several ports: the boot of the line's own port, and only that port
            self.port_boot_filter(number)
            return
        i = number - 1
        end = self.sessions.end[i] if number < len(self.sessions) else 1 << 62
        self.set_filter(boot=(number, self.sessions.start[i], end))
