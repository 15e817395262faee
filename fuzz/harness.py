"""The fuzzing harness: what a target is, a small mutation engine that needs nothing installed, and the
kept crashers.

A target is a function of bytes that raises on a fault: an exception the parser must never raise, or an
invariant that does not hold (AssertionError). Errors the parser is allowed to raise for bad input (its
one-line error classes) are caught inside the target. The engine here mutates the target's seeds
(bit flips, byte changes, insertions of dictionary tokens, deletions, duplications, splices, long
repeats) without coverage feedback; with atheris installed, `fuzz/run.py --engine atheris` runs the same
targets under libFuzzer with coverage. Every input that made a target fail is kept in
`fuzz/crashers/TARGET/` and replayed by tests/test_fuzz.py.

This module imports nothing from espwatch (so atheris can instrument espwatch when the targets load it).
"""

from __future__ import annotations

import hashlib
import random
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CRASHERS = Path(__file__).resolve().parent / "crashers"
SLOW_SECONDS = 10.0
"""An input that keeps a target busy this long is a finding too (a hang or a quadratic path)."""


@dataclass(frozen=True)
class Target:
    """One fuzz target: `run(data)` raises on a fault; `seeds()` gives valid-looking starting inputs."""

    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    about: str
    max_len: int = 1 << 16
    tokens: tuple[bytes, ...] = ()


@dataclass
class Finding:
    data: bytes
    error: str  # the last line of the traceback
    where: str  # the innermost frame in espwatch or the target
    path: Path | None = None


@dataclass
class FuzzStats:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)


class SlowInput(Exception):
    """Raised in the target when one input takes longer than SLOW_SECONDS."""


_INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff",
                b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\x01\x00\x00\x00", b"\xe9", b"\xaa\x50",
                b"\n", b"\r\n", b"\r", b"\t", b"\x1b", b"\x1b[", b"\x1b]", b"\x07", b"\xc2\x9b", b"\xc2\x9d",
                b"\xc2\x85", b"\xe2\x80\xae", b"\xf0\x9f\x92\xa5", b"\xc3", b"\xed\xa0\x80"]


class Mutator:
    """Deterministic (given `seed`) mutations of a set of seeds."""

    def __init__(self, seeds: list[bytes], tokens: tuple[bytes, ...], max_len: int, seed: int) -> None:
        self.seeds = [s[:max_len] for s in seeds] or [b""]
        self.tokens = list(tokens) + _INTERESTING
        self.max_len = max_len
        self.rnd = random.Random(seed)

    def next(self) -> bytes:
        r = self.rnd
        data = bytearray(r.choice(self.seeds))
        for _ in range(r.choice((1, 1, 2, 3, 4, 8))):
            self._mutate(data)
        return bytes(data[: self.max_len])

    def _mutate(self, data: bytearray) -> None:
        r = self.rnd
        n = len(data)
        op = r.randrange(10)
        pos = r.randrange(n + 1)
        if op == 0 and n:  # flip a bit
            i = r.randrange(n)
            data[i] ^= 1 << r.randrange(8)
        elif op == 1 and n:  # set a byte
            data[r.randrange(n)] = r.randrange(256)
        elif op == 2:  # insert random bytes
            data[pos:pos] = r.randbytes(r.randint(1, 16))
        elif op == 3:  # insert a token
            data[pos:pos] = r.choice(self.tokens)
        elif op == 4 and n:  # overwrite with a token
            tok = r.choice(self.tokens)
            data[pos:pos + len(tok)] = tok
        elif op == 5 and n:  # delete a range
            data[pos:pos + r.randint(1, max(1, n // 8))] = b""
        elif op == 6 and n:  # duplicate a range
            a = r.randrange(n)
            piece = data[a:a + r.randint(1, 64)]
            data[pos:pos] = piece * r.randint(1, 4)
        elif op == 7:  # splice with another seed
            other = r.choice(self.seeds)
            if other:
                a = r.randrange(len(other))
                data[pos:] = other[a:a + r.randint(1, len(other))]
        elif op == 8 and n:  # truncate
            del data[r.randrange(n):]
        elif op == 9:  # a long repeat (long lines, long fields, many runs)
            piece = r.choice(self.tokens) if r.random() < 0.5 or not n else data[pos:pos + 8] or b"A"
            data[pos:pos] = piece * r.randint(8, max(8, self.max_len // max(1, len(piece)) // 4))


def _where(tb: traceback.StackSummary) -> str:
    ours = ("/espwatch/", "/monitor/", "/fuzz/")
    frames = [f for f in tb if any(part in f.filename for part in ours)]
    f = (frames or list(tb))[-1]
    return f"{Path(f.filename).name}:{f.lineno} {f.name}"


def run_one(target: Target, data: bytes, timeout: float | None = SLOW_SECONDS) -> Finding | None:
    """Run the target on one input; a Finding when it failed (or took longer than `timeout`)."""
    use_alarm = timeout is not None and hasattr(signal, "setitimer")
    if use_alarm:
        def _alarm(signum, frame):
            raise SlowInput(f"one input took more than {timeout:.0f} s")

        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        target.run(data)
        return None
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        return Finding(data, f"{type(exc).__name__}: {str(exc)[:300]}", _where(tb))
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def save_crasher(target: Target, data: bytes) -> Path:
    folder = CRASHERS / target.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / hashlib.sha1(data).hexdigest()[:16]
    path.write_bytes(data)
    return path


def fuzz(target: Target, *, runs: int | None = None, seconds: float | None = None, seed: int = 0,
         keep: bool = True, max_findings: int = 20, timeout: float | None = SLOW_SECONDS) -> FuzzStats:
    """Mutate the target's seeds until `runs` inputs or `seconds` have gone by; findings are deduplicated
    by the place they fail at, and kept as crashers when `keep`."""
    stats = FuzzStats(target.name)
    mut = Mutator(target.seeds(), target.tokens, target.max_len, seed)
    seen: set[tuple[str, str]] = set()
    start = time.monotonic()
    queue = list(mut.seeds)  # the seeds themselves first
    while True:
        if runs is not None and stats.inputs >= runs:
            break
        if seconds is not None and time.monotonic() - start >= seconds:
            break
        data = queue.pop() if queue else mut.next()
        stats.inputs += 1
        found = run_one(target, data, timeout)
        if found is None:
            continue
        key = (found.where, found.error.split(":", 1)[0])
        if key in seen:
            continue
        seen.add(key)
        if keep:
            found.path = save_crasher(target, data)
        stats.findings.append(found)
        if len(stats.findings) >= max_findings:
            break
    stats.seconds = time.monotonic() - start
    return stats


def crashers(name: str) -> list[Path]:
    """The kept inputs of a target (regression cases)."""
    folder = CRASHERS / name
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
