"""Benchmark: `espwatch replay` of a huge log, headless (the real App under Textual's run_test).

    python bench/bench_replay.py [--size-mb 1024] [--every-lines 8000] [--keep FILE]

Builds the log in a temp dir (healthy ESP-IDF lines, a third of them ANSI-coloured, with every corpus log
spliced in every --every-lines lines), then runs the replay in a fresh child process and prints:
time to the first screen (from process start, imports included, and from App construction), time until the
background scan has filled the timeline, key-press latency while the scan runs, and peak RSS (ru_maxrss).
Targets: first screen < 1 s, peak RSS < 300 MB.
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

from tui_common import build_log, peak_rss_mb  # noqa: E402


def child(path: str) -> None:
    from espwatch.patterns import load_patterns
    from espwatch.tui.app import MonitorApp

    t_imports = time.perf_counter()

    async def run() -> dict:
        t0 = time.perf_counter()
        app = MonitorApp(path, load_patterns())
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
            out["loop_lag_ms"] = {"n": len(loop_lag), "median": 1000 * statistics.median(loop_lag)
                                  if loop_lag else None, "max": 1000 * max(loop_lag) if loop_lag else None}
            out["scan_done_s"] = app.done_at - t0
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
            out["events"] = len(app.events)
            out["timeline_events"] = len(app.timeline_events)
            out["bytes"] = app.bytes_read
        return out

    res = asyncio.run(run())
    res["imports_s"] = t_imports - T_PROCESS
    res["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(res))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--every-lines", type=int, default=8000)
    ap.add_argument("--keep", type=Path, help="write the log here and keep it")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="espwatch-bench-replay-"))
    log = args.keep or tmp / "big.log"
    try:
        t = time.perf_counter()
        size, spliced = build_log(log, args.size_mb * 1024 * 1024, args.every_lines)
        print(f"log: {size / 1e6:.0f} MB, {spliced} corpus logs spliced in, built in "
              f"{time.perf_counter() - t:.1f} s")
        with open(log, "rb") as fh:  # page cache warm, as after writing a capture
            while fh.read(1 << 24):
                pass
        proc = subprocess.run([sys.executable, __file__, "--child", str(log)], capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            return 1
        r = json.loads(line[7:])
        lat = r["keypress_latency_during_scan_ms"]
        print(f"first screen:         {r['first_screen_from_process_s']:.2f} s from process start "
              f"({r['imports_s']:.2f} s of imports), {r['first_screen_from_app_s']:.2f} s from App()  "
              f"[target < 1 s]")
        rate = r["bytes"] / 1e6 / r["scan_done_s"]
        print(f"timeline complete:    {r['scan_done_s']:.1f} s  ({rate:.0f} MB/s through index + Pipeline)")
        print(f"responsive:           {lat['n']} PageDown keys during the scan, handled in median "
              f"{lat['median'] or 0:.0f} ms, max {lat['max'] or 0:.0f} ms; "
              f"End {r['jump_to_end_s'] * 1000:.0f} ms, "
              f"previous event from the end {r['prev_event_from_end_s'] * 1000:.0f} ms")
        ll = r["loop_lag_ms"]
        print(f"                      event-loop lag during the scan: median {ll['median'] or 0:.0f} ms, "
              f"max {ll['max'] or 0:.0f} ms ({ll['n']} samples)")
        print(f"found:                {r['lines']:,} lines, {r['boots']:,} boots, {r['events']:,} events "
              f"({r['timeline_events']:,} on the timeline)")
        print(f"peak RSS:             {r['peak_rss_mb']:.0f} MB  [target < 300 MB]")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
