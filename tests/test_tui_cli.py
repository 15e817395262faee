"""The monitor, replay and ports verbs: argument handling and user errors (no screen is started)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.commands.parsing import build_parser
from espwatch.device.spool import StdinSpool
from espwatch.errors import UsageError
from espwatch.patterns import load_patterns
from espwatch.pipeline import Pipeline
from espwatch.tui.document import Follower, LineIndex


def test_port_without_verb_is_the_monitor() -> None:
    # cli.main rewrites `espwatch --port X` to `espwatch monitor --port X`
    args = build_parser("monitor").parse_args(["monitor", "--port", "rfc2217://localhost:4000", "--no-reset"])
    assert args.verb == "monitor" and args.port == "rfc2217://localhost:4000"
    assert args.baud == 115200 and args.no_reset and args.func.__module__ == "espwatch.commands.monitor"


def test_replay_missing_file_is_one_line(capsys, tmp_path: Path) -> None:
    assert main(["replay", str(tmp_path / "nope.log")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("espwatch: ") and "no such file" in err and err.count("\n") == 1


def test_replay_refuses_an_elf(capsys, tmp_path: Path) -> None:
    elf = tmp_path / "app.elf"
    elf.write_bytes(b"\x7fELF" + b"\0" * 100)
    assert main(["replay", str(elf)]) == 2
    assert "ELF file, not a log" in capsys.readouterr().err


def test_monitor_bad_elf_and_baud(capsys, tmp_path: Path) -> None:
    assert main(["--port", "/dev/null-none", "--elf", str(tmp_path / "x.elf")]) == 2
    assert "no such ELF" in capsys.readouterr().err
    assert main(["--port", "/dev/null-none", "--baud", "0"]) == 2


def test_ports_json(capsys) -> None:
    assert main(["ports", "--json"]) == 0
    ports = json.loads(capsys.readouterr().out)
    assert isinstance(ports, list)
    for p in ports:
        assert {"device", "vid_pid", "bridge"} <= set(p)


def test_stdin_spool_is_followed_to_the_end(corpus_dir: Path) -> None:
    data = (corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes()
    r, w = os.pipe()
    spool = StdinSpool(r)
    spool.start()
    index = LineIndex(spool.path)
    batches = []
    follower = Follower(index, Pipeline(load_patterns()), batches.append, follow=True, until=spool.done,
                        interval=0.01)
    spool.log.listeners.append(follower.wake.set)
    t = threading.Thread(target=follower.run)
    t.start()
    try:
        for i in range(0, len(data), 1000):  # a slow pipe
            os.write(w, data[i : i + 1000])
            time.sleep(0.005)
        os.close(w)
        t.join(20)
        assert follower.done and batches[-1].done
        kinds = [e.kind for b in batches for e in b.events]
        assert "abort" in kinds and "panic" in kinds
        assert index.line_count == 145
    finally:
        follower.stop.set()
        t.join(2)
        index.close()
        spool.cleanup()
        os.close(r)
    assert not Path(spool.path).exists()


@pytest.mark.parametrize("verb", ["monitor", "replay", "ports"])
def test_help_works(verb: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    assert verb in capsys.readouterr().out


def test_detail_of_decoded_frames_and_findings() -> None:
    from rich.console import Console

    from espwatch.events import Event, Frame
    from espwatch.tui.detail import event_plain, render_event

    patterns = load_patterns()
    ev = Event(kind="backtrace", line=34, end_line=34, severity="error", code="EW403",
               text="Backtrace: 0x400e37f4:0x3ffb5db0", fields={"frames": ["0x400e37f4:0x3ffb5db0"]},
               # innermost first: helper() was inlined into app_main(), as SymbolIndex.lookup answers
               frames=[Frame(0x400E37F4, "helper", "main/h.h", 7, inlined=True),
                       Frame(0x400E37F4, "app_main", "main/app.c", 42), Frame(0x40000400)])
    console = Console(width=100, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_event(ev, patterns))
    text = console.export_text()
    # the addr2line -pfiaC form: the address line names the inlined callee, "(inlined by)" its caller
    assert "0x400e37f4: helper at main/h.h:7\n (inlined by) app_main at main/app.c:42\n" in text
    assert "0x40000400: ?? ??:0" in text
    assert "0x400e37f4: helper at main/h.h:7\n (inlined by) app_main at main/app.c:42\n" \
        in event_plain(ev, patterns)
    finding = Event(kind="finding", line=5, end_line=9, severity="warning", code="EW900", text="",
                    title="Boot loop after OTA", hints=["check the rollback"], evidence=[5, 9])
    console.print(render_event(finding, patterns))
    text = console.export_text()
    assert "Boot loop after OTA" in text and "check the rollback" in text and "lines 5, 9" in text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_replay_reads_a_utf16_log_through_a_utf8_copy(corpus_dir: Path, tmp_path: Path, encoding: str) -> None:
    """A log saved by Windows PowerShell 5 (`>` writes UTF-16 LE with a BOM) is shown as text: the screen
    reads a UTF-8 copy, whose events equal scan's of the original (scan transcodes on the fly)."""
    from espwatch.commands.replay import readable_copy
    from espwatch.device.spool import remove_file
    from espwatch.scan import scan_stream

    src = corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log"
    text = src.read_bytes().decode("utf-8")
    log = tmp_path / "ps.log"
    log.write_bytes(text.encode(encoding))
    assert readable_copy(str(src), follow=False) is None  # UTF-8 logs are read as they are
    copy = readable_copy(str(log), follow=False)
    assert copy is not None
    try:
        assert Path(copy).read_bytes() == text.encode("utf-8")
        patterns = load_patterns()
        shown = Pipeline(patterns).run([Path(copy).read_bytes()])
        scanned = scan_stream(str(log), patterns).events
        assert [e.to_json() for e in shown] == [e.to_json() for e in scanned] and shown
    finally:
        assert remove_file(copy)
    with pytest.raises(UsageError, match="--follow"):
        readable_copy(str(log), follow=True)


def test_replay_without_a_terminal_is_one_line(capsys, corpus_dir: Path, tmp_path: Path) -> None:
    """Output piped (as under pytest): the screen would write its escape codes into it; one line instead,
    and no temporary copy left behind (a UTF-16 log is copied before the check)."""
    log = corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log"
    assert main(["replay", str(log)]) == 2
    err = capsys.readouterr().err
    assert "needs a terminal" in err and err.count("\n") == 1
    utf16 = tmp_path / "ps.log"
    utf16.write_bytes(log.read_bytes().decode().encode("utf-16"))
    before = set(Path(tempfile.gettempdir()).glob("espwatch-stdin-*"))
    assert main(["replay", str(utf16)]) == 2
    assert set(Path(tempfile.gettempdir()).glob("espwatch-stdin-*")) == before
