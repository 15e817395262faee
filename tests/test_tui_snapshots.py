"""Snapshots of the main screens (pytest-textual-snapshot). Regenerate: pytest --snapshot-update."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from espwatch.patterns import load_patterns
from espwatch.tui.app import MonitorApp

SIZE = (120, 40)


@pytest.fixture(scope="module")
def patterns():
    return load_patterns()


async def settle(pilot) -> None:
    app = pilot.app
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while not app.scan_done or app.search_busy or (app.filter is not None and not app.filter.complete):
        if loop.time() > end:
            raise AssertionError("app did not settle")
        await pilot.pause(0.02)
    app.clear_notifications()
    await pilot.pause()


def make(corpus_dir: Path, patterns, name: str) -> MonitorApp:
    return MonitorApp(corpus_dir / name, patterns)


def test_replay_with_event_selected(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "b-esp32c3-abort-then-illegal-instruction.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("n", "n")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_panic_detail(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "b-esp32-storeprohibited-coredump-uart.log")

    async def before(pilot) -> None:
        await settle(pilot)
        panic = next(e for e in pilot.app.timeline_events if e.kind == "panic")
        pilot.app.select_event(panic)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_level_filter_errors(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "a-esp32-flash-read-err-bootloop.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("l", "l", "l")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_search(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "b-esp32c3-abort-then-illegal-instruction.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("slash", *"mepc", "enter")
        await settle(pilot)
        await pilot.press("greater_than_sign")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
