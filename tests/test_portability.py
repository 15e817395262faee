"""Windows and macOS behaviour that can be checked anywhere: console encodings, `replay -` and its spool
file, the clipboard fallbacks. Paths that only exist on one OS are driven with that OS's inputs (a
cp1252 stream, the Windows clipboard command) so that they run on Linux too."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from espwatch.console import prepare
from espwatch.device.spool import PREFIX, StdinSpool, remove_file, sweep_stale

ESPWATCH = Path(sys.executable).with_name("espwatch.exe" if os.name == "nt" else "espwatch")
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


# -- clipboard --------------------------------------------------------------------------------------
posix_scripts = pytest.mark.skipif(os.name == "nt", reason="the stand-in clipboard commands are sh scripts")
TEXT = "EW401 panic ✓\nline 2 温度\n"


def fake_commands(folder: Path, *names: str, status: int = 0) -> Callable[[str], str | None]:
    """Stand-in clipboard commands (real programs on a PATH of their own) that keep their input,
    arguments and LC_CTYPE; the `which` that finds only them."""
    import shutil

    folder.mkdir(exist_ok=True)
    for name in names:
        script = folder / name
        script.write_text(f'#!/bin/sh\ncat > "{folder}/{name}.in"\necho "$@" > "{folder}/{name}.args"\n'
                          f'echo "$LC_CTYPE" > "{folder}/{name}.lc"\nexit {status}\n')
        script.chmod(0o755)
    return lambda name: shutil.which(name, path=str(folder))


@posix_scripts
@pytest.mark.parametrize(("platform", "env", "names", "used", "args"), [
    ("linux", {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, ["wl-copy", "xclip"], "wl-copy", ""),
    ("linux", {"DISPLAY": ":0"}, ["wl-copy", "xclip", "xsel"], "xclip", "-selection clipboard"),
    ("linux", {"DISPLAY": ":0"}, ["xsel"], "xsel", "--clipboard --input"),
    ("linux", {"WSL_DISTRO_NAME": "Ubuntu"}, ["clip.exe"], "clip.exe", ""),
    ("darwin", {"LC_ALL": "C"}, ["pbcopy"], "pbcopy", ""),
    ("win32", {}, ["clip"], "clip", ""),
])
def test_the_platform_command_gets_the_text(tmp_path: Path, platform: str, env: dict, names: list[str],
                                            used: str, args: str) -> None:
    from espwatch.clipboard import copy_text

    bin_dir = tmp_path / "bin"
    which = fake_commands(bin_dir, *names)
    sent: list[str] = []
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"  # the scripts need cat
    result = copy_text(TEXT, sent.append, platform=platform, env=dict(env, PATH=path), which=which,
                       save_to=tmp_path / "clip.txt")
    assert result.command == used and result.message("event") == f"event copied to the clipboard ({used})"
    assert sent == [] and not (tmp_path / "clip.txt").exists()
    got = (bin_dir / f"{used}.in").read_bytes()
    if used.startswith("clip"):  # Windows: UTF-16 with its byte order mark, CRLF line ends
        assert got == b"\xff\xfe" + TEXT.replace("\n", "\r\n").encode("utf-16-le")
    else:
        assert got == TEXT.encode()
    assert (bin_dir / f"{used}.args").read_text().strip() == args
    if used == "pbcopy":
        assert (bin_dir / "pbcopy.lc").read_text().strip() == "UTF-8"


@posix_scripts
@pytest.mark.parametrize(("platform", "env", "names", "error"), [
    ("linux", {}, ["xclip", "wl-copy"], None),  # no desktop (a console, a container)
    ("linux", {"SSH_CONNECTION": "10.0.0.1 22 10.0.0.2 22"}, ["clip.exe"], None),
    ("darwin", {"SSH_TTY": "/dev/ttys001"}, ["pbcopy"], None),  # the remote Mac's clipboard is not yours
    ("win32", {}, [], None),
    ("linux", {"DISPLAY": ":0"}, ["xclip"], "xclip failed (exit status 1)"),  # no X server answers
])
def test_without_a_command_osc52_and_a_file(tmp_path: Path, platform: str, env: dict, names: list[str],
                                            error: str | None) -> None:
    from espwatch.clipboard import copy_text

    bin_dir = tmp_path / "bin"
    which = fake_commands(bin_dir, *names, status=1 if error else 0)
    sent: list[str] = []
    target = tmp_path / "copies" / "clipboard.txt"
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"  # the scripts need cat
    result = copy_text(TEXT, sent.append, platform=platform, env=dict(env, PATH=path), which=which,
                       save_to=target)
    assert result.command is None and result.osc52 and sent == [TEXT]
    assert result.saved == target and target.read_text(encoding="utf-8") == TEXT
    assert result.error == error
    assert result.message("report") == ("report sent to the terminal's clipboard (OSC 52; not every "
                                        f"terminal accepts it) and saved to {target}")


def test_the_screen_copies_an_event_to_the_fallback_file(corpus_dir: Path) -> None:
    import asyncio

    from espwatch.clipboard import fallback_path
    from espwatch.patterns import load_patterns
    from espwatch.tui.app import MonitorApp

    async def run() -> None:
        app = MonitorApp(corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log", load_patterns())
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(500):
                if app.scan_done:
                    break
                await pilot.pause(0.02)
            await pilot.press("n", "n", "c")
            assert app.selected.kind == "abort"
            assert app.clipboard == fallback_path().read_text(encoding="utf-8")  # OSC 52 and the file
            assert "abort() was called" in app.clipboard
            assert app.last_copy.command is None and app.last_copy.saved == fallback_path()
            await pilot.press("q")

    asyncio.run(run())


# -- no locale-dependent text I/O in the package ----------------------------------------------------
def _default_encoding_calls(source: str) -> list[int]:
    """Lines of calls that read or write text in the locale's encoding (cp1252 on Windows): `open` and
    `os.fdopen` in a text mode, `read_text` / `write_text`, subprocess `text=True`, all without
    `encoding=`."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg for k in node.keywords}
        if "encoding" in keywords:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in ("open", "fdopen") and (isinstance(func, ast.Name) or name == "fdopen"):
            mode = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "mode"), None)
            if not (isinstance(mode, ast.Constant) and "b" in str(mode.value)):
                found.append(node.lineno)
        else:
            subprocess_text = name in ("run", "Popen", "check_output") and bool(
                keywords & {"text", "universal_newlines"})
            if subprocess_text or name in ("read_text", "write_text"):
                found.append(node.lineno)
    return found


