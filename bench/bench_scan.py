"""Benchmark: `scan` and `report` beside ripgrep and GNU grep, all measured in the same run.

    python bench/bench_scan.py [--size-mb 1024] [--report-mb 200] [--crash-mb 64] [--files 8] [--runs 3]
                               [--workdir DIR] [--quick]

Logs (tests/loggen.py, cached in --workdir): a large log of healthy ESP-IDF lines with every corpus log
spliced in every 4000 lines; a crash-dense log (every 10th line a panic or a backtrace from the corpus).
Every figure is the best of --runs rounds in which each command runs once, in the same order, against the
same page-cached file; output goes to a file (GNU grep stops at the first match when it writes to
/dev/null). CPU is the child's own user+system time (wait4), RSS its peak resident set.

  0. each prefilter engine alone (in this process) over the large log, and the line counts (bytes.count,
     StringZilla when installed: espwatch.linecount) for scale.
  1. scan --json on the large log, with each prefilter engine, vs `rg -c -F -f` and `grep -c -F -f` with the
     same literals; the JSON of every engine must be byte-identical.  Targets: >= 1.0x ripgrep, RSS < 100 MB.
  2. text scan and report on --report-mb.  Target: report <= 1.3x scan.
  3. events/s on the crash-dense log.  Target: >= 60k events/s.
  4. scan --json of --files logs with -j 1, -j 2 and -j <CPUs>, vs ripgrep over the same files.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

from common import cached_log as cached
from common import (
    compile_bytecode,
    espwatch_cmd,
    interleaved,
    line,
    literals_file,
    loggen,
    need,
    run_child,
)


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def engine_speeds(path: Path, size: int, lits: Path, runs: int) -> list[tuple[str, float]]:
    """MB/s (of CPU time) of each prefilter engine over `size` bytes of `path`, and of counting lines."""
    import time

    import ahocorasick_rs

    from espwatch.prefilter import Prefilter, available_engines

    literals = lits.read_text(encoding="utf-8").splitlines()
    with open(path, "rb") as fh:
        chunks = [fh.read(1 << 20) for _ in range(size >> 20)]
    finders = {f"{e}": Prefilter(literals, engine=e).find for e in available_engines()}
    nfa = ahocorasick_rs.BytesAhoCorasick([lit.encode() for lit in literals])
    finders["ahocorasick-rs NFA (before: its default)"] = \
        lambda b: nfa.find_matches_as_indexes(b, overlapping=True)
    finders["bytes.count(b'\\n') (line numbers)"] = lambda b: b.count(b"\n")
    from espwatch.linecount import NewlineCounter
    from espwatch.linecount import available_engines as counters

    if "stringzilla" in counters():
        counter = NewlineCounter("stringzilla")
        finders["StringZilla line count (espwatch.linecount)"] = lambda b: counter(b, 0, len(b))
    out = []
    for name, find in finders.items():
        part = chunks if name != "re" else chunks[:16]  # `re` is about 50x slower: 16 MB tell
        best = float("inf")
        for _ in range(runs if name != "re" else 1):
            t = time.process_time()
            for c in part:
                find(c)
            best = min(best, time.process_time() - t)
        out.append((name, sum(map(len, part)) / best / 1e6))
    return out


def section(title: str) -> None:
    print(f"\n--- {title}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--report-mb", type=int, default=200)
    ap.add_argument("--crash-mb", type=int, default=64)
    ap.add_argument("--files", type=int, default=8, help="logs for the -j section (each --report-mb / 4)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", type=Path, help="keep the generated logs here and reuse them")
    ap.add_argument("--quick", action="store_true", help="256 MB, 64 MB, 16 MB, 2 runs")
    ap.add_argument("--with-re", action="store_true", help="also time the `re` engine on the large log")
    args = ap.parse_args()
    if args.quick:
        args.size_mb, args.report_mb, args.crash_mb, args.runs = 256, 64, 16, 2
    rg, grep = need("rg"), need("grep")
    compile_bytecode()
    from espwatch.prefilter import available_engines

    work = args.workdir or Path(__import__("tempfile").mkdtemp(prefix="espwatch-bench-"))
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)
    ew = espwatch_cmd()
    try:
        lits = literals_file(work)
        n_lits = len(lits.read_text().splitlines())
        big, size = cached(work, f"big-{args.size_mb}.log", lambda: loggen.big_log_chunks(args.size_mb << 20))
        print(f"large log {size / 1e6:.0f} MB, {n_lits} literals; engines installed: "
              f"{', '.join(available_engines())}; best of {args.runs} interleaved runs")

        # 0. the prefilter engines alone --------------------------------------------------------------
        head = min(size, 256 << 20)
        section(f"prefilter engines alone, in this process, over the first {head / 1e6:.0f} MB, 1 MiB chunks "
                f"(throughput of CPU time, best of {args.runs})")
        for name, mbs in engine_speeds(big, head, lits, args.runs):
            print(f"{name:<38} {mbs:7.0f} MB/s")

        # 1. scan --json vs ripgrep and grep ------------------------------------------------------------
        section(f"scan --json on {size / 1e6:.0f} MB")
        engines = [e for e in available_engines() if e != "re" or args.with_re]
        jobs = {
            "rg -c -F -f": lambda: run_child([rg, "-c", "-F", "-f", str(lits), str(big)], out / "rg.txt"),
            "grep -c -F -f": lambda: run_child([grep, "-c", "-F", "-f", str(lits), str(big)],
                                               out / "grep.txt"),
        }
        for e in engines:
            jobs[f"espwatch scan --json [{e}]"] = (
                lambda e=e: run_child([*ew, "scan", "--json", str(big)], out / f"scan-{e}.jsonl",
                                      env={"ESPWATCH_PREFILTER": e}))
        res = interleaved(jobs, args.runs)
        rgm = res["rg -c -F -f"]
        for name, m in res.items():
            print(line(name, m, size, None if name.startswith("rg") else rgm))
        outs = [out / f"scan-{e}.jsonl" for e in engines]
        same = all(filecmp.cmp(outs[0], o, shallow=False) for o in outs[1:])
        n_ev = count_lines(outs[0])
        best = res[f"espwatch scan --json [{engines[0]}]"]
        print(f"events: {n_ev:,}; JSON byte-identical across engines: {'yes' if same else 'NO'}; "
              f"matching lines (rg): {(out / 'rg.txt').read_text().strip()}")
        print(f"target >= 1.0x ripgrep: {rgm.best.wall / best.best.wall:.2f}x; "
              f"RSS {best.rss:.0f} MB (target < 100 MB)")

        # 2. text scan and report -------------------------------------------------------------------------
        small, ssize = cached(work, f"big-{args.report_mb}.log",
                              lambda: loggen.big_log_chunks(args.report_mb << 20))
        section(f"text scan and report on {ssize / 1e6:.0f} MB")
        res = interleaved({
            "rg -c -F -f": lambda: run_child([rg, "-c", "-F", "-f", str(lits), str(small)], out / "rg2.txt"),
            "espwatch scan": lambda: run_child([*ew, "scan", str(small)], out / "scan.txt"),
            "espwatch report": lambda: run_child([*ew, "report", str(small)], out / "report.md"),
        }, args.runs)
        for name, m in res.items():
            print(line(name, m, ssize, None if name.startswith("rg") else res["rg -c -F -f"]))
        ratio = res["espwatch report"].best.wall / res["espwatch scan"].best.wall
        cpu_ratio = res["espwatch report"].cpu / res["espwatch scan"].cpu
        print(f"report / scan: {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu (target <= 1.3x)")

        # 3. crash-dense events/s ---------------------------------------------------------------------------
        crash, csize = cached(work, f"crash-{args.crash_mb}.log",
                              lambda: loggen.crash_dense_chunks(args.crash_mb << 20))
        section(f"crash-dense log, {csize / 1e6:.0f} MB (every 10th line a panic or backtrace)")
        res = interleaved({
            "rg -c -F -f": lambda: run_child([rg, "-c", "-F", "-f", str(lits), str(crash)], out / "rg3.txt"),
            "espwatch scan --json": lambda: run_child([*ew, "scan", "--json", str(crash)],
                                                      out / "crash.jsonl"),
        }, args.runs)
        n_ev = count_lines(out / "crash.jsonl")
        m = res["espwatch scan --json"]
        print(line("rg -c -F -f", res["rg -c -F -f"], csize))
        print(line("espwatch scan --json", m, csize, res["rg -c -F -f"]))
        print(f"events: {n_ev:,}: {n_ev / m.best.wall:,.0f} events/s wall, {n_ev / m.cpu:,.0f} events/s of "
              f"CPU (target >= 60,000/s)")

        # 4. many files, -j -----------------------------------------------------------------------------
        from espwatch.scanjobs import default_jobs

        cpus = default_jobs()
        per = max(1, args.report_mb // 4)
        files = []
        for i in range(args.files):
            p, _ = cached(work, f"part-{per}-{i}.log",
                          lambda i=i: loggen.big_log_chunks(per << 20, seed=100 + i))
            files.append(str(p))
        total = sum(Path(f).stat().st_size for f in files)
        section(f"scan --json of {len(files)} files, {total / 1e6:.0f} MB in all, {cpus} CPUs here")
        jobs = {"rg -c -F -f (its threads)": lambda: run_child([rg, "-c", "-F", "-f", str(lits), *files],
                                                                 out / "rg4.txt")}
        for j in sorted({1, 2, cpus}):
            jobs[f"espwatch scan --json -j {j}"] = (
                lambda j=j: run_child([*ew, "scan", "--json", "-j", str(j), *files], out / f"j{j}.jsonl"))
        res = interleaved(jobs, args.runs)
        ref = res["espwatch scan --json -j 1"]
        for name, m in res.items():
            print(line(name, m, total, None if name.startswith("rg") or m is ref else ref))
        outs = [out / f"j{j}.jsonl" for j in sorted({1, 2, cpus})]
        same = all(filecmp.cmp(outs[0], o, shallow=False) for o in outs[1:])
        print(f"output identical for every -j: {'yes' if same else 'NO'}; "
              f"vs ripgrep: -j 1 x{res['rg -c -F -f (its threads)'].best.wall / ref.best.wall:.2f}")
        return 0 if same else 1
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
