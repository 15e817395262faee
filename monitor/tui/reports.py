"""Copying and saving from the monitor: the selected event as text (OSC 52), and the Markdown report of the
log (`espwatch report`), made in a worker, to the clipboard or beside the log (where that folder cannot be
written, into the cache folder's `reports/`, and the notice says so).

A mixin of `MonitorApp`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual import work

from espwatch.tui.detail import event_plain


class ReportMixin:
    """The app's copy and save: `c`, `C`, `w`."""

    def action_copy_event(self) -> None:
        if self.selected is None:
            self.notify("select an event first (n)", timeout=2)
            return
        self._copy(event_plain(self.selected, self.patterns), "event")

    def action_copy_report(self) -> None:
        self.notify("writing the report…", timeout=2)
        self._report(None)

    def action_save_report(self) -> None:
        # named after the log the report is made of (several ports: the selected port's, not the merged name)
        stem = Path(self.log_name if self.ports is None else self.report_source()[0]).stem or "log"
        path = self.report_dir / f"espwatch-report-{stem}-{datetime.now():%Y%m%d-%H%M%S}.md"
        self.notify(f"writing the report to {path}…", timeout=2)
        self._report(path)

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def _report(self, path: Path | None) -> None:
        """The Markdown report of the log (what `espwatch report` writes): to `path`, or the clipboard."""
        from espwatch.report import ReportOptions, build_report

        log, enr = self.report_source()  # several ports: the selected port's own log and ELF
        elf = str(enr.elf.path) if enr is not None and enr.elf is not None else None
        opt = ReportOptions(elf=elf, no_elf=elf is None)
        note = None
        try:
            rep = build_report(str(log), opt, self.patterns, enr.rules if enr is not None else None)
            if path is not None:
                path, note = save_text(path, rep.markdown)
        except Exception as exc:
            self.call_from_thread(self.notify, f"cannot write the report: {exc}", severity="error",
                                  timeout=6)
            return
        self.call_from_thread(self._report_done, path, rep.markdown, note)

    def _report_done(self, path: Path | None, markdown: str, note: str | None = None) -> None:
        if path is None:
            self._copy(markdown, "Markdown report")
            return
        self.last_report = path
        self.notify(f"report saved to {path}" + (f" ({note})" if note else ""), timeout=8 if note else 6,
                    severity="warning" if note else "information")

    def _copy(self, text: str, what: str) -> None:
        """The platform's clipboard command, else OSC 52 and a file (espwatch.clipboard); headless
        (tests) never touches the desktop's clipboard."""
        from espwatch.clipboard import copy_text

        result = copy_text(text, self.copy_to_clipboard, use_command=not self.is_headless)
        self.last_copy = result
        self.notify(result.message(what), severity="error" if result.error and not result.saved else
                    "information", timeout=2 if result.command else 6)


def save_text(path: Path, text: str) -> tuple[Path, str | None]:
    """Write `text` to `path`; when its folder cannot be written (read-only, gone, not a folder), to the
    cache folder's `reports/` under the same name. Returns where it went and, after a fallback, why."""
    try:
        path.write_text(text, encoding="utf-8")
        return path, None
    except OSError as exc:
        from espwatch.cachedir import cache_root, private_dir

        other = private_dir(cache_root() / "reports") / path.name
        other.write_text(text, encoding="utf-8")  # an OSError here is the caller's to report
        return other, f"{path.parent} cannot be written: {exc.strerror or exc}"
