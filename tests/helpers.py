"""Small helpers the tests share."""

from __future__ import annotations

import os

from espwatch.events import Event
from espwatch.patterns import PatternSet, load_patterns
from espwatch.pipeline import Pipeline, Stage
from espwatch.scan import scan_stream


def scan_file(path: str | os.PathLike[str], patterns: PatternSet | None = None,
              stages: list[Stage] | None = None, keep_events: bool = True) -> tuple[Pipeline, list[Event]]:
    """Scan a whole file; the pipeline (sessions, counters) and its events."""
    result = scan_stream(str(path), patterns or load_patterns(), stages=stages, keep_events=keep_events)
    return result.pipeline, result.events
