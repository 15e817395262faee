"""Counting line breaks: where the line numbers of a scan come from.

Every byte of a log is counted once (events.md numbers lines by `\\n`), so this is the other pass over the
whole input besides the prefilter. `bytes.count(b"\\n")` runs at about 1.4 GB/s on the test machine; with
StringZilla installed (the `fast` extra: wheels for every platform) a stretch is mapped through a 256-byte
table to 1 per `\\n` and 0 otherwise, and those bytes are summed, both with SIMD: about 8 GB/s (measured by
bench/bench_scan.py, which prints both beside each other). Short stretches (the bytes between two nearby
prefilter hits) stay with `bytes.count`, whose call costs less.
`ESPWATCH_LINECOUNT=stringzilla|bytes` picks one (tests, benchmarks).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from espwatch.errors import UsageError

ENGINES = ("stringzilla", "bytes")
"""In order of preference."""
ENV = "ESPWATCH_LINECOUNT"
SMALL = 1 << 11
"""Stretches shorter than this are counted by `bytes.count`: its call costs less than the table pass (1 us,
which `bytes.count` takes for about 2 KiB)."""
PIECE = 1 << 20
"""Bytes mapped at a time (the scratch buffer's size): memory stays bounded whatever the caller feeds."""
_TABLE = bytes(1 if b == 0x0A else 0 for b in range(256))


_probed: list[Any] = []


def _stringzilla() -> Any:
    """The stringzilla module when it is installed and does what this module needs, else None (probed
    once per process)."""
    if not _probed:
        try:
            import stringzilla as sz

            probe, out = b"a\nbc\n\n" * 3, bytearray(32)
            sz.translate(probe, _TABLE, start=1, end=len(probe), out=out)
            if sz.bytesum(memoryview(out)[: len(probe) - 1]) != probe.count(b"\n", 1):
                sz = None
        except Exception:  # not installed, or a release before 5.3.1 (no `out=`): bytes.count does it
            sz = None
        _probed.append(sz)
    return _probed[0]


def available_engines() -> list[str]:
    """The engines usable here, in order of preference (`bytes` is always there)."""
    return [e for e in ENGINES if e != "stringzilla" or _stringzilla() is not None]


def _checked(wanted: str, where: str) -> str:
    if wanted not in ENGINES:
        raise UsageError(f"{where}: not an engine (choose from {', '.join(ENGINES)})")
    if wanted == "stringzilla" and _stringzilla() is None:
        raise UsageError(f"{where}: that engine is not installed (the `fast` extra)")
    return wanted


def default_engine() -> str:
    """$ESPWATCH_LINECOUNT, else the best usable engine (this imports StringZilla when it is there)."""
    wanted = os.environ.get(ENV, "").strip()
    if wanted:
        return _checked(wanted, f"{ENV}={wanted}")
    return "stringzilla" if _stringzilla() is not None else "bytes"


class NewlineCounter:
    """`counter(buf, start, stop)` is `buf.count(b"\\n", start, stop)` (of bytes or a bytearray), faster on
    long stretches.

    One per thread (it owns a scratch buffer). An engine named here or in $ESPWATCH_LINECOUNT is checked at
    once; else the best one is chosen at the first long stretch, so a small scan imports nothing."""

    def __init__(self, engine: str | None = None) -> None:
        if engine is not None:
            _checked(engine, f"line count engine {engine!r}")
        elif os.environ.get(ENV, "").strip():
            engine = default_engine()
        self._engine = engine
        self._long: Callable[[Any, int, int], int] | None = None
        self._out = bytearray()

    def fork(self) -> NewlineCounter:
        """A counter with the same engine and its own scratch buffer (for another thread)."""
        return NewlineCounter(self._engine)

    @property
    def engine(self) -> str:
        if self._engine is None:
            self._engine = default_engine()
        return self._engine

    def __call__(self, buf: Any, start: int, stop: int) -> int:
        if stop - start < SMALL:
            return buf.count(b"\n", start, stop)
        long = self._long
        if long is None:
            long = self._long = self._table_count if self.engine == "stringzilla" else _bytes_count
        return long(buf, start, stop)

    def _table_count(self, buf: Any, start: int, stop: int) -> int:
        import stringzilla as sz

        translate, bytesum = sz.translate, sz.bytesum
        out = self._out
        if not out:
            out = self._out = bytearray(PIECE)
        view = memoryview(out)
        total = 0
        while start < stop:
            n = min(PIECE, stop - start)
            translate(buf, _TABLE, start=start, end=start + n, out=out)
            total += bytesum(view[:n])
            start += n
        return total


def _bytes_count(buf: Any, start: int, stop: int) -> int:
    return buf.count(b"\n", start, stop)
