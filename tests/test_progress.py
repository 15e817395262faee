"""A long `scan` on a terminal shows its progress on stderr; never on a pipe, in a file or with --json."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from espwatch.progress import Progress, for_stream, input_size

ESPWATCH = Path(sys.executable).with_name("espwatch.exe" if os.name == "nt" else "espwatch")
LOG = "b-esp32c3-abort-then-illegal-instruction.log"
needs_pty = pytest.mark.skipif(os.name == "nt", reason="needs a POSIX pseudo-terminal (pty)")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_bytes_total_rate_and_time_left() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress(out, "boot.log", total=100 << 20, clock=clock, width=120)
    p.add(1 << 20)
    clock.now += 0.4
    p.add(1 << 20)
    assert out.getvalue() == ""  # not before `delay`: a small log shows nothing
    clock.now += 0.6  # 1 s: 4 MB
    p.add(2 << 20)
    assert out.getvalue() == "\rboot.log: 4.0 MB / 100.0 MB (4%), 4.0 MB/s, 0:24 left\r"
    for _ in range(1000):  # throttled: no redraw within `interval`
        p.add(1024)
    assert p.updates == 1
    clock.now += 1.0
    p.add(0)
    assert p.updates == 2 and out.getvalue().count("\r") == 4
    p.clear()
    text = out.getvalue().split("\r")
    assert text[-2].strip() == "" and len(text[-2]) == len(text[-4])  # the whole line is blanked


def test_unknown_total_and_narrow_terminals() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress(out, "<stdin>", clock=clock, width=30, delay=0)
    clock.now += 2
    p.add(3 << 20)
    line = out.getvalue().strip("\r")
    assert line == "<stdin>: 3.0 MB, 1.5 MB/s"[:29] and len(line) <= 29  # never wraps


def test_nothing_for_a_pipe_or_a_file(tmp_path: Path) -> None:
    assert for_stream(io.StringIO(), "x") is None
    with open(tmp_path / "err.txt", "w", encoding="utf-8") as fh:
        assert for_stream(fh, "x") is None
    assert input_size("-") is None and input_size(str(tmp_path / "none")) is None
    assert input_size(str(tmp_path / "err.txt")) == 0


def _feed_slowly(stdin, data: bytes, seconds: float = 1.6, pieces: int = 16) -> None:
    step = len(data) // pieces + 1
    for i in range(0, len(data), step):
        stdin.write(data[i : i + step])
        stdin.flush()
        time.sleep(seconds / pieces)
    stdin.close()


@needs_pty
@pytest.mark.parametrize("json", [False, True])
def test_a_slow_scan_on_a_terminal(corpus_dir: Path, json: bool) -> None:
    from ptyrun import PtyRun

    data = (corpus_dir / LOG).read_bytes()
    args = [ESPWATCH, "scan", "-", "--no-elf", *(["--json"] if json else [])]
    run = PtyRun(args, stdin="pipe", stdout="pipe")  # stderr is the terminal
    try:
        _feed_slowly(run.proc.stdin, data)
        out = run.proc.stdout.read()
    finally:
        rc = run.finish(60)
    assert rc == 1
    screen = run.screen.decode()
    if json:
        assert screen == ""  # machine output: no progress
        assert out.count(b"\n") >= 2 and out.startswith(b"{")
        return
    assert "<stdin>: " in screen and "/s" in screen and "%" not in screen  # no total for a pipe
    assert screen.endswith("\r") and screen.split("\r")[-2].strip() == ""  # cleared at the end
    assert b"\r" not in out and out.startswith(b"<stdin>:\n") and b"total: 145 lines" in out


def test_nothing_on_stderr_when_it_is_a_pipe(corpus_dir: Path) -> None:
    data = (corpus_dir / LOG).read_bytes()
    proc = subprocess.Popen([str(ESPWATCH), "scan", "-", "--no-elf"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _feed_slowly(proc.stdin, data)
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(60)
    assert proc.returncode == 1 and err == b"" and out.startswith(b"<stdin>:\n") and b"total: 145 lines" in out


@needs_pty
def test_under_the_terminal_guard_the_line_is_ours_and_the_name_is_clean() -> None:
    """The CLI wraps stderr in the sanitiser (which would show our CR as ␍): the line goes to the real
    terminal, and a file name carrying an escape sequence reaches it without one."""
    from espwatch.sanitize import TerminalWriter

    master, slave = os.openpty()
    try:
        term = io.TextIOWrapper(io.FileIO(slave, "w", closefd=False), encoding="utf-8")
        p = for_stream(TerminalWriter(term), "evil\x1b]0;pwned\x07\r.log", total=10)
        assert p is not None and p.stream is term
        assert "\x1b" not in p.label and "\r" not in p.label and "\x07" not in p.label
    finally:
        os.close(master)
        os.close(slave)
