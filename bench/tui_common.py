"""Shared by bench_live.py and bench_replay.py: test data made from ../shared/corpus logs."""

from __future__ import annotations

import random
import re
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

_HEALTHY = [
    "a-esp32s3-https-ota-success-reboot-healthy.log", "b-esp32-idf5-wifi-sta-connect-healthy.log",
    "b-esp32-idf53-smartconfig-healthy.log", "a-esp32-idf31-factory-boot-healthy.log",
]
_IDF_LINE = re.compile(rb"^([EWI]) \((\d+)\) ([^:]+): (.*)$")


def _filler() -> list[tuple[bytes, bytes, bytes]]:
    """What a running app prints between boots: healthy info lines in which no pattern literal occurs."""
    from espwatch.patterns import load_patterns

    lits = [lit.encode() for p in load_patterns().matchers for lit in p.literals]
    out = []
    for name in _HEALTHY:
        for raw in (CORPUS / name).read_bytes().splitlines():
            m = _IDF_LINE.match(raw)
            if m and m.group(1) == b"I" and not any(lit in raw for lit in lits):
                out.append((m.group(1), m.group(3), m.group(4)))
    return out


def healthy_block(lines: int, rnd: random.Random, t: int = 1000) -> bytes:
    """`lines` ESP-IDF info lines (a third of them in the device's ANSI colour)."""
    filler = _filler()
    block = []
    for _ in range(lines):
        lvl, tag, msg = rnd.choice(filler)
        t += rnd.randint(1, 40)
        line = b"%s (%d) %s: %s" % (lvl, t, tag, msg)
        if rnd.random() < 0.33:
            line = b"\x1b[0;32m" + line + b"\x1b[0m"
        block.append(line + b"\n")
    return b"".join(block)


def corpus_logs() -> list[bytes]:
    out = []
    for p in sorted(CORPUS.glob("*.log")):
        data = p.read_bytes()
        out.append(data if data.endswith(b"\n") else data + b"\n")
    return out


def build_log(path: Path, size: int, every_lines: int = 8000, seed: int = 7) -> tuple[int, int]:
    """A log of at least `size` bytes: healthy lines with a corpus log spliced in every `every_lines`."""
    rnd = random.Random(seed)
    blocks = [healthy_block(every_lines, rnd, t=1000 + i * 10**6) for i in range(4)]
    corpus = corpus_logs()
    written = spliced = 0
    with open(path, "wb", buffering=1 << 22) as fh:
        while written < size:
            chunk = blocks[spliced % len(blocks)] + corpus[spliced % len(corpus)]
            fh.write(chunk)
            written += len(chunk)
            spliced += 1
    return written, spliced


def flood_data(size: int = 4 << 20, seed: int = 3) -> bytes:
    """About `size` bytes of device output: healthy lines with every corpus log in between."""
    rnd = random.Random(seed)
    out = []
    corpus = corpus_logs()
    total = 0
    i = 0
    while total < size:
        piece = healthy_block(2000, rnd) + corpus[i % len(corpus)]
        out.append(piece)
        total += len(piece)
        i += 1
    return b"".join(out)


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / (1024 * 1024)
