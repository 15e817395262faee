"""Benchmark: `espwatch triage` of many generated logs on 1 core, N local cores and a local Dask cluster.

    python bench/bench_triage.py [--logs 10000] [--size-kb 500] [--jobs 2] [--runs 1] [--dir DIR]

Generates --logs logs of about --size-kb each (default 10,000 x 500 kB, about 5 GB) with a known mix of
crash signatures: each log is one device (its Wi-Fi MAC line), one of four firmware versions (app version
and ELF SHA256 lines), boots started by reset lines, healthy ESP-IDF info lines from the corpus, and 0-3
crashes whose blocks (panic or abort or assert, register dump, backtrace) are copied from the corpus's real
crash logs, chosen with Zipf weights. Then, on the same (page-cached) files, interleaved, best of --runs:

  - `grep -r -c -F` for the three crash markers (the reference: what people do today, one core),
  - `rg -c -F -j N` for the same markers (the reference on N cores), when rg is installed,
  - `espwatch triage --json -j 1 DIR`, `espwatch triage --json -j N DIR` (a process pool),
  - `espwatch triage --json --dask local -j N DIR` (a dask.distributed LocalCluster of N workers),

and prints files/s, MB/s, CPU seconds (of the command and its workers), the peak RSS of each worker
process (VmHWM, sampled from /proc while it runs), the speed-up over one core and per core (on a shared
machine the wall-clock speed-up follows the other load; the CPU seconds say what the work cost), and
checks that the three modes give identical groups and that each planted signature comes out with the
planted count.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus"
sys.path.insert(0, str(ROOT))

MARKERS = ["Guru Meditation Error", "abort() was called", "Backtrace:"]
FIRMWARE = [("1.0.0", "3f1c0a9d2b7e4c18"), ("1.1.0", "8a2d44e0c9b15f73"), ("1.2.0", "c07e51b3a8d29e64"),
            ("1.2.1", "5b9f0e7d13ac46e2")]
_IDF_LINE = re.compile(rb"^([EWI]) \((\d+)\) ([^:]+): (.*)$")
_HEALTHY = ["a-esp32s3-https-ota-success-reboot-healthy.log", "b-esp32-idf5-wifi-sta-connect-healthy.log",
            "b-esp32-idf53-smartconfig-healthy.log", "a-esp32-idf31-factory-boot-healthy.log"]


def crash_blocks() -> list[tuple[str, bytes, str]]:
    """(corpus file, the lines of its crash, its signature) for each corpus log with one crash that has a
    backtrace; the signature is what triage gives the block alone in a log that names no chip."""
    from espwatch.fleet import LogInput, TriageConfig, scan_log

    config = TriageConfig()
    out = []
    for path in sorted(CORPUS.glob("*.log")):
        res = scan_log(LogInput.from_path(path), config)
        crashes = [o for o in res.occurrences if o.kind == "crash"]
        if len(crashes) != 1 or "no backtrace" in crashes[0].key:
            continue
        lines = path.read_bytes().splitlines(keepends=True)
        c = crashes[0]
        block = b"".join(lines[c.line - 1 : c.end_line])
        if not block.endswith(b"\n"):
            block += b"\n"
        alone = scan_log(LogInput.from_bytes("block", b"rst:0x1 (POWERON_RESET),boot:0x13\n" + block), config)
        keys = [o.key for o in alone.occurrences if o.kind == "crash"]
        if len(keys) == 1:
            out.append((path.name, block, keys[0]))
    return out


def filler_pages(n: int = 48, size: int = 64 * 1024, seed: int = 11) -> list[bytes]:
    """Pages of healthy ESP-IDF info lines that match no pattern literal (what a running app prints)."""
    from espwatch.patterns import load_patterns

    lits = [lit.encode() for p in load_patterns().matchers for lit in p.literals]
    lines = []
    for name in _HEALTHY:
        for raw in (CORPUS / name).read_bytes().splitlines():
            m = _IDF_LINE.match(raw)
            if m and m.group(1) == b"I" and not any(lit in raw for lit in lits):
                lines.append((m.group(3), m.group(4)))
    rnd = random.Random(seed)
    pages = []
    for _ in range(n):
        t, parts, total = rnd.randint(1000, 100000), [], 0
        while total < size:
            tag, msg = rnd.choice(lines)
            t += rnd.randint(1, 50)
            line = b"I (%d) %s: %s\n" % (t, tag, msg)
            parts.append(line)
            total += len(line)
        pages.append(b"".join(parts))
    return pages


def generate(folder: Path, count: int, size: int, seed: int = 5) -> tuple[int, Counter, list[str]]:
    """Write the logs; return (bytes, planted crashes per signature, the mix)."""
    blocks = crash_blocks()
    pages = filler_pages()
    rnd = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(blocks))]
    planted: Counter = Counter()
    total = 0
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        fw, sha = FIRMWARE[i % len(FIRMWARE)]
        mac = f"24:0a:c4:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
        crashes = rnd.choices([0, 1, 2, 3], weights=[40, 40, 15, 5])[0]
        chosen = rnd.choices(range(len(blocks)), weights=weights, k=crashes)
        boots = crashes + 1
        per_boot = max(1, size // boots)
        parts: list[bytes] = []
        written = 0
        for b in range(boots):
            reason = b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n" if b == 0 else \
                b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"
            head = reason + (
                b"I (31) boot: ESP-IDF v5.1.2 2nd stage bootloader\n"
                b"I (231) cpu_start: Project name:     fleet-demo\n"
                b"I (236) cpu_start: App version:      %s\n"
                b"I (241) cpu_start: ELF file SHA256:  %s...\n"
                b"I (722) wifi:mode : sta (%s)\n") % (fw.encode(), sha.encode(), mac.encode())
            parts.append(head)
            boot_bytes = len(head)
            while boot_bytes < per_boot:
                page = pages[rnd.randrange(len(pages))]
                parts.append(page)
                boot_bytes += len(page)
            if b < crashes:
                _, block, key = blocks[chosen[b]]
                parts.append(block)
                boot_bytes += len(block)
                planted[key] += 1
            written += boot_bytes
        (folder / f"dev{i:05d}.log").write_bytes(b"".join(parts))
        total += written
    mix = [f"{planted[key]:6d}  {key}  (from {name})" for name, _, key in blocks if planted[key]]
    return total, planted, mix


class PeakRSS:
    """Peak RSS (VmHWM) of every process in a tree, sampled from /proc while it runs."""

    def __init__(self, root: int, every: float = 0.2) -> None:
        self.root, self.every = root, every
        self.peak: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _children(self) -> dict[int, int]:
        parents = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat", "rb") as fh:
                        fields = fh.read().rsplit(b")", 1)[1].split()
                    parents[int(d)] = int(fields[1])
                except (OSError, IndexError, ValueError):
                    pass
        tree, changed = {self.root}, True
        while changed:
            changed = False
            for pid, ppid in parents.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    changed = True
        return {pid: parents.get(pid, 0) for pid in tree}

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._children():
                try:
                    with open(f"/proc/{pid}/status") as fh:
                        status = fh.read()
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")[:160]
                except OSError:
                    continue
                m = re.search(r"VmHWM:\s+(\d+) kB", status)
                if m:
                    kb = int(m.group(1))
                    if kb > self.peak.get(pid, ("", 0))[1]:
                        self.peak[pid] = (cmd, kb)
            self._stop.wait(self.every)

    def stop(self) -> dict[int, tuple[str, int]]:
        self._stop.set()
        self._thread.join()
        return self.peak


def run(cmd: list[str], out: Path) -> tuple[float, float, dict[int, tuple[str, int]], int]:
    """Wall time, CPU time (user + system, of the command and every process it started and waited
    for), the sampled peak RSS of each process of the tree, and the root's pid."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(out, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.PIPE)
        rss = PeakRSS(proc.pid)
        _, err = proc.communicate()
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peaks = rss.stop()
    if proc.returncode not in (0, 1):
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return dt, cpu, peaks, proc.pid


