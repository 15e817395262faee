"""Small helpers the tests share."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from espwatch.events import Event
from espwatch.patterns import PatternSet, load_patterns
from espwatch.pipeline import Pipeline, Stage
from espwatch.scan import scan_stream


def scan_file(path: str | os.PathLike[str], patterns: PatternSet | None = None,
              stages: list[Stage] | None = None, keep_events: bool = True) -> tuple[Pipeline, list[Event]]:
    """Scan a whole file; the pipeline (sessions, counters) and its events."""
    result = scan_stream(str(path), patterns or load_patterns(), stages=stages, keep_events=keep_events)
    return result.pipeline, result.events


async def until(pilot, cond, timeout: float = 30.0) -> None:
    """Let a Textual pilot's app run until `cond()` holds (AssertionError after `timeout` seconds)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("timed out")
        await pilot.pause(0.02)


def wait_for(cond, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `cond()` until it holds (AssertionError naming `what` after `timeout` seconds)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def write_lx106_crash(folder: Path) -> Path:
    """A LoadProhibited panic with a backtrace into tests/data's lx106 inline demo ELF, as `crash.log`."""
    path = folder / "crash.log"
    path.write_text("I (31) cpu_start: Pro cpu up.\n"
                    "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\n"
                    "\n"
                    "Backtrace: 0x40200095:0x3ffb5db0 0x4020011e:0x3ffb5dd0 0x40000400:0x3ffb5df0\n"
                    "\n"
                    "ELF file SHA256: 0123456789abcdef\n"
                    "Rebooting...\n")
    return path
