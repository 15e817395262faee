"""A replay with more boots than the timeline opens: the events of a closed boot become tree nodes when
the boot is opened (by the user, or by n / N going to one of them), in their order, with the labels the
open boots show; batches applied in slices give the same events as `scan`. (Going to an event of a closed
boot left the tree's cursor on the first line before: the opened node had no line number yet.)"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from espwatch.patterns import load_patterns
from espwatch.scan import scan_stream
from espwatch.tui import app as app_module
from espwatch.tui.app import MonitorApp
from espwatch.tui.timeline import EXPANDED_BOOTS, event_label

sys.path.insert(0, str(Path(__file__).parent))
from helpers import until

C3 = "b-esp32c3-abort-then-illegal-instruction.log"


def test_closed_boots_open_with_their_events(corpus_dir: Path, tmp_path: Path, monkeypatch) -> None:
    patterns = load_patterns()
    data = (corpus_dir / C3).read_bytes()
    log = tmp_path / "many-boots.log"
    log.write_bytes(data * 12)  # more boots than the timeline opens
    expected = scan_stream(str(log), patterns)
    assert len(expected.sessions) > EXPANDED_BOOTS
    monkeypatch.setattr(app_module, "APPLY_SLICE", 0.0)  # every batch in several slices

    async def run() -> None:
        app = MonitorApp(log, patterns)
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: app.scan_done)
            await pilot.pause()
            assert [e.to_json() for e in app.events] == [e.to_json() for e in expected.events]
            tl = app.timeline
            listed = {n: [r for r in tl.rows if tl._boot_of_row[r] == n] for n in tl._boot_nodes}
            late = [n for n in sorted(tl._boot_nodes)[EXPANDED_BOOTS:] if listed[n]]
            assert len(late) >= 2
            first, second = late[0], late[1]
            node = tl._boot_nodes[first]
            assert not node.is_expanded and not node.children
            # the user opens it: its events, in order, labelled as in an open boot
            node.expand()
            await pilot.pause()
            leaves = [c.data[1] for c in node.children]
            assert leaves == listed[first]
            for child in node.children:
                ev = app.store.get(child.data[1])
                assert child.label == event_label(ev, patterns)
            # n / N going to an event of a closed boot opens it and puts the cursor on that event
            row = listed[second][-1]
            app.select_event(row)
            await pilot.pause()
            assert tl._boot_nodes[second].is_expanded
            assert tl.cursor_node is not None and tl.cursor_node.data == ("event", row)

    asyncio.run(run())
