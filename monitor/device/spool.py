"""Standard input spooled to a temporary file, so that a pipe can be browsed like a growing log.

On every OS the pipe is read in a thread while the terminal becomes standard input for the screen's keys
(POSIX: `/dev/tty`; Windows: the console's input buffer `CONIN$`, made the process's standard input handle,
which is where Textual reads keys). The spool file is removed at exit; Windows refuses to remove a file
that is still open, so removal is retried briefly, and spool files left behind by a process that was
killed are removed by the next `replay -` (on Windows a spool still in use cannot be removed, so this
never touches a running one).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from espwatch.device.sessionlog import SessionLog

PREFIX = "espwatch-stdin-"
SUFFIX = ".log"
STALE_AFTER = 60.0 if os.name == "nt" else 86400.0
"""Age (seconds since the last write) after which a spool file of another process is removed."""


def sweep_stale(directory: str | os.PathLike[str] | None = None, older_than: float = STALE_AFTER,
                now: float | None = None) -> list[Path]:
    """Remove spool files (`espwatch-stdin-*.log`) in `directory` not written for `older_than` seconds;
    the ones removed. Files that cannot be removed (in use on Windows, not ours) are left alone."""
    folder = Path(directory if directory is not None else tempfile.gettempdir())
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        candidates = list(folder.glob(f"{PREFIX}*{SUFFIX}"))
    except OSError:
        return removed
    for path in candidates:
        try:
            if now - path.stat().st_mtime < older_than or not path.is_file():
                continue
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def remove_file(path: str | os.PathLike[str], attempts: int = 6, first_delay: float = 0.05) -> bool:
    """Remove `path`, retrying with growing pauses while the OS refuses (on Windows a handle that is
    still closing, an antivirus scan); True when it is gone."""
    delay = first_delay
    for attempt in range(attempts):
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if attempt == attempts - 1:
                return False
            time.sleep(delay)
            delay *= 2
    return False


def utf8_copy(stream, directory: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """Copy a readable stream that gives UTF-8 (a UTF-16/32 log transcoded by `espwatch.encoding`) to a
    temporary file named like the stdin spool (so a copy left behind is swept later); returns its path."""
    sweep_stale(directory)
    fd, path = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(1 << 20):
                out.write(block)
    except BaseException:
        remove_file(path)
        raise
    return path


class StdinSpool:
    """Copies a pipe (standard input) to a temporary file in a thread, like toolong does.

    The viewer follows the spool file; `done` is set at end of input. `take_stdin()` also re-opens the
    terminal as standard input so that the UI can read keys while the pipe is read here.
    """

    def __init__(self, fd: int, directory: str | None = None) -> None:
        self.fd = fd
        sweep_stale(directory)
        fd_tmp, self.path = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=directory)
        os.close(fd_tmp)
        self.log = SessionLog(self.path, times=False)
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="espwatch-stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                data = os.read(self.fd, 1 << 16)
                if not data:
                    break
                self.log.write(data)
        except OSError:
            pass
        finally:
            self.done.set()
            for cb in self.log.listeners:
                cb()

    def cleanup(self) -> bool:
        """Close the spool and remove its file; False when the OS kept it (the next run removes it)."""
        self.log.close()
        return remove_file(self.path)

    @staticmethod
    def take_stdin() -> int:
        """Move the piped stdin to a new fd and put the terminal on fd 0; returns the pipe's fd."""
        pipe_fd = os.dup(0)
        if os.name == "nt":
            _console_as_stdin_windows()
            return pipe_fd
        try:
            tty = os.open("/dev/tty", os.O_RDWR)
        except OSError:
            return pipe_fd
        os.dup2(tty, 0)
        os.close(tty)
        sys.stdin = open(0, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115 - for good
        return pipe_fd


def _console_as_stdin_windows() -> bool:
    """Windows: open the console's input buffer (`CONIN$`) as fd 0 and as the process's standard input
    handle (Textual reads keys with ReadConsoleInputW on GetStdHandle(STD_INPUT_HANDLE)). False without
    a console (then keys cannot be read; Ctrl+C still ends the program)."""
    try:
        import ctypes
        import msvcrt
        from ctypes import wintypes

        con = os.open("CONIN$", os.O_RDWR | getattr(os, "O_BINARY", 0))
    except (ImportError, OSError):
        return False
    try:
        os.dup2(con, 0)
    finally:
        os.close(con)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    set_std_handle = kernel32.SetStdHandle
    set_std_handle.argtypes = [wintypes.DWORD, wintypes.HANDLE]
    set_std_handle.restype = wintypes.BOOL
    std_input_handle = wintypes.DWORD(-10 & 0xFFFFFFFF)
    set_std_handle(std_input_handle, msvcrt.get_osfhandle(0))  # type: ignore[attr-defined]
    with contextlib.suppress(OSError, ValueError):
        sys.stdin = open(0, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115 - for good
    return True
