"""Line break counting: every engine gives `bytes.count(b"\\n")` for any stretch of any buffer, and the
detector numbers lines and events the same with each (ESPWATCH_LINECOUNT picks one)."""

from __future__ import annotations

import itertools
import random

import pytest
from loggen import big_log_chunks

from espwatch.cli import main
from espwatch.detector import Detector
from espwatch.errors import UsageError
from espwatch.linecount import ENGINES, PIECE, SMALL, NewlineCounter, available_engines, default_engine
from espwatch.patterns import load_patterns

USABLE = available_engines()


@pytest.mark.parametrize("engine", USABLE)
def test_the_count_of_bytes_count_on_any_stretch(engine: str) -> None:
    rnd = random.Random(3)
    count = NewlineCounter(engine)
    # 3 pieces and a bit, lines of random length, bytes of every value (\r, NUL, 0xff, UTF-8)
    data = bytearray()
    while len(data) < 3 * PIECE + 777:
        data += bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 300))).replace(b"\n", b"") + b"\n"
    data += b"no break at the end \xff"
    for buf in (bytes(data), data):
        n = len(data)
        edges = [(0, n), (0, 0), (5, 5), (1, SMALL), (0, SMALL + 1), (3, PIECE), (0, PIECE + 1),
                 (PIECE - 1, 2 * PIECE + 1), (n - SMALL - 3, n), (n - 1, n)]
        edges += [tuple(sorted((rnd.randrange(n), rnd.randrange(n)))) for _ in range(40)]
        for start, stop in edges:
            assert count(buf, start, stop) == bytes(data).count(b"\n", start, stop), (engine, start, stop)
    assert count(b"\n" * (SMALL * 3), 0, SMALL * 3) == SMALL * 3  # a stretch of nothing but breaks
    assert count(b"x" * (SMALL * 3), 0, SMALL * 3) == 0


def test_the_default_is_the_first_usable_and_the_environment_picks(monkeypatch) -> None:
    monkeypatch.delenv("ESPWATCH_LINECOUNT", raising=False)
    assert USABLE[-1] == "bytes" and set(USABLE) <= set(ENGINES)
    assert default_engine() == USABLE[0]
    monkeypatch.setenv("ESPWATCH_LINECOUNT", "bytes")
    assert default_engine() == "bytes" and NewlineCounter().engine == "bytes"
    monkeypatch.setenv("ESPWATCH_LINECOUNT", "wc")
    with pytest.raises(UsageError, match="ESPWATCH_LINECOUNT=wc: not an engine"):
        default_engine()
    with pytest.raises(UsageError, match="ESPWATCH_LINECOUNT=wc: not an engine"):
        NewlineCounter()  # at once, not in the middle of a scan
    with pytest.raises(UsageError, match="line count engine 'wc': not an engine"):
        NewlineCounter("wc")


def test_a_wrong_engine_in_the_environment_is_one_line(monkeypatch, capsys, tmp_path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n" * 10)
    monkeypatch.setenv("ESPWATCH_LINECOUNT", "wc")
    assert main(["scan", "--json", str(log)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "ESPWATCH_LINECOUNT=wc: not an engine" in captured.err
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1


def test_every_engine_gives_the_same_events_and_line_count(monkeypatch) -> None:
    patterns = load_patterns()
    data = b"".join(itertools.islice(big_log_chunks(2 << 20, filler_per_log=400), 200))
    results = {}
    for engine in USABLE:
        monkeypatch.setenv("ESPWATCH_LINECOUNT", engine)
        det = Detector(patterns)
        evs = []
        for i in range(0, len(data), 1 << 20):
            evs.extend(det.feed(data[i : i + (1 << 20)]))
        evs.extend(det.close())
        assert det._count.engine == engine
        results[engine] = ([e.to_json() for e in evs], det.lines_seen)
    first = results[USABLE[0]]
    assert len(first[0]) > 100 and first[1] == data.count(b"\n")
    assert all(r == first for r in results.values())


def test_forks_count_in_threads_at_once() -> None:
    """A detector's forks (espwatch.reread runs them in any thread) each have their own scratch buffer."""
    import threading

    data = bytearray()
    rnd = random.Random(9)
    for _ in range(20000):
        data += b"x" * rnd.randrange(200) + b"\n"
    counter = NewlineCounter(USABLE[0])
    bad: list[tuple[int, int]] = []

    def run(c: NewlineCounter, start: int, stop: int) -> None:  # each thread its own stretches
        want = data.count(b"\n", start, stop)
        for _ in range(30):
            got = c(data, start, stop)
            if got != want:
                bad.append((got, want))

    threads = [threading.Thread(target=run, args=(counter.fork(), 3 + k * 100_003, len(data) - k * 250_001))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
    det = Detector(load_patterns())
    assert det.fork()._count is not det._count
