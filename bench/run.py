"""All benchmarks in one command: `python bench/run.py [--quick]`.

Runs, one after the other (they share this machine, so never in parallel):
  bench_scan.py    prefilter engines; scan --json on 1 GB vs rg and grep, RSS; report vs scan on 200 MB;
                   crash-dense events/s; -j over 8 files (--quick: 256 MB, 64 MB, 16 MB)
  bench_scanproc.py  the replay's background scan without a screen (worker process vs thread) vs scan --json
  bench_split.py   one file split between processes (prototype) vs scan --json and rg
  bench_decode.py  decoding vs GNU addr2line (cold, warm, in-process, RSS, growth with DWARF size)
  bench_live.py    live pty flood through the monitor vs a plain pyserial loop (30 s; --quick: 8 s)
  bench_replay.py  replay of a 1 GB log in the screen: first screen, timeline vs scan --json, keys, RSS
                   (--quick: 256 MB)
  bench_coredump.py  coredump verb cold/warm/RSS vs esp-coredump; one RISC-V panic unwound in-process
  bench_binlog.py  binary log decoding, records/s and MB/s, beside esp-idf-monitor's decoder when an
                   interpreter with it is given (ESPWATCH_REF_PYTHON) (16 MB; --quick: 4 MB)
  bench_triage.py  triage of 10,000 generated logs (5 GB): 1 core, all cores, local Dask (--quick: 1,000)
  bench_startup.py  each verb's start from the installed wheel vs python -c pass and addr2line; wheel size
Each prints its own figures and ratios; this script only runs them and reports which failed. The generated
logs are made once, in a temporary folder shared by the scan benchmarks (--workdir keeps them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller inputs and shorter runs")
    ap.add_argument("--only", choices=["scan", "scanproc", "split", "decode", "live", "replay", "coredump",
                                       "binlog", "triage", "startup"],
                    action="append", help="run only these (may be repeated)")
    ap.add_argument("--workdir", type=Path, help="keep the generated logs here (and reuse them)")
    args = ap.parse_args()
    import shutil
    import tempfile

    work = args.workdir or Path(tempfile.mkdtemp(prefix="espwatch-bench-"))
    size = "256" if args.quick else "1024"
    shared = ["--workdir", str(work)]
    plan = {
        "scan": ["bench_scan.py", *shared, *(["--quick"] if args.quick else [])],
        "scanproc": ["bench_scanproc.py", "--size-mb", size, "--runs", "2" if args.quick else "3", *shared],
        "split": ["bench_split.py", "--size-mb", size, "--crash-mb", "16" if args.quick else "64",
                  "--runs", "2" if args.quick else "3", *shared],
        "decode": ["bench_decode.py", *(["--quick"] if args.quick else [])],
        "live": ["bench_live.py", "--seconds", "8" if args.quick else "30"],
        "replay": ["bench_replay.py", "--size-mb", size, "--keep", str(work / f"replay-{size}.log")],
        "coredump": ["bench_coredump.py", "--runs", "3" if args.quick else "5"],
        "binlog": ["bench_binlog.py", "--size-mb", "4" if args.quick else "16",
                   *(["--ref-python", ref] if (ref := os.environ.get("ESPWATCH_REF_PYTHON")) else [])],
        "triage": ["bench_triage.py", "--logs", "1000" if args.quick else "10000"],
        "startup": ["bench_startup.py", "--runs", "5"],
    }
    failed = []
    try:
        for name, cmd in plan.items():
            if args.only and name not in args.only:
                continue
            print(f"\n===== {name}: {' '.join(cmd)}", flush=True)
            t0 = time.perf_counter()
            rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
            print(f"===== {name}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
            if rc != 0:
                failed.append(name)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
