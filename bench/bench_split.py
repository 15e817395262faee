"""Experiment: does splitting ONE large log between processes pay? (issue 17, item 6)

    python bench/bench_split.py [--size-mb 1024] [--crash-mb 64] [--jobs 2] [--runs 3] [--workdir DIR]

A prototype, kept here and not in the package: on the 2-core test machine (where two CPU-bound processes
get about 1.25x the work of one done) it paid 1.2x on the sparse 1 GB log when the machine was quiet, and
lost on the crash-dense log (0.8x: the parent's serial part, boots, diagnosis and JSON, plus moving the
events between processes) and under load from other users (0.6-0.75x).

The file is cut into --jobs pieces at boot boundaries (the first line after the cut that a `starts_boot`
pattern recognises; a plain line boundary if none comes within 64 MiB). Each worker process runs the
detector over its piece, and past its end until the blocks opened before the end have closed (so a register
dump cut by the boundary comes out whole); it returns the events that start in its piece and its line
count. The parent numbers the lines through, runs boots, esp_err_t names and diagnosis over the events in
order (those need the whole log), and writes the JSON Lines. Timed beside `espwatch scan --json` and ripgrep
in the same run; the outputs must be byte-identical.
"""

from __future__ import annotations

import argparse
import filecmp
import itertools
import os
import shutil
import sys
import time
from pathlib import Path

from common import cached_log as cached
from common import compile_bytecode, espwatch_cmd, interleaved, line, literals_file, loggen, need, run_child

WINDOW = 64 << 20


def boot_cut(path: str, target: int, patterns) -> int:  # type: ignore[no-untyped-def]
    """The offset of the first line at or after `target` that starts a boot (else a line start)."""
    from espwatch.detector import apply_pattern
    from espwatch.lines import clean_text
    from espwatch.logformat import split_host_time
    from espwatch.prefilter import Prefilter

    starters = [p for p in patterns.matchers if p.starts_boot]
    lits = sorted({lit for p in starters for lit in p.literals})
    pf = Prefilter(lits)
    with open(path, "rb") as fh:
        fh.seek(target)
        buf = fh.read(WINDOW)
    first = buf.find(b"\n") + 1
    if first == 0:
        return os.path.getsize(path)
    for _, at in pf.find(buf):
        if at < first:
            continue
        ls = buf.rfind(b"\n", 0, at) + 1
        nl = buf.find(b"\n", at)
        body = split_host_time(clean_text(buf[ls: nl if nl >= 0 else len(buf)]))[1]
        if any(apply_pattern(p, body) is not None for p in starters):
            return target + ls
    return target + first


def piece(args: tuple[str, int, int]) -> tuple[list, int]:
    """In a worker: the events starting in [start, end) and the lines there."""
    from espwatch.detector import Detector
    from espwatch.patterns import load_patterns

    path, start, end = args
    det = Detector(load_patterns())
    out = []
    with open(path, "rb") as fh:
        fh.seek(start)
        pos = start
        lines_in_piece = None
        while True:
            data = fh.read(min(1 << 20, end - pos) if pos < end else 1 << 20)
            if not data:
                break
            pos += len(data)
            out.extend(det.feed(data))
            if pos >= end and lines_in_piece is None:
                lines_in_piece = det.lines_seen  # end is a line start: all lines before it are complete
                limit = lines_in_piece + 1
            if lines_in_piece is not None and not any(ob.event.line < limit for ob in det._open):
                break
        out.extend(det.close())
    if lines_in_piece is None:
        lines_in_piece = det.lines_seen
        limit = lines_in_piece + 1
    return [e for e in out if e.line < limit], lines_in_piece


def split_scan(path: str, jobs: int, out_path: Path) -> None:
    """The prototype's `scan --json`."""
    import multiprocessing

    from espwatch.enrich import Enrichment
    from espwatch.patterns import load_patterns
    from espwatch.sanitize import json_line
    from espwatch.sessions import BootTracker

    patterns = load_patterns()
    size = os.path.getsize(path)
    cuts = [0]
    for k in range(1, jobs):
        c = boot_cut(path, size * k // jobs, patterns)
        if c > cuts[-1] and c < size:
            cuts.append(c)
    cuts.append(size)
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(len(cuts) - 1) as pool:
        results = pool.map(piece, [(path, a, b) for a, b in itertools.pairwise(cuts)])
    t1 = time.perf_counter()
    enr = Enrichment(None, "", patterns)
    stages = enr.stages()
    boots = BootTracker(patterns, keep_events=False)
    base = 0
    with open(out_path, "w", encoding="utf-8") as fh:
        write = fh.write

        def emit(evs: list) -> None:
            for e in evs:
                write(json_line(e.to_json()) + "\n")

        for events, n in results:
            for ev in events:
                ev.line += base
                ev.end_line += base
                batch = boots.process(ev)
                for st in stages:
                    batch = [e2 for e in batch for e2 in st.process(e, boots.session(e.boot))]
                emit(batch)
            base += n
            boots.note_line(base)
        for i, st in enumerate(stages):
            extra = st.finish()
            for later in stages[i + 1:]:
                extra = [e2 for e in extra for e2 in later.process(e, boots.session(e.boot))]
            emit(extra)
    t2 = time.perf_counter()
    print(f"pieces {len(cuts) - 1}: workers {t1 - t0:.2f} s, parent's serial part {t2 - t1:.2f} s "
          f"({sum(len(e) for e, _ in results):,} events)", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--crash-mb", type=int, default=64)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        split_scan(args.child[0], int(args.child[1]), Path(args.child[2]))
        return 0
    rg = need("rg")
    compile_bytecode()
    work = args.workdir or Path(__import__("tempfile").mkdtemp(prefix="espwatch-bench-split-"))
    out = work / "out-split"
    out.mkdir(parents=True, exist_ok=True)
    ew = espwatch_cmd()
    ok = True
    try:
        lits = literals_file(work)
        logs = [cached(work, f"big-{args.size_mb}.log", lambda: loggen.big_log_chunks(args.size_mb << 20)),
                cached(work, f"crash-{args.crash_mb}.log",
                       lambda: loggen.crash_dense_chunks(args.crash_mb << 20))]
        for log, size in logs:
            print(f"\n--- {log.name}, {size / 1e6:.0f} MB: one file split between {args.jobs} processes "
                  f"(best of {args.runs} interleaved runs)", flush=True)
            t = time.perf_counter()
            res = interleaved({
                "rg -c -F -f": lambda log=log: run_child([rg, "-c", "-F", "-f", str(lits), str(log)],
                                                         out / "rg.txt"),
                "espwatch scan --json": lambda log=log: run_child(
                    [*ew, "scan", "--json", "--no-elf", str(log)], out / "one.jsonl"),
                f"split in {args.jobs} (prototype)": lambda log=log: run_child(
                    [sys.executable, __file__, "--child", str(log), str(args.jobs), str(out / "split.jsonl")],
                    None),
            }, args.runs)
            one = res["espwatch scan --json"]
            for name, m in res.items():
                ref = None if name.startswith("rg") else (res["rg -c -F -f"] if m is one else one)
                print(line(name, m, size, ref))
            same = filecmp.cmp(out / "one.jsonl", out / "split.jsonl", shallow=False)
            ok &= same
            print(f"byte-identical to scan --json: {'yes' if same else 'NO'}; "
                  f"({time.perf_counter() - t:.0f} s for this log)")
        return 0 if ok else 1
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
