"""A simulated ESP32 on a pseudo-terminal: writes real logs at a chosen rate, unplugs and replugs, sends garbage.

The device's port is a symlink (`link`) to the slave side of a pty, so that a replug (a new pty) comes back
on the same path, like a board that re-enumerates on reset through USB-Serial-JTAG, or on another path
(`plug(link=...)`), like one that re-enumerates as /dev/ttyACM1. `plug(banner=...)` makes the board speak
the instant its port reappears, before anyone opened it (USB-Serial-JTAG and native USB chips do): the
bytes wait in the pty's input queue, where an open that flushes that queue would lose them. Every byte the
simulator managed to write is kept in `written` for byte-exact comparisons. Usable from tests and from
`bench/bench_live.py`. POSIX only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import select
import time
from pathlib import Path


class DevSim:
    def __init__(self, link: str | os.PathLike[str], keep: bool = True, banner: bytes = b"") -> None:
        self.link = Path(link)
        self.keep = keep
        self.written = bytearray()
        self.sha = hashlib.sha256()  # of every byte written, also when `keep` is False
        self.total = 0
        self.master = -1
        self.slave = -1
        self.plugs = 0
        self.plug(banner=banner)

    # -- the port ----------------------------------------------------------------------------------
    def plug(self, banner: bytes = b"", link: str | os.PathLike[str] | None = None) -> None:
        """Create a new pty and point `link` (or a new `link`) at its slave; then write `banner` at once."""
        import tty  # POSIX only: imported here so that test modules still import (and skip) on Windows

        if link is not None:
            self.link = Path(link)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no CR/LF translation: bytes arrive as written
        os.set_blocking(self.master, False)
        tmp = self.link.with_name(self.link.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(self.slave))
        os.replace(tmp, self.link)
        self.plugs += 1
        if banner:
            self._say_now(banner)

    def _say_now(self, data: bytes) -> None:
        """Write `data` into the port's input queue while nobody has the port open (fits the pty buffer)."""
        sent = 0
        while sent < len(data):
            try:
                n = os.write(self.master, data[sent:])
            except BlockingIOError as exc:
                raise RuntimeError(f"banner of {len(data)} bytes does not fit the pty's input queue") from exc
            if self.keep:
                self.written += data[sent : sent + n]
            self.sha.update(data[sent : sent + n])
            self.total += n
            sent += n

    def unplug(self) -> None:
        """The USB device goes away: the pty closes and the path disappears."""
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        for fd in (self.master, self.slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = -1

    def replug(self, banner: bytes = b"", link: str | os.PathLike[str] | None = None) -> None:
        self.unplug()
        self.plug(banner=banner, link=link)

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> DevSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------------
    def write(self, data: bytes, rate: float | None = None, chunk: int = 4096, timeout: float = 30.0) -> int:
        """Write `data` (at about `rate` bytes/s, or as fast as the reader takes it). Returns bytes written."""
        view = memoryview(data)
        start = time.perf_counter()
        deadline = start + timeout
        sent = 0
        while sent < len(view):
            if rate:
                due = start + sent / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(min(delay, 0.05))
                    continue
            _, ready, _ = select.select([], [self.master], [], 0.05)
            if not ready:
                if time.perf_counter() > deadline:
                    break
                continue
            try:
                n = os.write(self.master, view[sent : sent + chunk])
            except BlockingIOError:
                continue
            if self.keep:
                self.written += view[sent : sent + n]
            self.sha.update(view[sent : sent + n])
            self.total += n
            sent += n
        return sent

    def received(self, want: int, timeout: float = 10.0) -> bytes:
        """What the host sent to the device (its keystrokes): at least `want` bytes, or all until `timeout`."""
        out = bytearray()
        deadline = time.perf_counter() + timeout
        while len(out) < want and time.perf_counter() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    out += os.read(self.master, 4096)
                except (BlockingIOError, OSError):
                    continue
        return bytes(out)

    def flood(self, source: bytes, seconds: float, chunk: int = 65536) -> int:
        """Write `source` over and over as fast as the reader takes it, for `seconds`. Returns bytes."""
        end = time.perf_counter() + seconds
        view = memoryview(source)
        pos = 0
        sent = 0
        while time.perf_counter() < end:
            _, ready, _ = select.select([], [self.master], [], 0.05)
            if not ready:
                continue
            piece = view[pos : pos + chunk]
            try:
                n = os.write(self.master, piece)
            except BlockingIOError:
                continue
            if self.keep:
                self.written += piece[:n]
            self.sha.update(piece[:n])
            self.total += n
            sent += n
            pos = (pos + n) % len(view)
        return sent


def garbage(seed: int = 5, big_line: int = 10 * 1024 * 1024) -> bytes:
    """Random bytes, invalid UTF-8, NULs, bare CRs, ANSI fragments and one `big_line`-byte line."""
    rnd = random.Random(seed)
    parts = [
        bytes(rnd.randrange(256) for _ in range(4096)),
        b"\xff\xfe\xc3\x28 invalid utf-8 \xe2\x82 here\n",
        b"\x00" * 100 + b"NULs before\n",
        b"bare\rcarriage\rreturns\r\n",
        b"\x1b[0;31mE (123) tag: red line\x1b[0m\n\x1b[",
        b"\n" + b"A" * big_line + b"\n",
        b"\r\n\r\n",
    ]
    return b"".join(parts)


def main() -> None:
    """`python tests/devsim.py LINK LOG [--rate B/s] [--loop]`: serve a log on a pty at LINK."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("link")
    ap.add_argument("log")
    ap.add_argument("--rate", type=float, default=11520.0, help="bytes per second (115200 baud ~ 11520)")
    ap.add_argument("--loop", action="store_true")
    args = ap.parse_args()
    data = Path(args.log).read_bytes()
    sim = DevSim(args.link, keep=False)
    print(f"serving {args.log} on {args.link} -> {os.ttyname(sim.slave)}")
    try:
        while True:
            sim.write(data, rate=args.rate, timeout=3600)
            if not args.loop:
                break
    except KeyboardInterrupt:
        pass
    finally:
        sim.close()


if __name__ == "__main__":
    main()
