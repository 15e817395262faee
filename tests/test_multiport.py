"""Several ports in one monitor, on real pseudo-terminals: every session log byte-identical to what its device
sent, the merged log holding every port's lines in arrival order; the same merge from saved logs by their
arrival-time sidecars; each port's events, boots and findings in its own pipeline."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from espwatch.device.multiport import PortGroup
from espwatch.device.sessionlog import SessionLog, strip_host_lines
from espwatch.device.times import load_times_for
from espwatch.merge import labelled, merge_logs, plan_logs, split_label
from espwatch.patterns import load_patterns
from espwatch.pipeline import Pipeline
from espwatch.portpipe import PortsPipeline, port_lines

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim, garbage
from helpers import wait_for

posix_only = pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")
DATA = Path(__file__).parent / "data"



def merged_lines(path: Path) -> list[bytes]:
    return [ln for ln in path.read_bytes().split(b"\n")[:-1]]


def lane_keys(group_logs: list[Path], merged: Path) -> list[tuple[str, float]]:
    """(label, arrival time of the line's last byte in its port's sidecar) of each merged whole line."""
    times = {chr(65 + i): load_times_for(p) for i, p in enumerate(group_logs)}
    ends = {label: 0 for label in times}
    out = []
    for raw in merged_lines(merged):
        label, _, body = split_label(raw + b"\n")
        if label is None:
            continue
        ends[label] += len(body)  # a piece has no break in the port's log either
        t = times[label].time_at(ends[label] - 1)
        out.append((label, t))
    return out


@posix_only
def test_three_ports_interleaved_unplugged_garbage(tmp_path: Path) -> None:
    """Three simulated boards: one speaks lines in turn with the others, one is unplugged and comes back,
    one sends binary garbage; each session log is exactly its device's bytes, the merged log has them all."""
    sims = [DevSim(tmp_path / f"tty{i}") for i in range(3)]
    logs = [tmp_path / f"{c}.log" for c in "ABC"]
    group = PortGroup([str(s.link) for s in sims], 115200, logs, tmp_path / "merged.log", retry_delay=0.05)
    try:
        group.start()
        wait_for(lambda: all(s.state == "connected" for s in group.sources), what="three connections")
        # interleaved: one line per port in turn, each read before the next port speaks
        order = []
        for i in range(12):
            k = i % 3
            line = b"I (%d) main: port %d line %d\r\n" % (i * 10, k, i)
            sims[k].write(line)
            order.append((chr(65 + k), line))
            wait_for(lambda k=k: group.logs[k].device_bytes == len(sims[k].written), what="line read")
            time.sleep(0.12)  # beyond the arrival times' resolution
        wait_for(lambda: group.merger.lines >= 12 + 0, what="merged lines")
        # port B unplugged mid-run and back; port C speaks garbage; port A keeps talking meanwhile
        sims[1].unplug()
        wait_for(lambda: group.sources[1].state == "lost", what="B lost")
        feeder = threading.Thread(target=lambda: sims[0].write(
            b"".join(b"I (%d) main: while B is away %d\n" % (j, j) for j in range(400)), rate=40000))
        feeder.start()
        sims[2].write(garbage(seed=3, big_line=200_000))
        sims[1].plug(banner=b"ESP-ROM:esp32c3-api1-20210207\r\nrst:0x15 (USB_UART_CHIP_RESET)\r\n")
        wait_for(lambda: group.sources[1].connects == 2, what="B back")
        sims[1].write(b"I (5) main: B is back\r\n")
        feeder.join()
        for k in range(3):
            wait_for(lambda k=k: group.logs[k].device_bytes == len(sims[k].written), what=f"port {k} bytes")
    finally:
        group.stop()
        for s in sims:
            s.close()
    # every session log is byte-identical to what its device sent
    for k in range(3):
        assert strip_host_lines(logs[k].read_bytes()) == bytes(sims[k].written)
        assert group.summaries()[k].complete
    assert b"port" in logs[1].read_bytes() and b"lost" in logs[1].read_bytes()  # the host lines
    # the merged log has every byte of each session log (host lines included), under its label
    merged = (tmp_path / "merged.log").read_bytes()
    for k, label in enumerate("ABC"):
        assert port_lines(merged, label) == logs[k].read_bytes()
    # the interleaved part came out in the order it was spoken
    whole = [(label, body) for label, _, body in map(split_label, (r + b"\n" for r in merged_lines(
        tmp_path / "merged.log"))) if label is not None]
    assert [w for w in whole if b"main: port" in w[1]] == order
    # merged order is consistent with arrival: each line's arrival time is at least the previous line's,
    # within the arrival times' resolution plus one merge pass (lines completed during a pass go to the next)
    keys = lane_keys(logs, tmp_path / "merged.log")
    late = [(a, b) for a, b in itertools.pairwise(keys) if b[1] < a[1] - 0.3]
    assert not late, late[:5]
    # a line of no port at the top: the legend
    assert merged.startswith(b"--- espwatch ") and b"port A = " in merged.split(b"\n")[0]


