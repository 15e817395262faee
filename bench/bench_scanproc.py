"""Benchmark: the replay's background scan without a screen (the core piece of issue 17, item 4).

    python bench/bench_scanproc.py [--size-mb 1024] [--runs 3] [--workdir DIR]

In each of --runs rounds, on the same page-cached log (tests/loggen.py), interleaved:
  scan --json         `espwatch scan --json --no-elf LOG` (the installed command, output to a file)
  worker process      a fresh process set up as `espwatch replay` sets up its scan: patterns and rules
                      loaded, `ScanProcess` started, the follower thread indexing the file and posting the
                      worker's batches, while the main thread runs an asyncio loop that stands in for the
                      screen: every 20 ms it wakes up (its lateness is the "key latency") and works for
                      --render-ms (Python holding the interpreter lock, as a screen's rendering does), and
                      about four times a second it reads a screenful (40 lines) at a random place
  thread              the same with the pipeline in the follower thread (before this change)
Prints, for the best round: time until the last batch (timeline complete) from process start and its ratio
to scan --json, the loop's lateness (median, 99th percentile, max) and the screenful reads, CPU per process.
Targets: timeline complete <= 1.3x scan --json; keys answered within 50 ms.
"""

from __future__ import annotations

import time

T_PROCESS = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


def child(path: str, mode: str, render_ms: float) -> dict:
    import asyncio
    import random
    import resource
    import threading

    from espwatch.diagnosis import load_rules
    from espwatch.enrich import Enrichment
    from espwatch.patterns import load_patterns
    from espwatch.pipeline import Pipeline
    from espwatch.tui.document import Follower, LineIndex

    patterns, rules = load_patterns(), load_rules()
    enr = Enrichment.choose(None, True, patterns, rules, background=True)
    proc = None
    if mode == "process":
        from espwatch.scanproc import ScanProcess

        proc = ScanProcess(path, patterns, rules, enr.elf)
    index = LineIndex(path)
    stages = [] if proc is not None else enr.stages()
    state = {"events": 0, "boots": set(), "done_at": None, "batches": 0}

    def on_batch(b) -> None:  # type: ignore[no-untyped-def]
        state["events"] += len(b.events)
        state["boots"].update(s.number for s in b.sessions)
        state["batches"] += 1
        if b.done:
            state["done_at"] = time.perf_counter()

    follower = Follower(index, Pipeline(patterns, stages, keep_events=True), on_batch)
    if proc is not None:
        follower.scan_process = lambda: proc
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    lateness: list[float] = []
    reads: list[float] = []

    async def screen() -> None:
        rnd = random.Random(1)
        tick = 0
        while state["done_at"] is None:
            t = time.perf_counter()
            await asyncio.sleep(0.02)
            lateness.append(time.perf_counter() - t - 0.02)
            tick += 1
            spin = time.perf_counter() + render_ms / 1000  # the screen's own work (Python, holds the GIL)
            while time.perf_counter() < spin:
                pass
            n = index.line_count
            if n > 40 and tick % 12 == 0:  # a PageDown somewhere about four times a second
                t = time.perf_counter()
                first = rnd.randint(1, n - 40)
                for k in range(first, first + 40):
                    index.line(k)
                reads.append(time.perf_counter() - t)

    asyncio.run(screen())
    thread.join()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    lat = sorted(lateness)
    return {"done_s": state["done_at"] - T_PROCESS, "events": state["events"], "boots": len(state["boots"]),
            "lines": index.line_count, "batches": state["batches"],
            "late_ms": [1000 * statistics.median(lat), 1000 * lat[int(len(lat) * 0.99)], 1000 * lat[-1]],
            "read_ms": [1000 * statistics.median(reads), 1000 * max(reads)] if reads else [0, 0],
            "cpu_main": me.ru_utime + me.ru_stime, "cpu_worker": kids.ru_utime + kids.ru_stime,
            "rss_mb": me.ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--render-ms", type=float, default=4.0,
                    help="Python work of the stand-in screen per 20 ms tick (default 4: a fifth of a core, "
                         "about what the Textual screen spends during a replay, bench_replay.py)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(*args.child, args.render_ms)))
        return 0
    from common import cached_log, compile_bytecode, espwatch_cmd, loggen, run_child

    compile_bytecode()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="espwatch-bench-scanproc-"))
    try:
        log, size = cached_log(work, f"big-{args.size_mb}.log",
                               lambda: loggen.big_log_chunks(args.size_mb << 20))
        scans, res = [], {"process": [], "thread": []}
        for _ in range(args.runs):
            scans.append(run_child([*espwatch_cmd(), "scan", "--json", "--no-elf", str(log)],
                                   work / "s.jsonl"))
            for mode in res:
                p = subprocess.run([sys.executable, __file__, "--child", str(log), mode,
                                    "--render-ms", str(args.render_ms)], capture_output=True, text=True)
                line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if p.returncode or line is None:
                    print(p.stderr[-3000:], file=sys.stderr)
                    return 1
                res[mode].append(json.loads(line[7:]))
        scan = min(scans, key=lambda r: r.wall)
        with open(work / "s.jsonl", "rb") as fh:
            n = sum(1 for _ in fh)
        print(f"log {size / 1e6:.0f} MB; best of {args.runs} interleaved rounds; the stand-in screen works "
              f"{args.render_ms:g} ms per 20 ms tick")
        print(f"scan --json:      {scan.wall:6.1f} s  cpu {scan.cpu:5.1f} s  {n:,} events")
        ok = True
        for mode, rs in res.items():
            r = min(rs, key=lambda r: r["done_s"])
            late, read = r["late_ms"], r["read_ms"]
            print(f"{mode + ':':<17} {r['done_s']:6.1f} s  {r['done_s'] / scan.wall:4.2f}x scan --json "
                  f"[target <= 1.3x]; loop late median {late[0]:.0f} ms, p99 {late[1]:.0f} ms, max "
                  f"{late[2]:.0f} ms [target <= 50 ms]; screenful read median {read[0]:.1f} ms, max "
                  f"{read[1]:.0f} ms; cpu {r['cpu_main']:.1f} s here + {r['cpu_worker']:.1f} s worker; "
                  f"{r['events']:,} events, {r['boots']:,} boots, {r['lines']:,} lines")
            ok &= r["events"] == n
        return 0 if ok else 1
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
