"""Live, replay --follow and scan agree: every corpus log and sample streamed through the pty simulator
into a session log, followed as the monitor follows it, ends with exactly scan's events and findings."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from espwatch.device.reader import SerialSource
from espwatch.device.sessionlog import SessionLog
from espwatch.diagnosis import load_rules
from espwatch.enrich import Enrichment
from espwatch.live import Changes
from espwatch.patterns import load_patterns
from espwatch.pipeline import Pipeline
from espwatch.scan import scan_stream
from espwatch.tui.document import Batch, Follower, LineIndex

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")


class Screen:
    """The events a follower's batches leave on show."""

    def __init__(self) -> None:
        self.events: list = []
        self.lock = threading.Lock()
        self.last = 0.0

    def batch(self, b: Batch) -> None:
        ch: Changes = b.changes
        with self.lock:
            for old, new in ch.updated:
                self.events[next(i for i, e in enumerate(self.events) if e is old)] = new
            for ev in ch.withdrawn:
                del self.events[next(i for i, e in enumerate(self.events) if e is ev)]
            self.events.extend(ch.new)

    def bag(self) -> Counter:
        with self.lock:
            return Counter(json.dumps(e.to_json(), sort_keys=True) for e in self.events)


def bag(events) -> Counter:
    return Counter(json.dumps(e.to_json(), sort_keys=True) for e in events)


def stream_live(path: Path, tmp: Path, patterns, rules) -> tuple[Counter, Counter]:
    """Stream `path` through a pty into a session log followed live; (what live shows, what scan says)."""
    data = path.read_bytes()
    sim = DevSim(tmp / "tty")
    log = SessionLog(tmp / "session.log")
    src = SerialSource(str(sim.link), 921600, log, retry_delay=0.05)
    index = LineIndex(log.path)
    screen = Screen()
    stages = Enrichment(None, "test", patterns, rules).stages()
    follower = Follower(index, Pipeline(patterns, stages, keep_events=False), screen.batch, follow=True,
                        interval=0.05)
    follower.settle = 0.01
    src.on_data = lambda n: follower.wake.set()
    thread = threading.Thread(target=follower.run, daemon=True)
    try:
        src.start()
        deadline = time.monotonic() + 20
        while src.state != "connected" and time.monotonic() < deadline:
            time.sleep(0.01)
        thread.start()
        sim.write(data, rate=2_000_000)
        while time.monotonic() < deadline:
            live = follower.live
            if log.device_bytes >= len(data) and follower.offset >= log.size and live is not None \
                    and not live._dirty and not screen.lock.locked():
                time.sleep(0.05)  # the batch with the last look ahead
                if follower.offset >= log.size and not live._dirty:
                    break
            time.sleep(0.02)
        shown = screen.bag()
    finally:
        follower.stop.set()
        follower.wake.set()
        thread.join(5)
        src.stop()
        log.close()
        index.close()
        sim.close()
    expected = scan_stream(str(tmp / "session.log"), patterns,
                           stages=Enrichment(None, "test", patterns, rules).stages()).events
    assert bag(scan_stream(str(path), patterns, stages=Enrichment(None, "t", patterns, rules).stages()).events) \
        == bag(expected), "the session log is not the log"
    return shown, bag(expected)


def test_live_shows_what_scan_finds_on_every_log(corpus_dir: Path, tmp_path: Path) -> None:
    patterns, rules = load_patterns(), load_rules()
    paths = sorted(corpus_dir.glob("*.log")) + sorted((ROOT / "samples").glob("*.log"))

    def one(i_path):
        i, path = i_path
        tmp = tmp_path / str(i)
        tmp.mkdir()
        return path.name, *stream_live(path, tmp, patterns, rules)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, enumerate(paths)))
    bad = [name for name, shown, expected in results if shown != expected]
    assert not bad, f"live differs from scan on {bad}"
    findings = sum(1 for _, _, expected in results for k in expected if '"kind": "finding"' in k)
    assert findings >= 20  # the comparison covers the diagnosis, not only the detector
