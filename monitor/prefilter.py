"""The multi-literal prefilter of the hot path: which pattern literals occur in a buffer, and where.

Three engines give the same hits (the `re` one without overlaps); the first one installed is used:
  - `hyperscan` (the `fast` extra; wheels for Linux and macOS on x86-64): block mode over the escaped
    literals, one compiled database per literal table (kept serialised in the cache folder: compiling it
    costs more than a small scan), a scratch space per thread.
  - `ahocorasick-rs` (a dependency, wheels for every platform): a contiguous NFA first, replaced by a DFA
    once `DFA_AFTER` bytes were scanned. The DFA scans about twice as fast but takes ~15x longer to build
    (4-8 ms for the built-in patterns' literals against 0.5 ms): a small log is done before it would pay.
  - Python's `re` over one alternation of the escaped literals, the last resort: it reports one literal
    per position (`overlapping` is False), so a caller that needs every literal of a line checks them
    itself (the detector does).
Measured by bench/bench_scan.py on the 2-core test machine (CPU time over 268 MB of the benchmark log, 128
literals, in 1 MiB chunks): hyperscan 2.2 GB/s, ahocorasick-rs DFA 480 MB/s (NFA 215 MB/s), `re` 6 MB/s;
counting the line breaks of the same bytes (`bytes.count`) runs at 1.45 GB/s, with StringZilla about 8 GB/s
(espwatch.linecount). End to end, `scan --json` of 1 GB took 1.65x less time with hyperscan than with the DFA.
`ESPWATCH_PREFILTER=hyperscan|ahocorasick-rs|re` picks one (tests, benchmarks); `espwatch --version` names
the engine in use.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from espwatch.errors import UsageError

ENGINES = ("hyperscan", "ahocorasick-rs", "re")
"""In order of preference."""
ENV = "ESPWATCH_PREFILTER"
DFA_AFTER = 2 << 20
"""Bytes scanned with the ahocorasick-rs NFA before the DFA is built (where building it starts to pay)."""


def _installed(engine: str) -> bool:
    try:
        if engine == "hyperscan":
            import hyperscan  # noqa: F401
        elif engine == "ahocorasick-rs":
            import ahocorasick_rs  # noqa: F401
    except ImportError:
        return False
    return True


def available_engines() -> list[str]:
    """The engines importable here, in order of preference (`re` is always there)."""
    return [e for e in ENGINES if _installed(e)]


def default_engine() -> str:
    """The engine a Prefilter uses unless told otherwise: $ESPWATCH_PREFILTER, else the best installed."""
    wanted = os.environ.get(ENV, "").strip()
    if wanted:
        if wanted not in ENGINES:
            raise UsageError(f"{ENV}={wanted}: not an engine (choose from {', '.join(ENGINES)})")
        if not _installed(wanted):
            raise UsageError(f"{ENV}={wanted}: that engine is not installed")
        return wanted
    return next(e for e in ENGINES if _installed(e))  # the engines after it are not imported


_hs_databases: dict[tuple[bytes, ...], Any] = {}
_hs_lock = threading.Lock()
_hs_local = threading.local()


def _hs_database(literals: tuple[bytes, ...]) -> Any:
    """One compiled hyperscan block-mode database per literal table: from memory, else from the cache
    folder, else compiled (tens of ms for the built-in patterns' literals) and saved there."""
    import hyperscan

    with _hs_lock:
        db = _hs_databases.get(literals)
        if db is None:
            db = _hs_cached(literals)
        if db is None:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=[re.escape(lit) for lit in literals], ids=list(range(len(literals))),
                       elements=len(literals), flags=0)
            _hs_store(literals, db)
        _hs_databases[literals] = db
        return db


_HS_MAGIC = b"espwatch hyperscan block database 1\n"


def _hs_header(literals: tuple[bytes, ...]) -> bytes:
    """What a cached database file starts with: the magic line and the literal table it was compiled
    from, in full (a file is used only for exactly that table)."""
    import struct

    parts = [_HS_MAGIC, struct.pack("<I", len(literals))]
    for lit in literals:
        parts += [struct.pack("<I", len(lit)), lit]
    return b"".join(parts)


def _hs_file(header: bytes) -> Any:
    import zlib

    import hyperscan

    from espwatch.cachedir import cache_root

    version = getattr(hyperscan, "__version__", "")
    return cache_root() / "prefilter" / f"hs-{version}-{zlib.crc32(header):08x}-{len(header)}.db"