def groups_of(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if '"record": "group"' in line]


def rss_text(peaks: dict[int, tuple[str, int]], root: int) -> str:
    """`main 40 MiB, workers 52/51 MiB`: the command's own process and the worker processes it started
    (the multiprocessing resource tracker left out)."""
    main = peaks.get(root, ("", 0))[1]
    rest = sorted((kb for pid, (cmd, kb) in peaks.items()
                   if pid != root and "resource_tracker" not in cmd), reverse=True)
    text = f"main {main / 1024:.0f} MiB"
    if rest:
        text += ", workers " + "/".join(f"{kb / 1024:.0f}" for kb in rest[:8]) + " MiB"
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", type=int, default=10000)
    ap.add_argument("--size-kb", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--dir", type=Path, help="generate the logs here and keep them (reused when present)")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    espwatch = str(Path(sys.executable).parent / "espwatch")
    tmp = Path(tempfile.mkdtemp(prefix="espwatch-triage-bench-"))
    folder = args.dir or tmp / "logs"
    try:
        t0 = time.perf_counter()
        manifest = folder / "manifest.json"
        want = {"logs": args.logs, "size_kb": args.size_kb}
        if manifest.is_file() and json.loads(manifest.read_text())["params"] == want:
            m = json.loads(manifest.read_text())
            total, planted, mix = m["bytes"], Counter(m["planted"]), m["mix"]
            how = "reused"
        else:
            total, planted, mix = generate(folder, args.logs, args.size_kb * 1000)
            manifest.write_text(json.dumps({"params": want, "bytes": total, "planted": planted, "mix": mix}))
            how = f"{time.perf_counter() - t0:.0f} s to generate"
        print(f"logs: {args.logs} in {folder}, {total / 1e9:.2f} GB, {sum(planted.values())} crashes planted "
              f"({how}); mix:")
        for line in mix:
            print("   " + line)
        subprocess.run(["find", str(folder), "-name", "*.log", "-exec", "cat", "{}", "+"],
                       stdout=subprocess.DEVNULL, check=False)  # warm the page cache
        load = os.getloadavg()[0]
        n = args.jobs
        marks = [arg for m in MARKERS for arg in ("-e", m)]
        plans = [("grep -r -c -F (1 core)", ["grep", "-r", "-c", "-F", *marks, str(folder)])]
        if shutil.which("rg"):
            plans.append((f"rg -c -F -j {n}", ["rg", "-c", "-F", "-j", str(n),
                                                *marks, str(folder)]))
        plans += [("espwatch triage -j 1", [espwatch, "triage", "--json", "-j", "1", str(folder)]),
                  (f"espwatch triage -j {n}", [espwatch, "triage", "--json", "-j", str(n), str(folder)])]
        if not args.no_dask:
            plans.append((f"espwatch triage --dask local -j {n}",
                          [espwatch, "triage", "--json", "--dask", "local", "-j", str(n), str(folder)]))
        best: dict[str, tuple[float, float, dict, int]] = {}
        outs: dict[str, Path] = {}
        for r in range(args.runs):
            for name, cmd in plans:
                out = tmp / f"out-{len(outs)}-{r}.txt"
                dt, cpu, peaks, root = run(cmd, out)
                print(f"  run {r + 1}: {name}: {dt:.1f} s wall, {cpu:.1f} s CPU, "
                      f"load average {os.getloadavg()[0]:.1f}", flush=True)
                if name not in best or dt < best[name][0]:
                    best[name] = (dt, cpu, peaks, root)
                outs[name] = out
        print(f"\nresults (best of {args.runs}; {os.cpu_count()} cores on this machine, shared; "
              f"load average before the runs {load:.1f}, after {os.getloadavg()[0]:.1f}):")
        one = best["espwatch triage -j 1"][0]
        one_cpu = best["espwatch triage -j 1"][1]
        for name, _ in plans:
            dt, cpu, peaks, root = best[name]
            line = f"  {name:<34} {dt:7.1f} s {args.logs / dt:7.1f} files/s {total / dt / 1e6:7.1f} MB/s" \
                   f" {cpu:7.1f} s CPU"
            if name.startswith("espwatch"):
                cores = 1 if "-j 1" in name else n
                line += f"  speed-up {one / dt:4.2f}x ({one / dt / cores:4.2f} per core; CPU " \
                        f"{cpu / one_cpu:4.2f}x of -j 1); peak RSS {rss_text(peaks, root)}"
            print(line)
        ref = groups_of(outs["espwatch triage -j 1"])
        for name, _ in plans[1:]:
            if name.startswith("espwatch") and name != "espwatch triage -j 1":
                same = groups_of(outs[name]) == ref
                print(f"  groups of `{name}` identical to -j 1: {same}")
        found = {json.loads(g)["key"]: json.loads(g)["count"] for g in ref if '"group": "crash"' in g}
        wrong = {k: (v, found.get(k)) for k, v in planted.items() if found.get(k) != v}
        print(f"  planted crash signatures found with their planted counts: {len(planted) - len(wrong)}/"
              f"{len(planted)}" + (f"; differ: {wrong}" if wrong else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