def test_label_format_round_trip() -> None:
    assert split_label(labelled("B", b"I (1) x: y\r\n")) == ("B", True, b"I (1) x: y\r\n")
    assert split_label(labelled("C", b"esp32> ", whole=False)) == ("C", False, b"esp32> ")
    assert split_label(b"--- espwatch 2026-01-01 00:00:00.000: port A = x ---\n")[0] is None
    assert split_label(b"a| lowercase is no label\n")[0] is None
    merged = labelled("A", b"esp32> ", whole=False) + labelled("B", b"other\n") + labelled("A", b"help\r\n")
    assert port_lines(merged, "A") == b"esp32> help\r\n"


def _write_log(path: Path, lines: list[tuple[float, bytes]]) -> None:
    log = SessionLog(path)
    for t, data in lines:
        log.write(data, t)
    log.close()


def test_replay_merge_by_sidecars_and_fallbacks(tmp_path: Path) -> None:
    """Saved logs merge by their sidecars; equal times keep the order given; a log without a sidecar but
    with host times is placed by them; one with neither comes after the others, with a note."""
    t0 = 1_780_000_000.0
    _write_log(tmp_path / "a.log", [(t0 + 0.0, b"a1\n"), (t0 + 1.0, b"a2\n"), (t0 + 3.0, b"a3\npartial")])
    _write_log(tmp_path / "b.log", [(t0 + 0.5, b"b1\n"), (t0 + 1.0, b"b2\n"), (t0 + 2.5, b"b3\n")])
    from datetime import datetime
    hm = datetime.fromtimestamp(t0 + 2.0)
    (tmp_path / "c.log").write_bytes(f"{hm:%H:%M:%S}.000 -> c1\n".encode() + b"c-no-stamp\n")
    (tmp_path / "d.log").write_bytes(b"d1\nd2\n")
    plan = plan_logs([tmp_path / n for n in ("a.log", "b.log", "c.log", "d.log")])
    assert [p.how for p in plan] == ["sidecar", "sidecar", "host times", "after"]
    assert plan[0].note is None and "no arrival-time sidecar" in (plan[2].note or "")
    assert "after the other logs" in (plan[3].note or "")
    out = tmp_path / "m.log"
    log = SessionLog(out)
    n = merge_logs(plan, log.write)
    log.close()
    assert n == 11
    bodies = [split_label(r + b"\n") for r in merged_lines(out)]
    got = [(lab, body.rstrip(b"\n")) for lab, _, body in bodies if lab is not None]
    assert got == [("A", b"a1"), ("B", b"b1"), ("A", b"a2"), ("B", b"b2"), ("C", f"{hm:%H:%M:%S}.000 -> c1"
                   .encode()), ("C", b"c-no-stamp"), ("B", b"b3"), ("A", b"a3"), ("A", b"partial"),
                   ("D", b"d1"), ("D", b"d2")]
    # the merged log's own sidecar gives the lines' times (the time column of the merged view)
    times = load_times_for(out)
    assert times is not None and times.time_at(out.read_bytes().index(b"B| b1")) == t0 + 0.5


