"""Run the installed `espwatch` in a real pseudo-terminal (its controlling terminal), as a user would.

`PtyRun` starts a process whose controlling terminal is a new pty (so `/dev/tty` works); standard input,
output and error can each be the terminal or a pipe. What the process writes to the terminal is collected
by a thread (`screen`), keys are sent with `send`. POSIX only (tests skip it on Windows).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence


class PtyRun:
    def __init__(self, args: Sequence[str], *, stdin: str = "tty", stdout: str = "tty", stderr: str = "tty",
                 env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
                 rows: int = 30, cols: int = 120) -> None:
        import fcntl
        import struct
        import termios

        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self._buf = bytearray()
        self._lock = threading.Lock()

        def pick(kind: str) -> int:
            return slave if kind == "tty" else subprocess.PIPE

        def become_session_leader() -> None:  # the pty becomes the controlling terminal
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        full_env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        full_env.pop("NO_COLOR", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [str(a) for a in args], stdin=pick(stdin), stdout=pick(stdout), stderr=pick(stderr),
            env=full_env, cwd=cwd, preexec_fn=become_session_leader, close_fds=True)
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._buf += data

    @property
    def screen(self) -> bytes:
        """Everything the process wrote to the terminal so far."""
        with self._lock:
            return bytes(self._buf)

    def wait_for(self, needle: bytes, timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.screen:
                return True
            if self.proc.poll() is not None:
                time.sleep(0.1)
                return needle in self.screen
            time.sleep(0.05)
        return False

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the exit status (killing the process after `timeout`)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise
        finally:
            self._reader.join(2)
            os.close(self.master)
