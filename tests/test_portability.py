"""Windows and macOS behaviour that can be checked anywhere: console encodings, `replay -` and its spool
file, the clipboard fallbacks. Paths that only exist on one OS are driven with that OS's inputs (a
cp1252 stream, the Windows clipboard command) so that they run on Linux too."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from espwatch.console import prepare
from espwatch.device.spool import PREFIX, StdinSpool, remove_file, sweep_stale

ESPWATCH = Path(sys.executable).with_name("espwatch")
needs_pty = pytest.mark.skipif(os.name == "nt", reason="needs a POSIX pseudo-terminal (pty)")

UNICODE_LOG = "I (100) app: start ✓\nE (200) esp_flash: 温度 read failed ✗ → retry…\n"


# -- console encodings ------------------------------------------------------------------------------
def test_a_cp1252_console_gets_lookalikes_not_a_traceback(tmp_path: Path) -> None:
    log = tmp_path / "unicode.log"
    log.write_text(UNICODE_LOG, encoding="utf-8")
    out = subprocess.run([str(ESPWATCH), "scan", str(log)], capture_output=True, timeout=60,
                         env=dict(os.environ, PYTHONIOENCODING="cp1252"))
    assert out.returncode == 1, out.stderr  # an error event, and no traceback
    assert b"Traceback" not in out.stderr
    text = out.stdout.decode("cp1252")
    assert "EW304" in text and "?? read failed X -> retry…" in text  # … exists in cp1252


@pytest.mark.skipif(sys.flags.utf8_mode, reason="Python's UTF-8 mode already makes every stream UTF-8")
def test_a_pipe_in_a_legacy_code_page_carries_utf8() -> None:
    raw = io.BytesIO()
    pipe = io.TextIOWrapper(raw, encoding="cp1252")  # what Windows gives a redirected stdout
    prepare(pipe, environ={})
    pipe.write("✓ 温度\n")
    pipe.flush()
    assert raw.getvalue() == "✓ 温度\n".encode()


def test_an_explicit_encoding_is_kept_and_cannot_fail() -> None:
    raw = io.BytesIO()
    pipe = io.TextIOWrapper(raw, encoding="cp1252")
    prepare(pipe, environ={"PYTHONIOENCODING": "cp1252"})
    pipe.write("✓ matches, ✗ DOES NOT MATCH, 100 µF, 温度\n")
    pipe.flush()
    assert raw.getvalue().decode("cp1252") == "OK matches, X DOES NOT MATCH, 100 µF, ??\n"


@needs_pty
def test_a_latin1_terminal_gets_lookalikes() -> None:
    master, slave = os.openpty()
    try:
        term = io.TextIOWrapper(io.FileIO(slave, "w", closefd=False), encoding="latin-1")
        prepare(term, environ={})
        assert term.encoding == "latin-1"  # a terminal keeps its encoding
        term.write("ELF app.elf ✓ matches (indexing…) 25 °C\n")
        term.flush()
        time.sleep(0.05)
        got = os.read(master, 4096).replace(b"\r\n", b"\n")
        assert got == "ELF app.elf OK matches (indexing...) 25 °C\n".encode("latin-1")
    finally:
        os.close(master)
        os.close(slave)


# -- replay - : the spool file ----------------------------------------------------------------------
def test_stale_spool_files_are_swept(tmp_path: Path) -> None:
    old = tmp_path / f"{PREFIX}old1234.log"
    fresh = tmp_path / f"{PREFIX}fresh567.log"
    other = tmp_path / "unrelated.log"
    for p in (old, fresh, other):
        p.write_bytes(b"x\n")
    long_ago = time.time() - 7200
    os.utime(old, (long_ago, long_ago))
    os.utime(other, (long_ago, long_ago))
    assert sweep_stale(tmp_path, older_than=3600) == [old]
    assert not old.exists() and fresh.exists() and other.exists()


def test_spool_cleanup_removes_its_file(tmp_path: Path) -> None:
    r, w = os.pipe()
    spool = StdinSpool(r, directory=str(tmp_path))
    spool.start()
    os.write(w, b"I (1) app: hello\n")
    os.close(w)
    assert spool.done.wait(10)
    assert Path(spool.path).read_bytes() == b"I (1) app: hello\n"
    assert spool.cleanup()
    assert not Path(spool.path).exists()
    os.close(r)
    assert remove_file(tmp_path / "never-there")  # gone is gone


@needs_pty
def test_replay_of_a_pipe_reads_keys_from_the_terminal_and_leaves_no_file(tmp_path: Path,
                                                                          corpus_dir: Path) -> None:
    from ptyrun import PtyRun

    data = (corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes()
    run = PtyRun([ESPWATCH, "replay", "-", "--no-elf"], stdin="pipe", env={"TMPDIR": str(tmp_path)})
    try:
        assert run.proc.stdin is not None
        run.proc.stdin.write(data)
        run.proc.stdin.flush()  # the pipe stays open: the screen follows it
        assert run.wait_for(b"<stdin>", 60), run.screen[-2000:]
        assert [p.name[: len(PREFIX)] for p in tmp_path.iterdir()] == [PREFIX]
        run.send(b"q")  # read from the terminal, not from the pipe
    finally:
        rc = run.finish(60)
    assert rc == 0
    assert list(tmp_path.iterdir()) == []
