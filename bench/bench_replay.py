"""Benchmark: `espwatch replay` of a huge log, headless (the real App under Textual's run_test), beside
`espwatch scan --json` on the same file in the same run.

    python bench/bench_replay.py [--size-mb 1024] [--every-lines 8000] [--runs 2] [--dense] [--keep FILE]
                                 [--thread] [--no-search]

Builds the log (healthy ESP-IDF lines, a third of them ANSI-coloured, with every corpus log spliced in every
--every-lines lines), then, in each of --runs rounds: `espwatch scan --json` (the installed command, output
to a file), and the replay in a fresh child process set up as `espwatch replay` sets it up (patterns, rules,
no ELF; the scan in a worker process; with --thread also the in-thread scan). Prints the best round:
time to the first screen, time until the timeline is complete (from process start, as `scan --json` is
timed) and its ratio to `scan --json`, key-press latency and event-loop lag while the scan runs, what held
the screen's event loop then (the longest steps it ran, by what ran them, and the garbage collector's
pauses: bench/loopsteps.py), peak RSS, and what the monitor holds (16-byte event rows, 28-byte boot rows,
bodies kept whole).
Targets: first screen < 1 s, timeline <= 1.3x scan --json, keys within 50 ms, peak RSS < 300 MB.

`--dense` makes the log crash-dense: corpus logs back to back (about 3,000 events and 360 boots per MB),
where memory grows with the events and boots unless the monitor bounds it.

Then, in the same child and the same run, searches through the monitor (the whole log: the time until the
hit count is known) against `grep -c` on the same file (output to a pipe), interleaved, best of 3: an absent
literal, a present literal, the same ignoring case, and a regex (`--no-search` skips them).
"""

from __future__ import annotations

import time

T_PROCESS = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from loopsteps import LoopSteps  # noqa: E402
from tui_common import build_log, peak_rss_mb  # noqa: E402

SEARCHES = [
    # (what, the pattern typed in the monitor, grep's arguments)
    ("absent literal", "Zebra never printed", ["-c", "-F", "Zebra never printed"]),
    ("absent, any case", "zebra never printed", ["-c", "-i", "-F", "zebra never printed"]),
    ("literal", "Guru Meditation Error", ["-c", "-F", "Guru Meditation Error"]),
    ("literal, any case", "guru meditation error", ["-c", "-i", "-F", "guru meditation error"]),
    ("regex", r"rst:0x[0-9a-f]+ \(", ["-c", "-E", r"rst:0x[0-9a-f]+ \("]),
]


def grep_count(args: list[str], path: str) -> tuple[float, int]:
    t = time.perf_counter()
    out = subprocess.run(["grep", *args, path], capture_output=True, text=True)  # to a pipe, not /dev/null
    return time.perf_counter() - t, int(out.stdout.strip() or 0)