def _hs_cached(literals: tuple[bytes, ...]) -> Any:
    """The database saved for `literals`, or None (none saved, another table, or hyperscan refuses it:
    it checks the file's checksum and that it was made for this CPU and library)."""
    import hyperscan

    header = _hs_header(literals)
    try:
        data = _hs_file(header).read_bytes()
        if not data.startswith(header):
            return None
        return hyperscan.loadb(data[len(header):], hyperscan.HS_MODE_BLOCK)
    except Exception:  # an unreadable, stale or foreign file is compiled again, never trusted
        return None


def _hs_store(literals: tuple[bytes, ...], db: Any) -> None:
    import contextlib
    import tempfile

    import hyperscan

    from espwatch.cachedir import private_dir

    header = _hs_header(literals)
    try:
        file = _hs_file(header)
        fd, tmp = tempfile.mkstemp(dir=private_dir(file.parent), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(header + hyperscan.dumpb(db))
            os.replace(tmp, file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except Exception:  # a cache is only a speed-up
        return


def _hs_scratch(db: Any) -> Any:
    """The calling thread's scratch space for `db` (a scratch serves one scan at a time)."""
    import hyperscan

    mine = getattr(_hs_local, "scratch", None)
    if mine is None:
        mine = _hs_local.scratch = {}
    s = mine.get(id(db))
    if s is None:
        s = mine[id(db)] = hyperscan.Scratch(db)
    return s


class Prefilter:
    """Finds every occurrence of any of `literals` in a bytes-like buffer (bytes, bytearray, memoryview)."""

    def __init__(self, literals: Sequence[str], force_fallback: bool = False,
                 engine: str | None = None) -> None:
        self.literals = [lit.encode("utf-8") for lit in literals]
        self.engine = "re" if force_fallback else (engine or default_engine())
        if self.engine not in ENGINES:
            raise UsageError(f"prefilter engine {self.engine!r}: choose from {', '.join(ENGINES)}")
        self.overlapping = self.engine != "re"
        """True when every occurrence is reported, overlapping ones included."""
        self._find: Callable[[Any], list[tuple[int, int]]] = lambda buf: []
        if not self.literals:
            return
        if self.engine == "hyperscan":
            self._db = _hs_database(tuple(self.literals))
            self._lens = [len(lit) for lit in self.literals]
            self._find = self._find_hyperscan
        elif self.engine == "ahocorasick-rs":
            self._scanned = 0
            nfa = self._aho_corasick("ContiguousNFA").find_matches_as_indexes

            def find_nfa(buf: Any) -> list[tuple[int, int]]:
                self._scanned += len(buf)
                if self._scanned > DFA_AFTER:  # from the next buffer on: the DFA
                    dfa = self._aho_corasick("DFA").find_matches_as_indexes
                    self._find = lambda buf: [(i, s) for i, s, _ in dfa(buf, overlapping=True)]
                return [(i, s) for i, s, _ in nfa(buf, overlapping=True)]

            self._find = find_nfa
        else:
            # Longest first so that a literal that is a prefix of another does not hide it.
            # No groups: a group per literal makes `re` try every branch at every position (75x slower).
            index = {lit: i for i, lit in enumerate(self.literals)}
            rx = re.compile(b"|".join(re.escape(lit) for lit in sorted(self.literals, key=len, reverse=True)))
            self._find = lambda buf: [(index[m.group()], m.start()) for m in rx.finditer(buf)]

    def _aho_corasick(self, implementation: str) -> Any:
        import ahocorasick_rs

        return ahocorasick_rs.BytesAhoCorasick(
            self.literals, implementation=getattr(ahocorasick_rs.Implementation, implementation))

    def find(self, buf: Any) -> list[tuple[int, int]]:
        """(literal index, start offset) of the matches, in order of their end offset.

        Literals hold no line break, so the hits come line by line. With `overlapping` engines every
        occurrence is reported; the `re` engine reports one literal per position and no overlaps.
        """
        return self._find(buf)

    def _find_hyperscan(self, buf: Any) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        add = out.append
        lens = self._lens

        def on_match(i: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            add((i, end - lens[i]))

        self._db.scan(buf, match_event_handler=on_match, scratch=_hs_scratch(self._db))
        return out


def describe() -> str:
    """The engine in use and the others installed, for `espwatch --version`."""
    try:
        engine = default_engine()
    except UsageError as exc:
        return f"prefilter: {exc}"
    others = [e for e in available_engines() if e != engine]
    return f"prefilter engine: {engine}" + (f" (also installed: {', '.join(others)})" if others else "")
