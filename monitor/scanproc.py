"""A scan of a saved log file in a worker process, so that it does not share the caller's interpreter lock.

`ScanProcess(path, patterns, rules, elf)` runs the same `Pipeline` as `scan` (detection, boots, decoding,
esp_err_t names, diagnosis; detection and boots only with `enrich=False`) in a fresh interpreter and
streams back, at most every `interval` seconds, compact batches: the events completed since the last
batch, the boot sessions that changed, lines and bytes read. The caller (the replay's follower thread) only
unpickles them, so a screen stays responsive while a 1 GB log is scanned at the speed of `scan --json`.
No screen code here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from espwatch.events import Event
from espwatch.sessions import SessionInfo

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from espwatch.diagnosis.rules import Rule
    from espwatch.enrich import ElfChoice
    from espwatch.patterns import PatternSet


@dataclass
class ScanBatch:
    """What the worker found since its previous batch."""

    events: list[Event]
    sessions: list[SessionInfo]
    """The sessions that are new or may have changed (the last one posted before, and any newer)."""
    lines: int
    bytes_read: int
    size: int
    done: bool = False
    elapsed: float = 0.0
    """Seconds since the worker started reading."""
    error: str | None = None
    """Why the scan stopped early (the batch is then the last one)."""
    stats: dict[str, Any] = field(default_factory=dict)


def _work(conn: Connection, path: str, patterns: PatternSet, rules: list[Rule] | None,
          elf: ElfChoice | None, enrich: bool, interval: float) -> None:
    """The worker: scan `path` and send ScanBatch objects; the last one has `done` or `error` set."""
    import os

    from espwatch.pipeline import CHUNK, Pipeline, read_reusing
    from espwatch.scan import KEEP_SESSIONS

    posted = 0
    """Boots numbered below this were sent in their final state (the last one sent may still change)."""
    dropped: list[SessionInfo] = []
    offset = 0
    size = 0

    def batch(pipe: Pipeline, events: list[Event], done: bool = False, error: str | None = None) -> ScanBatch:
        nonlocal posted
        states = [s for s in dropped if s.number >= posted]
        dropped.clear()
        sessions = pipe.sessions
        states.extend(SessionInfo.of(s) for s in sessions if s.number >= posted)
        if sessions:
            posted = sessions[-1].number
        return ScanBatch(events, states, pipe.lines, offset, size, done, time.perf_counter() - t0, error,
                         {"prefilter": pipe.detector.prefilter_engine})

    t0 = time.perf_counter()
    pipe: Pipeline | None = None
    try:
        from espwatch.enrich import Enrichment

        stages = Enrichment(elf, "given", patterns, rules, background=True, strict=False).stages() \
            if enrich else []
        pipe = Pipeline(patterns, stages, keep_events=False)
        # Only the last boots stay in the worker (its memory is bounded on a boot loop of any length); the
        # ones it lets go are sent with the next batch.
        pipe.boots.keep_sessions = KEEP_SESSIONS
        pipe.boots.on_drop = lambda s: dropped.append(SessionInfo.of(s))
        pending: list[Event] = []
        last = t0
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            for chunk in read_reusing(fh, CHUNK):
                offset += len(chunk)
                pending.extend(pipe.feed(chunk))
                now = time.perf_counter()
                if now - last >= interval or (last == t0 and pending):
                    conn.send(batch(pipe, pending))
                    pending = []
                    last = now
        pending.extend(pipe.close())
        conn.send(batch(pipe, pending, done=True))
    except Exception as exc:  # the caller shows it; the worker ends
        from espwatch.errors import EspwatchError

        msg = str(exc) if isinstance(exc, EspwatchError) else f"{type(exc).__name__}: {exc}"
        empty = ScanBatch([], [], 0, offset, size, True, time.perf_counter() - t0, msg)
        try:
            conn.send(batch(pipe, [], True, msg) if pipe is not None else empty)
        except Exception:
            conn.send(empty)
    finally:
        conn.close()


class ScanProcess:
    """Scan one saved log file in a worker process; read its batches with `receive`.

    The worker is `python -m espwatch.scanproc` (a plain child process: nothing of the caller's main
    module is imported again, no fork of a process that runs threads); its arguments come pickled on its
    standard input, its batches on a pipe of their own.
    """

    def __init__(self, path: str, patterns: PatternSet, rules: list[Rule] | None = None,
                 elf: ElfChoice | None = None, enrich: bool = True, interval: float = 0.25) -> None:
        import os
        import pickle
        import subprocess
        import sys
        import tempfile
        import threading
        from multiprocessing.connection import Connection

        self.path = path
        self.done = False
        self.error: str | None = None
        rfd, wfd = os.pipe()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - never the screen's terminal
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "espwatch.scanproc", str(wfd)], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=self._stderr, pass_fds=(wfd,), close_fds=True)
        except BaseException:
            os.close(rfd)
            raise
        finally:
            os.close(wfd)
        self._conn = Connection(rfd, writable=False)
        # The arguments go in from a thread: the worker reads them only once its imports are done, and
        # the caller (a screen starting up) should not wait for that.
        args = pickle.dumps((path, patterns, rules, elf, enrich, interval))
        threading.Thread(target=self._send, args=(args,), name="espwatch-scan-args", daemon=True).start()

    def _send(self, args: bytes) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(args)
            stdin.close()
        except OSError:  # the worker is gone: receive() says why
            pass

    def receive(self, timeout: float = 0.0) -> list[ScanBatch]:
        """The batches that arrived, waiting up to `timeout` seconds for the first one."""
        out: list[ScanBatch] = []
        if self.done:
            return out
        try:
            while self._conn.poll(timeout if not out else 0):
                b: ScanBatch = self._conn.recv()
                out.append(b)
                if b.done:
                    self.done = True
                    self.error = b.error
                    break
        except (EOFError, OSError):  # the worker died without a last batch
            self.done = True
            code = self._proc.wait(5.0)
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            said = f": {lines[-1][:300]}" if lines else ""
            self.error = f"the scan process ended unexpectedly (exit status {code}){said}"
            out.append(ScanBatch([], [], 0, 0, 0, True, 0.0, self.error))
        if self.done:
            self._proc.wait(5.0)
        return out

    def stop(self) -> None:
        """End the worker now if it still runs (the screen closed before the scan finished)."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(2.0)
            except Exception:
                self._proc.kill()
                self._proc.wait()
        self._conn.close()
        self._stderr.close()
        self.done = True


def _main(argv: list[str]) -> int:
    """The worker's entry point: `python -m espwatch.scanproc FD`, arguments pickled on standard input."""
    import pickle
    import sys
    from multiprocessing.connection import Connection

    conn = Connection(int(argv[0]), readable=False)
    path, patterns, rules, elf, enrich, interval = pickle.load(sys.stdin.buffer)
    _work(conn, path, patterns, rules, elf, enrich, interval)
    return 0


if __name__ == "__main__":
    import sys

    # Through the package's module, so that what is pickled names `espwatch.scanproc`, not `__main__`.
    from espwatch.scanproc import _main as main

    sys.exit(main(sys.argv[1:]))
