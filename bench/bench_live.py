"""Benchmark: the live monitor under a flood, against a plain pyserial read loop on the same pty.

    python bench/bench_live.py [--seconds 30] [--hour]

A simulated device (tests/devsim.py, in its own process) writes corpus logs + healthy lines into a pty as
fast as the reader takes them, for --seconds each run:
  1. ceiling: a plain `serial.Serial.read()` loop appending to a file;
  2. espwatch: the real monitor App, headless under Textual's run_test, with its SerialSource (reader
     thread + session log) and the follower thread that indexes the session log and feeds the Pipeline,
     and the UI applying the batches (timeline, log pane, status).
Prints bytes/s received into the session log, how far parsing and the UI lagged at the end, and the bytes
lost (device bytes vs session log, compared by length and SHA-256): must be 0. Target >= 2 MB/s.

While the tail moves, it also measures the screen: frames drawn per second (full redraws of the log pane)
and input latency (an Up key then a Down key, each until the log pane's cursor has moved).

`--ports N` (default 4) then floods N ports at once: N simulators, the monitor on all of them (each port's
reader and session log, the merger, the merged screen), beside N plain pyserial read loops in one process;
it prints each port's bytes/s into its session log and the bytes lost per port (must be 0).

`--hour` floods one hour of continuous output at 921600 baud (92,160 bytes/s, 332 MB) as fast as the
reader takes it (an hour compressed in time) and reports the peak RSS after it with what the monitor
holds (event rows, boots, bodies). Arrival times are not compressible in time: their bound is stated
(at most one 16-byte entry per 100 ms: 576 KB per hour, espwatch.device.times).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing as mp
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tui_common import flood_data, peak_rss_mb

HOUR_BYTES = 921600 // 10 * 3600
"""One hour of continuous output at 921600 baud (8N1: 10 bits a byte)."""


def flood_child(link: str, seconds: float, ready, go, results, close, total: int = 0) -> None:
    from devsim import DevSim

    data = flood_data()
    sim = DevSim(link, keep=False)
    ready.set()
    go.wait(60)
    if total:
        while sim.total < total:
            sim.flood(data, 1.0)
    else:
        sim.flood(data, seconds)
    results.put((sim.total, sim.sha.hexdigest()))
    close.wait(120)  # keep the pty until the reader has drained it
    sim.close()


def start_sim(tmp: Path, seconds: float, total: int = 0, name: str = "ttyESP"):
    ctx = mp.get_context("spawn")
    ready, go, close = ctx.Event(), ctx.Event(), ctx.Event()
    results = ctx.Queue()
    link = tmp / name
    proc = ctx.Process(target=flood_child, args=(str(link), seconds, ready, go, results, close, total),
                       daemon=True)
    proc.start()
    if not ready.wait(30):
        raise RuntimeError("simulator did not start")
    return link, go, results, close, proc


def run_ceiling(tmp: Path, seconds: float) -> dict:
    import serial

    link, go, results, close, proc = start_sim(tmp, seconds)
    out_path = tmp / "ceiling.log"
    port = serial.Serial(str(link), 115200, timeout=0.05)
    got = 0
    sha = hashlib.sha256()
    with open(out_path, "wb") as out:
        go.set()
        t0 = time.perf_counter()
        last = t0
        total = None
        while True:
            data = port.read(max(1, min(port.in_waiting, 1 << 16)))
            if data:
                out.write(data)
                sha.update(data)
                got += len(data)
                last = time.perf_counter()
            elif total is None and not results.empty():
                total, digest = results.get()
            if total is not None and got >= total:
                break
            if total is not None and time.perf_counter() - last > 5:
                break
    port.close()
    close.set()
    proc.join(10)
    return {"bytes": got, "sent": total, "seconds": last - t0, "lost": total - got,
            "sha_ok": sha.hexdigest() == digest}


def run_espwatch(tmp: Path, seconds: float, total: int = 0) -> dict:
    from espwatch.device.reader import SerialSource
    from espwatch.device.sessionlog import SessionLog, strip_host_lines
    from espwatch.patterns import load_patterns
    from espwatch.tui.app import MonitorApp
    from espwatch.tui.logview import LogView

    patterns = load_patterns()
    link, go, results, close, proc = start_sim(tmp, seconds, total)
    frames: list[float] = []
    draw = LogView.render_line

    def counted(self, y: int):  # a frame of the log pane = its first screen line drawn
        if y == 0:
            frames.append(time.perf_counter())
        return draw(self, y)

    LogView.render_line = counted
    log = SessionLog(tmp / "session.log")
    src = SerialSource(str(link), 115200, log, retry_delay=0.05)
    app = MonitorApp(log.path, patterns, source=src, name="ttyESP")
    res: dict = {}

    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            while app.source_state != "connected":
                await asyncio.sleep(0.01)
            go.set()
            t0 = time.perf_counter()
            view = app.log_view
            lat: list[float] = []
            while results.empty():
                await asyncio.sleep(0.25)
                for key in ("up", "down"):  # off the tail and back to it, while the tail moves
                    if view.rows < 3:
                        continue
                    before = view.cursor
                    t = time.perf_counter()
                    app.simulate_key(key)
                    while view.cursor == before and time.perf_counter() - t < 30:
                        await asyncio.sleep(0.001)
                    lat.append(time.perf_counter() - t)
                if view.cursor != view.rows - 1:
                    app.simulate_key("end")
            total, digest = results.get()
            t_flood = time.perf_counter()
            res["parse_lag_at_flood_end_mb"] = (log.device_bytes - app.follower.offset) / 1e6
            res["ui_lag_at_flood_end_mb"] = (log.device_bytes - app.bytes_read) / 1e6
            while log.device_bytes < total and time.perf_counter() - t_flood < 30:
                await asyncio.sleep(0.01)
            t_recv = time.perf_counter()
            while app.bytes_read < log.size and time.perf_counter() - t_recv < 120:
                await pilot.pause(0.02)
            t_ui = time.perf_counter()
            during = [f for f in frames if t0 <= f <= t_flood]
            res.update(sent=total, digest=digest, t_recv=t_recv - t0, t_ui=t_ui - t0,
                       flood_s=t_flood - t0, lines=app.lines, events=len(app.store),
                       boots=len(app.sessions), drain_s=t_ui - t_flood,
                       fps=len(during) / max(1e-9, t_flood - t0),
                       latency_ms={"n": len(lat), "median": 1000 * statistics.median(lat) if lat else 0,
                                   "max": 1000 * max(lat) if lat else 0},
                       store_kb=app.store.nbytes / 1024, boots_kb=app.sessions.nbytes / 1024,
                       bodies=len(app.store._recent) + len(app.store._pinned) + len(app.store._cache),
                       pipeline_boots=len(app.pipeline.sessions),
                       times_entries=len(log.times))
            await pilot.press("ctrl+right_square_bracket")

    try:
        asyncio.run(run())
    finally:
        src.stop()
        log.close()
        close.set()
        proc.join(10)
    LogView.render_line = draw
    res["rss_mb"] = peak_rss_mb()  # before the verification below reads the whole log
    sha = hashlib.sha256()
    size = host_lines = 0
    with open(tmp / "session.log", "rb") as fh:  # in pieces: an hour is 332 MB
        carry = b""
        while chunk := fh.read(1 << 24):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
            device = strip_host_lines(data)
            host_lines += data.count(b"\n--- espwatch ") + data.startswith(b"--- espwatch ")
            sha.update(device)
            size += len(device)
        device = strip_host_lines(carry)
        sha.update(device)
        size += len(device)
    res["bytes"] = size
    res["lost"] = res["sent"] - size
    res["sha_ok"] = sha.hexdigest() == res["digest"]
    res["host_lines"] = host_lines
    return res


# -- several ports at once -------------------------------------------------------------------------------
def _device_sha(path: Path) -> tuple[int, str]:
    from espwatch.device.sessionlog import strip_host_lines

    data = strip_host_lines(path.read_bytes())
    return len(data), hashlib.sha256(data).hexdigest()


def run_ports_ceiling(tmp: Path, n: int, seconds: float) -> list[dict]:
    """N plain pyserial read loops (one thread each, one process) -> N files, N simulators flooding."""
    import threading

    import serial

    sims = [start_sim(tmp, seconds, name=f"ttyC{i}") for i in range(n)]
    out: list[dict] = [{} for _ in range(n)]

    def reader(i: int) -> None:
        link, results = sims[i][0], sims[i][2]
        port = serial.Serial(str(link), 115200, timeout=0.05)
        got, total, digest = 0, None, ""
        sha = hashlib.sha256()
        t0 = time.perf_counter()
        last = t0
        with open(tmp / f"ceiling{i}.log", "wb") as fh:
            while True:
                data = port.read(max(1, min(port.in_waiting, 1 << 16)))
                if data:
                    fh.write(data)
                    sha.update(data)
                    got += len(data)
                    last = time.perf_counter()
                elif total is None and not results.empty():
                    total, digest = results.get()
                if total is not None and (got >= total or time.perf_counter() - last > 5):
                    break
        port.close()
        out[i] = {"bytes": got, "sent": total, "seconds": last - t0, "lost": (total or 0) - got,
                  "sha_ok": sha.hexdigest() == digest}

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for s in sims:
        s[1].set()
    for t in threads:
        t.join()
    for _, _, _, close, proc in sims:
        close.set()
        proc.join(10)
    for i in range(n):
        (tmp / f"ceiling{i}.log").unlink()
    return out


def run_ports_espwatch(tmp: Path, n: int, seconds: float) -> dict:
    """The monitor on N ports (PortGroup + the merged screen, headless), N simulators flooding."""
    from espwatch.device.multiport import PortGroup
    from espwatch.patterns import load_patterns
    from espwatch.tui.app import MonitorApp
    from espwatch.tui.ports import PortsSetup

    patterns = load_patterns()
    sims = [start_sim(tmp, seconds, name=f"ttyE{i}") for i in range(n)]
    group = PortGroup([str(s[0]) for s in sims], 115200, [tmp / f"port{i}.log" for i in range(n)],
                      tmp / "merged.log", retry_delay=0.05)
    app = MonitorApp(group.merged_path, patterns, source=group.sources[0], name="merged.log",
                     store=group.merged, arrival_time=group.merged.times.time_at,
                     ports=PortsSetup(group.labels, [str(s[0]) for s in sims], group.sources, [None] * n))
    group.merged.listeners.append(app.follower.wake.set)
    group.merger.start()
    res: dict = {}

    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            while any(src.state != "connected" for src in group.sources):
                await asyncio.sleep(0.01)
            for s in sims:
                s[1].set()
            t0 = time.perf_counter()
            sent: list = [None] * n
            done_at: list[float] = [0.0] * n
            while not all(done_at) and time.perf_counter() - t0 < seconds + 60:
                await asyncio.sleep(0.01)
                for i, s in enumerate(sims):
                    if sent[i] is None and not s[2].empty():
                        sent[i] = s[2].get()
                    if sent[i] is not None and not done_at[i] and group.logs[i].device_bytes >= sent[i][0]:
                        done_at[i] = time.perf_counter()
            t_recv = time.perf_counter()
            while (group.merger.behind() or app.bytes_read < group.merged.size) and \
                    time.perf_counter() - t_recv < 300:
                group.merger.wake.set()
                await pilot.pause(0.05)
            res.update(sent=sent, received_s=[d - t0 for d in done_at], t_ui=time.perf_counter() - t0,
                       lines=app.lines, events=len(app.store), boots=len(app.sessions),
                       merged_mb=group.merged.size / 1e6)
            await pilot.press("ctrl+right_square_bracket")

    try:
        asyncio.run(run())
    finally:
        group.stop()
        for _, _, _, close, proc in sims:
            close.set()
            proc.join(10)
    res["rss_mb"] = peak_rss_mb()
    per = []
    for i in range(n):
        size, digest = _device_sha(tmp / f"port{i}.log")
        total, want = res["sent"][i] or (0, "")
        per.append({"bytes": size, "lost": total - size, "sha_ok": digest == want,
                    "seconds": res["received_s"][i]})
    res["ports"] = per
    return res


def report_ports(n: int, seconds: float, tmp: Path) -> bool:
    c = run_ports_ceiling(tmp, n, seconds)
    e = run_ports_espwatch(tmp, n, seconds)
    print(f"{n} ports flooded at once ({seconds:g} s each; simulators in their own processes):")
    ok = True
    for i, (pc, pe) in enumerate(zip(c, e["ports"], strict=True)):
        rc = pc["bytes"] / max(1e-9, pc["seconds"]) / 1e6
        re_ = pe["bytes"] / max(1e-9, pe["seconds"]) / 1e6
        print(f"  port {chr(65 + i)}: espwatch {re_:6.2f} MB/s into its session log "
              f"({pe['bytes'] / 1e6:.0f} MB, "
              f"lost {pe['lost']} bytes, sha-256 {'identical' if pe['sha_ok'] else 'MISMATCH'})  |  "
              f"pyserial loop {rc:6.2f} MB/s (lost {pc['lost']})")
        ok = ok and pe["lost"] == 0 and pe["sha_ok"]
    total_e = sum(p["bytes"] for p in e["ports"]) / max(p["seconds"] for p in e["ports"]) / 1e6
    total_c = sum(p["bytes"] for p in c) / max(p["seconds"] for p in c) / 1e6
    print(f"  all {n}: espwatch {total_e:.2f} MB/s, pyserial loops {total_c:.2f} MB/s (ratio "
          f"{total_e / max(1e-9, total_c):.2f}); merged log {e['merged_mb']:.0f} MB, {e['lines']:,} lines, "
          f"{e['boots']:,} boots, {e['events']:,} events on the screen {e['t_ui']:.1f} s after the start; "
          f"peak RSS {e['rss_mb']:.0f} MB")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--hour", action="store_true",
                    help="one hour at 921600 baud (332 MB) as fast as it goes, then the RSS")
    ap.add_argument("--ports", type=int, default=4, metavar="N",
                    help="then N ports flooded at once, beside N pyserial loops (default 4; 0 skips)")
    ap.add_argument("--ports-only", action="store_true", help="only the N-port flood")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="espwatch-bench-live-"))
    try:
        if args.ports_only:
            return 0 if report_ports(args.ports, args.seconds, tmp) else 1
        c = run_ceiling(tmp, args.seconds)
        (tmp / "ceiling.log").unlink()
        rate_c = c["bytes"] / c["seconds"] / 1e6
        print(f"ceiling  (pyserial read loop -> file): {rate_c:6.2f} MB/s  "
              f"({c['bytes'] / 1e6:.0f} MB in {c['seconds']:.1f} s, lost {c['lost']} bytes, "
              f"sha {'ok' if c['sha_ok'] else 'MISMATCH'})")
        e = run_espwatch(tmp, args.seconds, HOUR_BYTES if args.hour else 0)
        rate_e = e["bytes"] / e["t_recv"] / 1e6
        rate_ui = e["bytes"] / e["t_ui"] / 1e6
        print(f"espwatch (App headless: reader + session log): {rate_e:6.2f} MB/s received "
              f"({e['bytes'] / 1e6:.0f} MB in {e['t_recv']:.1f} s)  [target >= 2 MB/s]")
        print(f"         through Pipeline + UI:                {rate_ui:6.2f} MB/s end to end "
              f"(at the end of the flood parsing lagged {e['parse_lag_at_flood_end_mb']:.1f} MB, "
              f"the UI {e['ui_lag_at_flood_end_mb']:.1f} MB; drained {e['drain_s']:.1f} s later)")
        print(f"         found {e['lines']:,} lines, {e['boots']:,} boots, {e['events']:,} events; "
              f"peak RSS {e['rss_mb']:.0f} MB")
        print(f"         bytes lost in the session log: {e['lost']} (sha-256 "
              f"{'identical' if e['sha_ok'] else 'MISMATCH'}; {e['host_lines']} host lines)")
        print(f"         ratio to the ceiling: {rate_e / rate_c:.2f}")
        lat = e["latency_ms"]
        print(f"screen while the tail moves: {e['fps']:.1f} frames/s of the log pane; Up/Down handled in "
              f"median {lat['median']:.0f} ms, max {lat['max']:.0f} ms ({lat['n']} keys)")
        what = "one hour at 921600 baud" if args.hour else f"{e['bytes'] / 1e6:.0f} MB"
        print(f"memory after {what}: peak RSS {e['rss_mb']:.0f} MB; holds {e['events']:,} event rows "
              f"({e['store_kb']:.0f} KB), {e['boots']:,} boots ({e['boots_kb']:.0f} KB), {e['bodies']:,} "
              f"event bodies, {e['pipeline_boots']} boots in the pipeline, {e['times_entries']:,} arrival "
              f"times (bound: 36,000 entries = 576 KB per hour)")
        ok = e["lost"] == 0 and e["sha_ok"]
        if args.ports:
            ok = report_ports(args.ports, args.seconds, tmp) and ok
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
