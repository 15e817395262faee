"""Several ports at once: each with its own reader and session log (exactly as for one port), and the merged
log that a `espwatch.merge.Merger` makes from them.

No UI here: `PortGroup` is what `espwatch --port A --port B` runs, and what tests and benchmarks drive with
pty simulators.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from espwatch.device.reader import SerialSource
from espwatch.device.sessionlog import SaveSummary, SessionLog
from espwatch.merge import Lane, Merger, labels_for


class PortGroup:
    """`urls[i]` read by `sources[i]` into `logs[i]` (at `log_paths[i]`), labelled `labels[i]`; their lines
    merged into `merged` (at `merged_path`). `opened[i]`: a port already open for `urls[i]`, or None."""

    def __init__(self, urls: Sequence[str], baud: int, log_paths: Sequence[str | os.PathLike[str]],
                 merged_path: str | os.PathLike[str], *, reset_on_open: bool = False,
                 opened: Sequence[Any] | None = None, retry_delay: float = 0.5,
                 piece_wait: float | None = None) -> None:
        self.labels = labels_for(len(urls))
        self.urls = list(urls)
        self.logs: list[SessionLog] = []
        try:
            for p in log_paths:
                self.logs.append(SessionLog(p))
            self.merged = SessionLog(merged_path)
        except OSError:
            for log in self.logs:
                log.close()
            raise
        self.sources = [SerialSource(url, baud, log, reset_on_open=reset_on_open, retry_delay=retry_delay,
                                     port=opened[i] if opened else None)
                        for i, (url, log) in enumerate(zip(self.urls, self.logs, strict=True))]
        lanes = [Lane(label, f"{url} (session log {log.path})", log, log.times.time_at)
                 for label, url, log in zip(self.labels, self.urls, self.logs, strict=True)]
        kw = {} if piece_wait is None else {"piece_wait": piece_wait}
        self.merger = Merger(lanes, self.merged, **kw)
        for log in self.logs:
            log.listeners.append(self.merger.wake.set)
        self._stopped = False

    @property
    def merged_path(self) -> Path:
        return self.merged.path

    def start(self) -> None:
        """Start the merger and every reader that is not running yet (a screen may start them itself)."""
        self.merger.start()
        for src in self.sources:
            if not src.running:
                src.start()

    def stop(self) -> None:
        """Stop the readers, merge what is left, close every log."""
        if self._stopped:
            return
        self._stopped = True
        for src in self.sources:
            src.stop()
        try:
            self.merger.close()
        finally:
            for log in self.logs:
                log.close()

    def summaries(self) -> list[SaveSummary]:
        return [log.summary() for log in self.logs]

    def __enter__(self) -> PortGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
