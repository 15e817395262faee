"""All benchmarks in one command: `python bench/run.py [--quick]`.

Runs, one after the other (they share this machine, so never in parallel):
  bench_scan.py    scan --json throughput and RSS vs grep -c -F -f (512 MB log; --quick: 128 MB)
  bench_decode.py  decoding vs GNU addr2line (cold, warm, in-process, RSS, growth with DWARF size)
  bench_live.py    live pty flood through the monitor vs a plain pyserial loop (30 s; --quick: 8 s)
  bench_replay.py  replay of a 1 GB log: first screen, timeline complete, RSS (--quick: 256 MB)
  bench_coredump.py  coredump verb cold/warm/RSS vs esp-coredump; one RISC-V panic unwound in-process
  bench_binlog.py  binary log decoding, records/s and MB/s, beside esp-idf-monitor's decoder when an
                   interpreter with it is given (ESPWATCH_REF_PYTHON) (16 MB; --quick: 4 MB)
  bench_triage.py  triage of 10,000 generated logs (5 GB): 1 core, all cores, local Dask (--quick: 1,000)
Each prints its own figures and ratios; this script only runs them and reports which failed.
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
    ap.add_argument("--only", choices=["scan", "decode", "live", "replay", "coredump", "binlog", "triage"],
                    action="append",
                    help="run only these (may be repeated)")
    args = ap.parse_args()
    plan = {
        "scan": ["bench_scan.py", "--size-mb", "128" if args.quick else "512"],
        "decode": ["bench_decode.py", *(["--quick"] if args.quick else [])],
        "live": ["bench_live.py", "--seconds", "8" if args.quick else "30"],
        "replay": ["bench_replay.py", "--size-mb", "256" if args.quick else "1024"],
        "coredump": ["bench_coredump.py", "--runs", "3" if args.quick else "5"],
        "binlog": ["bench_binlog.py", "--size-mb", "4" if args.quick else "16",
                   *(["--ref-python", ref] if (ref := os.environ.get("ESPWATCH_REF_PYTHON")) else [])],
        "triage": ["bench_triage.py", "--logs", "1000" if args.quick else "10000"],
    }
    failed = []
    for name, cmd in plan.items():
        if args.only and name not in args.only:
            continue
        print(f"\n===== {name}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        print(f"===== {name}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
