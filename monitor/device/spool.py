"""Standard input spooled to a temporary file, so that a pipe can be browsed like a growing log."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading

from espwatch.device.sessionlog import SessionLog


class StdinSpool:
    """Copies a pipe (standard input) to a temporary file in a thread, like toolong does.

    The viewer follows the spool file; `done` is set at end of input. `take_stdin()` also re-opens the
    terminal as fd 0 so that the UI can read keys while the pipe is read here.
    """

    def __init__(self, fd: int, directory: str | None = None) -> None:
        self.fd = fd
        fd_tmp, self.path = tempfile.mkstemp(prefix="espwatch-stdin-", suffix=".log", dir=directory)
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

    def cleanup(self) -> None:
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    @staticmethod
    def take_stdin() -> int:
        """Move the piped stdin to a new fd and put the terminal on fd 0; returns the pipe's fd."""
        pipe_fd = os.dup(0)
        if os.name != "nt":
            try:
                tty = os.open("/dev/tty", os.O_RDWR)
            except OSError:
                return pipe_fd
            os.dup2(tty, 0)
            os.close(tty)
            sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
        return pipe_fd