def test_ports_pipeline_events_per_port(corpus_dir: Path) -> None:
    """Two ports' boots interleaved line by line: each port's events and boots are found as when its log is
    scanned alone, with merged line numbers and one boot numbering over both ports."""
    src = [p for p in sorted(corpus_dir.glob("*.log")) if b"Guru Meditation" in p.read_bytes()][:2]
    assert len(src) == 2
    patterns = load_patterns()
    alone = []
    for p in src:
        pipe = Pipeline(patterns, [])
        alone.append([(e.kind, e.code, e.line) for e in pipe.run([p.read_bytes()])])
    assert all(alone)
    lines = [p.read_bytes().split(b"\n") for p in src]
    merged = bytearray(b"--- espwatch 2026-01-01 00:00:00.000: port A = a ---\n")
    where: list[list[int]] = [[], []]
    n = 1
    for i in range(max(map(len, lines))):
        for k in (0, 1):
            if i < len(lines[k]) and (i < len(lines[k]) - 1 or lines[k][i]):
                merged += labelled("AB"[k], lines[k][i] + b"\n")
                n += 1
                where[k].append(n)
    pp = PortsPipeline(["A", "B"], [Pipeline(patterns, []), Pipeline(patterns, [])])
    got: list = []
    for i in range(0, len(merged), 777):
        got += pp.feed(bytes(merged[i : i + 777]))
    got += pp.close()
    for k in (0, 1):
        mine = [(e.kind, e.code, e.line) for e in got if split_label(bytes(merged).split(b"\n")[e.line - 1]
                                                                     + b"\n")[0] == "AB"[k]]
        assert mine == [(kind, code, where[k][line - 1]) for kind, code, line in alone[k]]
    boots = pp.sessions
    assert [b.number for b in boots] == list(range(1, len(boots) + 1))
    assert {b.facts["port"] for b in boots} == {"A", "B"}
    starts = [b.start_line for b in boots]
    assert starts == sorted(starts)


def test_live_merger_behind_keeps_arrival_order_with_bounded_reads(tmp_path: Path) -> None:
    """A merger far behind reads a little of each port per pass, and still writes the lines in arrival
    order: the same order as the merge of the saved logs by their sidecars."""
    from espwatch.merge import Lane, Merger

    t0 = 1_780_000_000.0
    logs = [SessionLog(tmp_path / "a.log"), SessionLog(tmp_path / "b.log")]
    for i in range(300):
        logs[0].write(b"a line %d of port A, a bit longer than B's\n" % i, t0 + i * 0.1)
        if i % 3 == 0:
            logs[1].write(b"b%d\nb%d-2\n" % (i, i), t0 + i * 0.1 + 0.05)
    out = SessionLog(tmp_path / "live.log")
    merger = Merger([Lane(label, str(log.path), log, log.times.time_at) for label, log in zip("AB", logs,
                                                                                                  strict=True)],
                    out, piece_wait=None)
    merger.budget = 100
    passes = 0
    while merger.behind():
        merger.poll()
        passes += 1
    assert passes > 50
    out.close()
    for log in logs:
        log.close()
    saved = SessionLog(tmp_path / "saved.log")
    merge_logs(plan_logs([tmp_path / "a.log", tmp_path / "b.log"]), saved.write)
    saved.close()

    def body(p: Path) -> list[bytes]:
        return [r for r in merged_lines(p) if split_label(r + b"\n")[0] is not None]

    assert body(tmp_path / "live.log") == body(tmp_path / "saved.log")
    assert len(body(tmp_path / "live.log")) == 500


def test_a_line_the_device_has_not_finished_shows_as_a_piece(tmp_path: Path) -> None:
    """A prompt without a line break shows after the quiet time as a piece (`A~`); the rest of the line
    follows as `A|`; the port's pipeline still sees one line, and the port's bytes are whole."""
    from espwatch.merge import Lane, Merger

    logs = [SessionLog(tmp_path / "a.log"), SessionLog(tmp_path / "b.log")]
    out = SessionLog(tmp_path / "m.log")
    merger = Merger([Lane(label, str(log.path), log, log.times.time_at) for label, log in zip("AB", logs,
                                                                                                  strict=True)],
                    out, piece_wait=0.05)
    logs[0].write(b"I (1) boot: ok\nesp32> ")
    logs[1].write(b"I (2) other: line\n")
    merger.poll()
    assert out.read_at(0, out.size).count(b"A~") == 0  # not quiet long enough yet
    time.sleep(0.1)
    merger.poll()
    logs[0].write(b"help\r\n")
    merger.poll()
    merger.close()
    for log in logs:
        log.close()
    merged = (tmp_path / "m.log").read_bytes()
    assert b"\nA~ esp32> \n" in merged and b"\nA| help\r\n" in merged
    assert port_lines(merged, "A") == (tmp_path / "a.log").read_bytes()
    pp = PortsPipeline(["A", "B"], [Pipeline(load_patterns(), []), Pipeline(load_patterns(), [])])
    pp.feed(merged)
    pp.close()
    assert pp.pipes[0].lines == 2 and pp.pipes[1].lines == 1
