"""Generated logs made of real corpus lines, for engine-equivalence tests and the benchmarks in bench/.

- `filler_lines()`: what a running app prints between boots (info lines of the healthy corpus logs in which
  no pattern literal occurs).
- `big_log(...)`: filler with every corpus log spliced in at regular intervals (the scan benchmark's log).
- `crash_dense(...)`: every `every`-th line a crash line (a panic's first line or a backtrace, as found by
  the detector in the corpus), filler between: the worst case for the per-event cost.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
HEALTHY = [
    "a-esp32s3-https-ota-success-reboot-healthy.log", "b-esp32-idf5-wifi-sta-connect-healthy.log",
    "b-esp32-idf53-smartconfig-healthy.log", "a-esp32-idf31-factory-boot-healthy.log",
]
_IDF_LINE = re.compile(rb"^([EWI]) \((\d+)\) ([^:]+): (.*)$")


def _literals() -> list[bytes]:
    from espwatch.patterns import load_patterns

    return [lit.encode() for p in load_patterns().matchers for lit in p.literals]


def filler_lines() -> list[tuple[bytes, bytes]]:
    """(tag, message) of healthy ESP-IDF info lines in which no pattern literal occurs."""
    lits = _literals()
    out = []
    for name in HEALTHY:
        for raw in (CORPUS / name).read_bytes().splitlines():
            m = _IDF_LINE.match(raw)
            if m and m.group(1) == b"I" and not any(lit in raw for lit in lits):
                out.append((m.group(3), m.group(4)))
    return out


def corpus_logs() -> list[bytes]:
    """Every corpus log, each ending with a line break."""
    out = []
    for p in sorted(CORPUS.glob("*.log")):
        data = p.read_bytes()
        out.append(data if data.endswith(b"\n") else data + b"\n")
    return out


def crash_lines(kinds: tuple[str, ...] = ("panic", "backtrace")) -> list[bytes]:
    """The first line of every event of `kinds` in the corpus, as bytes."""
    from espwatch.detector import Detector
    from espwatch.patterns import load_patterns

    ps = load_patterns()
    out = []
    for p in sorted(CORPUS.glob("*.log")):
        data = p.read_bytes()
        lines = data.split(b"\n")
        det = Detector(ps)
        for ev in det.feed(data) + det.close():
            if ev.kind in kinds:
                out.append(lines[ev.line - 1].rstrip(b"\r"))
    return out


def _filler(rnd: random.Random, filler: list[tuple[bytes, bytes]], n: int, t: int) -> tuple[list[bytes], int]:
    block = []
    for _ in range(n):
        tag, msg = rnd.choice(filler)
        t += rnd.randint(1, 40)
        block.append(b"I (%d) %s: %s\n" % (t, tag, msg))
    return block, t


def big_log_chunks(size: int, seed: int = 7, filler_per_log: int = 4000) -> Iterator[bytes]:
    """Pieces of a log of at least `size` bytes: filler with a corpus log after every `filler_per_log`."""
    rnd = random.Random(seed)
    filler = filler_lines()
    corpus = corpus_logs()
    written = spliced = 0
    t = 1000
    while written < size:
        block, t = _filler(rnd, filler, filler_per_log, t)
        chunk = b"".join(block) + corpus[spliced % len(corpus)]
        spliced += 1
        written += len(chunk)
        yield chunk


def crash_dense_chunks(size: int, every: int = 10, seed: int = 11) -> Iterator[bytes]:
    """Pieces of a log of at least `size` bytes where every `every`-th line is a crash line."""
    rnd = random.Random(seed)
    filler = filler_lines()
    crashes = crash_lines()
    written = 0
    t = 1000
    while written < size:
        out = []
        for _ in range(1000):
            block, t = _filler(rnd, filler, every - 1, t)
            out.extend(block)
            out.append(rnd.choice(crashes) + b"\n")
        chunk = b"".join(out)
        written += len(chunk)
        yield chunk


def write(path: Path, chunks: Iterator[bytes]) -> int:
    """Write the pieces to `path`; the bytes written."""
    n = 0
    with open(path, "wb", buffering=1 << 22) as fh:
        for c in chunks:
            fh.write(c)
            n += len(c)
    return n