def test_the_package_never_reads_or_writes_text_in_the_locale_encoding() -> None:
    root = Path(__file__).resolve().parent.parent / "monitor"
    offenders = [f"{p.relative_to(root.parent)}:{line}" for p in sorted(root.rglob("*.py"))
                 for line in _default_encoding_calls(p.read_text(encoding="utf-8"))]
    assert offenders == [], "give these an explicit encoding (Windows would use cp1252)"
    assert _default_encoding_calls("open(p)\nopen(p, 'rb')\nPath(p).read_text()\nopen(p, 'w', "
                                   "encoding='utf-8')\nsubprocess.run(a, text=True)\n") == [1, 3, 5]


def test_the_workflow_runs_the_suite_on_linux_windows_and_macos() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML reads the workflow file")
    root = Path(__file__).resolve().parent.parent
    flow = yaml.safe_load((root / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    jobs = flow["jobs"]
    oses = {jobs["linux"]["runs-on"], *jobs["other-os"]["strategy"]["matrix"]["os"]}
    assert {o.split("-")[0] for o in oses} == {"ubuntu", "windows", "macos"}
    assert any(step.get("run") == "bash .ci/run" for step in jobs["linux"]["steps"])
    assert any("pytest" in step.get("run", "") for step in jobs["other-os"]["steps"])
    assert (root / ".ci" / "run").read_text(encoding="utf-8").count("python -m pytest") == 1


@pytest.mark.parametrize(("port", "name"), [
    (r"\\.\COM10", "COM10"), ("COM4", "COM4"), ("/dev/cu.usbmodem1101", "cu.usbmodem1101"),
    ("/dev/ttyUSB0", "ttyUSB0"), ("rfc2217://host:4000", "host_4000"),
])
def test_session_log_names_are_valid_on_every_os(port: str, name: str) -> None:
    from espwatch.device.sessionlog import default_log_path, safe_port_name

    assert safe_port_name(port) == name
    file = default_log_path(port, when=1_000_000_000).name
    assert not set(file) & set('<>:"/\\|?*') and file.startswith(name + "-")


@pytest.mark.parametrize(("message", "said"), [
    ("could not open port 'COM7': FileNotFoundError(2, 'The system cannot find the file specified.', None, 2)",
     "COM7: no such port"),
    ("could not open port 'COM7': PermissionError(13, 'Zugriff verweigert', None, 5)",  # a German Windows
     "COM7 is in use by another program (another monitor, esptool, a serial terminal?)"),
    ("could not open port 'COM7': OSError(22, 'The semaphore timeout period has expired.', None, 121)",
     "COM7: could not open port 'COM7': OSError(22, 'The semaphore timeout period has expired.', None, 121)"),
])
def test_windows_open_errors_say_what_happened(message: str, said: str) -> None:
    """COM ports are not files on Windows: a busy port must not read as a missing one. The messages are
    the ones pyserial's Windows backend raises (SerialException with the WinError's repr)."""
    import serial

    from espwatch.device.connect import open_error_text

    assert open_error_text("COM7", serial.SerialException(message), windows=True) == said
