"""Benchmark: `espwatch scan --json` throughput and peak RSS on a large log, against `grep -c -F -f`.

    python bench/bench_scan.py [--size-mb 512] [--keep FILE] [--runs 2]

Builds a log of at least --size-mb MB from healthy ESP-IDF lines of ../shared/corpus with every corpus log
spliced in at regular intervals, then times, in the same run and on the same (page-cached) file:
  - `grep -c -F -f LITERALS FILE` with the pattern literals espwatch's prefilter uses,
  - `espwatch scan --json FILE > /dev/null` (a fresh process, as users run it),
and prints MB/s, the ratio to grep, and the peak RSS of the espwatch process (ru_maxrss of the child).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus"
sys.path.insert(0, str(ROOT))

from espwatch.patterns import load_patterns  # noqa: E402

_HEALTHY = [
    "a-esp32s3-https-ota-success-reboot-healthy.log", "b-esp32-idf5-wifi-sta-connect-healthy.log",
    "b-esp32-idf53-smartconfig-healthy.log", "a-esp32-idf31-factory-boot-healthy.log",
]
_IDF_LINE = re.compile(rb"^([EWI]) \((\d+)\) ([^:]+): (.*)$")


def build_log(path: Path, size: int, literals: list[str], seed: int = 7) -> tuple[int, int]:
    """Write the benchmark log; return (bytes, corpus logs spliced in).

    The filler is what a running app prints between boots: the info lines of the healthy corpus logs
    that no pattern literal occurs in (start-up lines come with the spliced corpus logs).
    """
    rnd = random.Random(seed)
    lits = [lit.encode() for lit in literals]
    filler = []
    for name in _HEALTHY:
        for raw in (CORPUS / name).read_bytes().splitlines():
            m = _IDF_LINE.match(raw)
            if m and m.group(1) == b"I" and not any(lit in raw for lit in lits):
                filler.append((m.group(1), m.group(3), m.group(4)))
    corpus = [p.read_bytes() for p in sorted(CORPUS.glob("*.log"))]
    written = spliced = 0
    t = 1000
    with open(path, "wb", buffering=1 << 22) as fh:
        while written < size:
            block = []
            for _ in range(4000):
                lvl, tag, msg = rnd.choice(filler)
                t += rnd.randint(1, 40)
                block.append(b"%s (%d) %s: %s\n" % (lvl, t, tag, msg))
            chunk = b"".join(block) + corpus[spliced % len(corpus)]
            if not chunk.endswith(b"\n"):
                chunk += b"\n"
            spliced += 1
            fh.write(chunk)
            written += len(chunk)
    return written, spliced


def timed(cmd: list[str], stdout=subprocess.DEVNULL) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall time and the child's peak RSS (KiB) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return dt, max(after, before), proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=512)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="write the log here and keep it")
    args = ap.parse_args()
    if shutil.which("grep") is None:
        print("grep not found", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="espwatch-bench-"))
    log = args.keep or tmp / "big.log"
    lits = tmp / "literals.txt"
    try:
        ps = load_patterns()
        literals = sorted({lit for p in ps.matchers for lit in p.literals})
        t0 = time.perf_counter()
        size, spliced = build_log(log, args.size_mb * 1024 * 1024, literals)
        print(f"log: {log} {size / 1e6:.0f} MB, {spliced} corpus logs spliced in "
              f"({time.perf_counter() - t0:.1f} s to build)")
        lits.write_text("\n".join(literals) + "\n", encoding="utf-8")
        print(f"literals: {len(literals)} (from {len(ps.matchers)} patterns)")
        subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

        grep_times, ew_times = [], []
        for _ in range(args.runs):
            dt, _, proc = timed(["grep", "-c", "-F", "-f", str(lits), str(log)], stdout=subprocess.PIPE)
            grep_times.append(dt)
            grep_hits = proc.stdout.decode().strip()
            # RSS of espwatch alone: measured in a fresh child that runs only espwatch
            cmd = [sys.executable, "-c",
                   "import resource,subprocess,sys;"
                   "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);sys.exit(p.returncode)",
                   sys.executable, "-m", "espwatch", "scan", "--json", str(log)]
            t1 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True)
            ew_times.append(time.perf_counter() - t1)
            rss_kib = int(proc.stdout.decode().strip().splitlines()[-1])
            if proc.returncode not in (0, 1):
                print(proc.stderr.decode(), file=sys.stderr)
                return 2
        events = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--json", str(log)],
                                capture_output=True).stdout.count(b"\n")
        g, e = min(grep_times), min(ew_times)
        print(f"grep -c -F -f: {g:6.2f} s  {size / g / 1e6:7.1f} MB/s  ({grep_hits} matching lines)")
        print(f"espwatch scan --json: {e:6.2f} s  {size / e / 1e6:7.1f} MB/s  ({events} events)")
        print(f"ratio espwatch/grep throughput: {g / e:.2f}x (target >= 0.5x)")
        print(f"espwatch peak RSS: {rss_kib / 1024:.1f} MiB (target < 100 MiB)")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            os.sync()
    return 0


if __name__ == "__main__":
    sys.exit(main())