def child(path: str, mode: str, searches: bool) -> None:
    """As `espwatch replay --no-elf LOG` sets it up (mode "process"), or with the scan in a thread."""
    from espwatch.diagnosis import load_rules
    from espwatch.enrich import Enrichment
    from espwatch.patterns import load_patterns

    patterns = load_patterns()
    rules = load_rules()
    enr = Enrichment.choose(None, True, patterns, rules, background=True)
    proc = None
    if mode == "process":
        from espwatch.scanproc import ScanProcess

        proc = ScanProcess(path, patterns, rules, enr.elf)
    from espwatch.tui.app import MonitorApp

    t_imports = time.perf_counter()
    steps = LoopSteps()
    steps.install()

    async def run() -> dict:
        t0 = time.perf_counter()
        app = MonitorApp(path, patterns, enrichment=enr, scan_in_process=proc or False)
        out: dict = {}
        async with app.run_test(size=(120, 40)) as pilot:
            view = app.log_view
            while view.first_render is None or view.rows < 38:
                await asyncio.sleep(0.002)
            out["first_screen_from_process_s"] = view.first_render - T_PROCESS
            out["first_screen_from_app_s"] = view.first_render - t0
            out["lines_at_first_screen"] = view.rows
            lat = []
            loop_lag = []
            steps.active = True
            while not app.scan_done:
                # a key as the terminal would deliver it; latency = until the log pane has moved
                before = view.cursor
                t = time.perf_counter()
                app.simulate_key("pagedown")
                while view.cursor == before and time.perf_counter() - t < 10:
                    await asyncio.sleep(0.001)
                lat.append(time.perf_counter() - t)
                for _ in range(5):
                    t = time.perf_counter()
                    await asyncio.sleep(0.02)
                    loop_lag.append(time.perf_counter() - t - 0.02)
            steps.active = False
            out["loop_steps"] = steps.summary()
            out["loop_lag_ms"] = {"n": len(loop_lag), "median": 1000 * statistics.median(loop_lag)
                                  if loop_lag else None, "max": 1000 * max(loop_lag) if loop_lag else None}
            out["scan_done_s"] = app.done_at - t0
            out["scan_done_from_process_s"] = app.done_at - T_PROCESS
            t = time.perf_counter()
            await pilot.press("end")
            await pilot.pause()
            out["jump_to_end_s"] = time.perf_counter() - t
            t = time.perf_counter()
            await pilot.press("N")
            await pilot.pause()
            out["prev_event_from_end_s"] = time.perf_counter() - t
            out["keypress_latency_during_scan_ms"] = {
                "n": len(lat), "median": 1000 * statistics.median(lat) if lat else None,
                "max": 1000 * max(lat) if lat else None}
            out["lines"] = app.lines
            out["boots"] = len(app.sessions)
            out["events"] = len(app.store)
            out["timeline_events"] = len(app.timeline.rows)
            out["bytes"] = app.bytes_read
            out["rss_after_scan_mb"] = peak_rss_mb()
            out["store_kb"] = app.store.nbytes / 1024
            out["boots_kb"] = app.sessions.nbytes / 1024
            out["bodies"] = len(app.store._recent) + len(app.store._pinned) + len(app.store._cache)
            out["pinned"] = len(app.store._pinned)
            out["spilled"] = getattr(app.store, "spilled", 0)
            out["tree_boots"] = len(app.timeline._boot_nodes)
            out["searches"] = []
            for what, pattern, grep_args in SEARCHES if searches else []:
                best_e, best_g, hits, ghits = 1e9, 1e9, None, None
                for _ in range(3):
                    view.goto_line(1)
                    t = time.perf_counter()
                    app.start_search(pattern)
                    first = None
                    while app.search is None or not app.search.done:
                        if first is None and view.current_line() != 1:
                            first = time.perf_counter() - t
                        await asyncio.sleep(0.001)
                    best_e = min(best_e, time.perf_counter() - t)
                    hits = app.search.count
                    app.search_pattern = None  # a new search each time, not "next match"
                    g, ghits = await asyncio.to_thread(grep_count, grep_args, path)
                    best_g = min(best_g, g)
                out["searches"].append({"what": what, "pattern": pattern, "espwatch_s": best_e, "hits": hits,
                                        "grep_s": best_g, "grep_hits": ghits, "first_hit_s": first})
        return out

    res = asyncio.run(run())
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    res["cpu_screen_s"] = me.ru_utime + me.ru_stime
    res["cpu_worker_s"] = kids.ru_utime + kids.ru_stime
    res["imports_s"] = t_imports - T_PROCESS
    res["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(res))


def replay_once(log: Path, mode: str, searches: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(log), "--mode", mode,
           *([] if searches else ["--no-search"])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
        raise SystemExit(1)
    return json.loads(line[7:])


def report(mode: str, r: dict, scan_s: float) -> None:
    lat = r["keypress_latency_during_scan_ms"]
    print(f"[{mode}] first screen:   {r['first_screen_from_process_s']:.2f} s from process start "
          f"({r['imports_s']:.2f} s of imports), {r['first_screen_from_app_s']:.2f} s from App()  "
          f"[target < 1 s]")
    done = r["scan_done_from_process_s"]
    print(f"[{mode}] timeline complete: {done:.1f} s from process start, {done / scan_s:.2f}x scan --json "
          f"({r['bytes'] / 1e6 / r['scan_done_s']:.0f} MB/s)  [target <= 1.3x]")
    print(f"[{mode}] responsive:     {lat['n']} PageDown keys during the scan, handled in median "
          f"{lat['median'] or 0:.0f} ms, max {lat['max'] or 0:.0f} ms  [target <= 50 ms]; "
          f"End {r['jump_to_end_s'] * 1000:.0f} ms, "
          f"previous event from the end {r['prev_event_from_end_s'] * 1000:.0f} ms")
    ll = r["loop_lag_ms"]
    print(f"[{mode}]                 event-loop lag during the scan: median {ll['median'] or 0:.0f} ms, "
          f"max {ll['max'] or 0:.0f} ms ({ll['n']} samples)")
    st = r["loop_steps"]
    slowest = ", ".join(f"{ms:.0f} ms {name} (x{n} >= 5 ms)" for ms, name, n in st["slowest"][:3])
    pad = " " * 17
    print(f"[{mode}]{pad}loop steps during the scan: {st['n']:,}, median {st['median_ms']:.1f} ms, "
          f"p99 {st['p99_ms']:.0f} ms, max {st['max_ms']:.0f} ms, {st['over_50ms']} over 50 ms; "
          f"slowest: {slowest}")
    print(f"[{mode}]{pad}collector pauses during the scan: {st['gc_over_10ms']} over 10 ms, max "
          f"{st['gc_max_ms']:.0f} ms (generation {st['gc_max_generation']}), "
          f"{st['gc_total_ms']:.0f} ms in all")
    print(f"[{mode}] found:          {r['lines']:,} lines, {r['boots']:,} boots, {r['events']:,} events "
          f"({r['timeline_events']:,} on the timeline)")
    print(f"[{mode}] peak RSS:       {r['rss_after_scan_mb']:.0f} MB after the scan, "
          f"{r['peak_rss_mb']:.0f} MB at the end, of the screen's process  [target < 300 MB]")
    print(f"[{mode}] held in memory: {r['events']:,} event rows ({r['store_kb']:.0f} KB), "
          f"{r['boots']:,} boot rows ({r['boots_kb']:.0f} KB), {r['bodies']:,} event bodies "
          f"({r['pinned']:,} of them made from other events), {r.get('spilled', 0):,} bodies and added "
          f"fields in the spill file, {r['tree_boots']:,} boots listed in the timeline")
    for x in r["searches"]:
        ratio = x["espwatch_s"] / x["grep_s"] if x["grep_s"] else 0
        same = "same count" if x["hits"] == x["grep_hits"] else f"grep -c says {x['grep_hits']:,}"
        print(f"[{mode}] search {x['what']:<18} espwatch {x['espwatch_s']:6.2f} s, {x['hits']:,} hits "
              f"({same}); "
              f"grep -c {x['grep_s']:6.2f} s; ratio {ratio:.1f}  /{x['pattern']}/")
    print(f"[{mode}] CPU:            {r['cpu_screen_s']:.1f} s in the screen's process, "
          f"{r['cpu_worker_s']:.1f} s in the scan worker")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--every-lines", type=int, default=8000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--dense", action="store_true", help="crash-dense: corpus logs back to back")
    ap.add_argument("--keep", type=Path, help="write the log here and keep it (reused when it exists)")
    ap.add_argument("--thread", action="store_true", help="also the scan in a thread of the screen's process")
    ap.add_argument("--no-search", action="store_true", help="skip the searches against grep -c")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="process", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.mode, not args.no_search)
        return 0
    if args.dense:
        args.every_lines = 1
    from common import compile_bytecode, espwatch_cmd, run_child

    compile_bytecode()
    tmp = Path(tempfile.mkdtemp(prefix="espwatch-bench-replay-"))
    log = args.keep or tmp / "big.log"
    try:
        if not log.exists():
            t = time.perf_counter()
            size, spliced = build_log(log, args.size_mb * 1024 * 1024, args.every_lines)
            print(f"log: {size / 1e6:.0f} MB, {spliced} corpus logs spliced in, built in "
                  f"{time.perf_counter() - t:.1f} s")
        else:
            print(f"log: {log.stat().st_size / 1e6:.0f} MB (kept from an earlier run)")
        with open(log, "rb") as fh:  # page cache warm, as after writing a capture
            while fh.read(1 << 24):
                pass
        modes = ["process", "thread"] if args.thread else ["process"]
        scans, results = [], {m: [] for m in modes}
        for _ in range(args.runs):
            scans.append(run_child([*espwatch_cmd(), "scan", "--json", "--no-elf", str(log)],
                                   tmp / "scan.jsonl"))
            for m in modes:
                results[m].append(replay_once(log, m, not args.no_search))
        scan = min(scans, key=lambda r: r.wall)
        with open(tmp / "scan.jsonl", "rb") as fh:
            n = sum(1 for _ in fh)
        print(f"scan --json:          {scan.wall:.1f} s (cpu {scan.cpu:.1f} s), {n:,} events "
              f"[best of {args.runs}, interleaved with the replays]")
        for m in modes:
            best = min(results[m], key=lambda r: r["scan_done_from_process_s"])
            report(m, best, scan.wall)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
