"""The scan of a saved file in a worker process (replay): the same events, boots and lines as `scan`, errors
as one line, a worker that can be stopped, and the replay screen filled by it."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest
from loggen import big_log_chunks, write

from espwatch.diagnosis import load_rules
from espwatch.enrich import Enrichment
from espwatch.patterns import load_patterns
from espwatch.pipeline import Pipeline
from espwatch.scan import scan_stream
from espwatch.scanproc import ScanProcess
from espwatch.tui.app import MonitorApp
from espwatch.tui.document import Follower, LineIndex

PATTERNS = load_patterns()
RULES = load_rules()
C3 = "b-esp32c3-abort-then-illegal-instruction.log"


def collect(proc: ScanProcess, timeout: float = 60.0) -> list:
    out = []
    end = time.monotonic() + timeout
    while not proc.done:
        assert time.monotonic() < end, "the worker did not finish"
        out.extend(proc.receive(0.1))
    return out


@pytest.mark.parametrize("name", [C3, "b-esp32-storeprohibited-coredump-uart.log",
                                  "a-esp32-flash-read-err-bootloop.log"])
def test_worker_gives_what_scan_gives(corpus_dir: Path, name: str) -> None:
    path = str(corpus_dir / name)
    expected = scan_stream(path, PATTERNS, stages=Enrichment(None, "", PATTERNS, RULES).stages())
    batches = collect(ScanProcess(path, PATTERNS, RULES))
    assert batches[-1].done and batches[-1].error is None
    assert [e.to_json() for b in batches for e in b.events] == [e.to_json() for e in expected.events]
    sessions = {}
    for b in batches:
        for s in b.sessions:
            sessions[s.number] = s
    assert [(s.number, s.start_line, s.end_line, s.facts) for s in expected.sessions] == \
        [(s.number, s.start_line, s.end_line, s.facts) for s in (sessions[n] for n in sorted(sessions))]
    assert batches[-1].lines == expected.pipeline.lines
    assert batches[-1].bytes_read == batches[-1].size == (corpus_dir / name).stat().st_size


def test_a_long_boot_loop_keeps_the_worker_small_and_gives_every_boot(corpus_dir: Path, tmp_path: Path) -> None:
    """More boots than the worker keeps (it lets the old ones go): every boot still arrives, in its final
    state, as scan has it with all boots kept."""
    from espwatch.scan import KEEP_SESSIONS

    one = (corpus_dir / "a-esp32-flash-read-err-bootloop.log").read_bytes()
    path = tmp_path / "loop.log"
    path.write_bytes(one * max(KEEP_SESSIONS * 2, (3 << 20) // len(one)))  # > 3 chunks: several batches
    expected = scan_stream(str(path), PATTERNS, stages=Enrichment(None, "", PATTERNS, RULES).stages())
    assert len(expected.sessions) > 2 * KEEP_SESSIONS
    batches = collect(ScanProcess(str(path), PATTERNS, RULES, interval=0.0))
    assert len(batches) > 2
    sessions = {}
    for b in batches:
        for s in b.sessions:
            sessions[s.number] = s
    assert [(s.number, s.start_line, s.end_line, s.facts, s.counts) for s in expected.sessions] == \
        [(s.number, s.start_line, s.end_line, s.facts, s.counts) for s in (sessions[n] for n in sorted(sessions))]
    assert [e.to_json() for b in batches for e in b.events] == [e.to_json() for e in expected.events]


def test_detection_only_without_enrichment(corpus_dir: Path) -> None:
    path = str(corpus_dir / C3)
    pipe = Pipeline(PATTERNS)
    expected = [e.to_json() for e in pipe.run([Path(path).read_bytes()])]
    batches = collect(ScanProcess(path, PATTERNS, enrich=False))
    assert [e.to_json() for b in batches for e in b.events] == expected


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    batches = collect(ScanProcess(str(tmp_path / "missing.log"), PATTERNS, RULES))
    assert batches[-1].done and "No such file" in (batches[-1].error or "")
    assert "\n" not in batches[-1].error


def test_stop_ends_a_running_worker(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    write(log, itertools.islice(big_log_chunks(60 << 20), 10_000))
    proc = ScanProcess(str(log), PATTERNS, RULES)
    proc.receive(5.0)
    t = time.monotonic()
    proc.stop()
    assert time.monotonic() - t < 3.0
    assert proc.done and proc._proc.poll() is not None


def test_follower_indexes_here_and_posts_the_workers_batches(corpus_dir: Path) -> None:
    path = corpus_dir / C3
    in_thread: list = []
    Follower(LineIndex(path), Pipeline(PATTERNS, Enrichment(None, "", PATTERNS, RULES).stages()),
             in_thread.append).run()
    remote: list = []
    index = LineIndex(path)
    f = Follower(index, Pipeline(PATTERNS), remote.append)
    f.scan_process = lambda: ScanProcess(str(path), PATTERNS, RULES, interval=0.01)
    f.run()
    assert f.done and remote[-1].done and sum(b.done for b in remote) == 1
    assert [e.to_json() for b in remote for e in b.events] == [e.to_json() for b in in_thread for e in b.events]
    assert remote[-1].lines == in_thread[-1].lines == index.line_count
    last = {s.number: s for b in in_thread for s in b.sessions}
    got = {s.number: s for b in remote for s in b.sessions}
    assert got == last


def test_replay_screen_filled_by_the_worker(corpus_dir: Path) -> None:
    path = corpus_dir / C3
    expected = scan_stream(str(path), PATTERNS, stages=Enrichment(None, "", PATTERNS, RULES).stages())

    async def run() -> MonitorApp:
        enr = Enrichment(None, "--no-elf", PATTERNS, RULES)
        app = MonitorApp(path, PATTERNS, enrichment=enr, scan_in_process=True)
        assert app.follower.scan_process is not None
        async with app.run_test(size=(120, 40)) as pilot:
            end = time.monotonic() + 60
            while not app.scan_done:
                assert time.monotonic() < end
                await pilot.pause(0.05)
        return app

    app = asyncio.run(run())
    assert [e.to_json() for e in app.events] == [e.to_json() for e in expected.events]
    assert app.lines == expected.pipeline.lines


def test_a_worker_that_dies_is_one_line(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    write(log, itertools.islice(big_log_chunks(60 << 20), 10_000))
    proc = ScanProcess(str(log), PATTERNS, RULES)
    proc.receive(5.0)
    proc._proc.kill()
    batches = collect(proc)
    assert batches[-1].done and "ended unexpectedly (exit status -9)" in (proc.error or "")
    proc.stop()
