"""Messages that background workers post to the monitor app (they are thread-safe to post)."""

from __future__ import annotations

from textual.message import Message

from espwatch.tui.document import Batch
from espwatch.tui.query import FilterResult


class BatchReady(Message):
    """The follower read more of the file: new lines, events and boot sessions."""

    def __init__(self, batch: Batch) -> None:
        super().__init__()
        self.batch = batch


class SourceStatus(Message):
    """The serial source changed state (connected, waiting, lost) or has a note (info, error)."""

    def __init__(self, state: str, text: str) -> None:
        super().__init__()
        self.state = state
        self.text = text


class FilterProgress(Message):
    """The filter worker kept more lines (`done`: it reached the lines known when it started)."""

    def __init__(self, result: FilterResult, done: bool) -> None:
        super().__init__()
        self.result = result
        self.done = done


class SearchDone(Message):
    """The search worker found `line` (None: no match) for `pattern`."""

    def __init__(self, line: int | None, pattern: str) -> None:
        super().__init__()
        self.line = line
        self.pattern = pattern
