"""A session log that cannot be written (real faults: /dev/full, RLIMIT_FSIZE): the reader keeps reading,
the bytes stay in memory and on screen, the failure is said at once, the write is retried, and the counts
at exit match the file exactly."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from espwatch.device.reader import SerialSource
from espwatch.device.sessionlog import SessionLog, is_host_line, strip_host_lines

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim
from helpers import wait_for

HERE = Path(__file__).parent

posix_only = pytest.mark.skipif(os.name == "nt", reason="pty simulator and rlimits are POSIX only")



def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@posix_only
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_dev_full_keeps_reading_and_says_so(tmp_path: Path, corpus_dir: Path) -> None:
    """Every write fails with ENOSPC: the reader lives on, the screen still gets every byte, the state is
    said once, and at exit the summary says nothing was saved."""
    notes: list[tuple[str, str]] = []
    data = (corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes()
    with DevSim(tmp_path / "ttyESP") as sim:
        log = SessionLog("/dev/full")
        assert log.times_path is None  # no sidecar beside a device file
        src = SerialSource(str(sim.link), 115200, log, on_status=lambda s, m: notes.append((s, m)),
                           retry_delay=0.05)
        src.start()
        try:
            wait_for(lambda: src.state == "connected", what="connection")
            sim.write(data, rate=2_000_000)
            sim.write(b"I (99) tail: still reading\n")
            wait_for(lambda: log.device_bytes == len(sim.written), what="every byte read")
            assert src.running and src.state == "connected"
            assert log.failing and "No space left on device" in (log.problem or "")
            assert [s for s, _ in notes].count("log_failing") == 1
            assert "ENOSPC" in next(m for s, m in notes if s == "log_failing")
            assert log.status_text().startswith("LOG NOT SAVED")
            view = log.read_at(0, log.size)  # what the screen reads
            assert strip_host_lines(view) == bytes(sim.written)
            assert any(b"session log write failed" in ln for ln in view.split(b"\n") if is_host_line(ln))
        finally:
            src.stop()
            log.close()
    s = log.summary()
    assert (s.received, s.saved, s.dropped, s.unwritten) == (len(sim.written), 0, 0, len(sim.written))
    assert not s.complete and f"0 of {len(sim.written):,} bytes from the device saved" in s.text()


def start_child(tmp_path: Path, link: Path, limit: int, max_pending: int):
    log_path = tmp_path / "session.log"
    proc = subprocess.Popen([sys.executable, str(HERE / "logfault_child.py"), str(link), str(log_path),
                             str(limit), str(max_pending)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(cmd: str) -> dict:
        proc.stdin.write(cmd + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, f"child died (exit {proc.poll()})"
        return json.loads(line)

    return proc, ask, log_path


def poll(ask, cond, timeout: float = 20.0, what: str = "condition") -> dict:
    end = time.monotonic() + timeout
    while True:
        st = ask("stat")
        if cond(st):
            return st
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}: {st}")
        time.sleep(0.02)


@posix_only
def test_file_size_limit_then_space_again_loses_nothing(tmp_path: Path, corpus_dir: Path) -> None:
    """The log stops at 20,000 bytes (EFBIG); 150 KB more arrive and are kept in memory; the limit is lifted:
    the retry saves them all, in order, and the summary matches the file."""
    corpus = b"".join(p.read_bytes() for p in sorted(corpus_dir.glob("*.log")))
    first = (corpus * (1 + 150_000 // len(corpus)))[:150_000]
    with DevSim(tmp_path / "ttyESP") as sim:
        proc, ask, log_path = start_child(tmp_path, sim.link, limit=20_000, max_pending=8 << 20)
        try:
            poll(ask, lambda st: st["state"] == "connected", what="connection")
            sim.write(first, rate=2_000_000)
            st = poll(ask, lambda st: st["received"] == len(sim.written), what="every byte read")
            assert st["alive"] and st["state"] == "connected" and st["failing"]
            assert st["states"].count("log_failing") == 1 and "log_ok" not in st["states"]
            assert "File too large" in st["status"]
            assert st["view_device_sha"] == sha(bytes(sim.written))  # the screen has every byte
            assert len(sim.written) > 100_000
            ask("lift")
            poll(ask, lambda st: not st["failing"], what="the retry to succeed")
            sim.write(b"I (1) after: space again\n")
            st = poll(ask, lambda st: st["received"] == len(sim.written), what="the last bytes")
            assert "log_ok" in st["states"]
            summary = ask("stop")
        finally:
            proc.stdin.close()
            proc.wait(20)
    data = log_path.read_bytes()
    assert strip_host_lines(data) == bytes(sim.written)
    assert summary["received"] == summary["saved"] == len(sim.written)
    assert summary["dropped"] == summary["unwritten"] == 0 and summary["failures"] == 1
    assert summary["file_bytes"] == len(data)
    host = [ln for ln in data.split(b"\n") if is_host_line(ln)]
    assert b"write failed (File too large (EFBIG))" in host[0] and b"written again" in host[1]
    assert "all saved after 1 write failure" in summary["text"]


@posix_only
def test_memory_full_drops_the_oldest_and_counts_match_the_file(tmp_path: Path, corpus_dir: Path) -> None:
    """A 256 KiB memory buffer and 900 KB that cannot be written: the oldest unsaved bytes are dropped, the
    screen still has every line (dropped ones as stand-ins), and the file holds exactly the bytes the
    summary says, with one marker line where the dropped ones are missing."""
    corpus = b"".join(p.read_bytes() for p in sorted(corpus_dir.glob("*.log")))
    payload = (corpus * (1 + 900_000 // len(corpus)))[:900_000]
    with DevSim(tmp_path / "ttyESP") as sim:
        proc, ask, log_path = start_child(tmp_path, sim.link, limit=20_000, max_pending=256 << 10)
        try:
            poll(ask, lambda st: st["state"] == "connected", what="connection")
            sim.write(payload, rate=4_000_000)
            st = poll(ask, lambda st: st["received"] == len(sim.written), what="every byte read")
            assert st["alive"] and st["state"] == "connected"
            assert st["states"].count("log_failing") == 1 and st["states"].count("log_dropping") == 1
            assert "lost" in st["status"]
            # the screen reads to the end: the newest bytes as they came, the dropped ones as stand-ins
            # with their line breaks (plus the one or two of the failure's host line, cut or not)
            assert st["view_len"] == st["size"]
            assert st["view_tail_sha"] == sha(bytes(sim.written)[-100_000:])
            assert st["view_breaks"] - bytes(sim.written).count(b"\n") in (1, 2)
            ask("lift")
            poll(ask, lambda st: not st["failing"], what="the retry to succeed")
            summary = ask("stop")
        finally:
            proc.stdin.close()
            proc.wait(20)
    data = log_path.read_bytes()
    device = strip_host_lines(data)
    written = bytes(sim.written)
    assert summary["dropped"] > 0 and summary["unwritten"] == 0
    assert summary["saved"] + summary["dropped"] == summary["received"] == len(written)
    assert len(device) == summary["saved"] and summary["file_bytes"] == len(data)
    cut = next(i for i in range(len(device)) if device[i] != written[i])
    assert device == written[:cut] + written[cut + summary["dropped"] :]
    markers = [ln for ln in data.split(b"\n") if b"bytes of this session are missing here" in ln]
    assert len(markers) == 1 and is_host_line(markers[0])
    assert f"{summary['dropped']:,} NOT saved" in summary["text"]
