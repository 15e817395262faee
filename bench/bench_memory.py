"""Benchmark: peak memory, time and output size of `report`, text `scan` and `scan --json` on 1 GiB logs.

    python bench/bench_memory.py [--size-mb 1024] [--workdir DIR] [--only healthy,crash,bootloop]

Generated logs (tests/loggen.py, cached in --workdir):
  healthy   ESP-IDF info lines with every corpus log spliced in every 4000 lines (the scan benchmark's log);
  crash     crash-dense: every 10th line a panic's first line or a backtrace from the corpus, filler between;
  bootloop  the corpus logs back to back, no filler: a boot every few dozen lines (the most boots per byte).

Each command runs once per log (the machine is shared: no loops over 1 GiB inputs), stdout to a file, with
its peak RSS (GNU time `%M`, else wait4), wall and CPU time (wait4) and the size of what it wrote. Beside it,
in the same run: `wc -l` over the same file (the cost of reading it) and the command on an empty log (the
process's memory without input). Bytecode is compiled first; the installed console script is measured.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from common import cached_log, compile_bytecode, espwatch_cmd, loggen, need, run_child

COMMANDS = {
    "report": ["report"],
    "scan (text)": ["scan"],
    "scan --json": ["scan", "--json"],
}


def boot_loop_chunks(size: int) -> Iterator[bytes]:
    """The corpus logs back to back until `size` bytes."""
    logs = loggen.corpus_logs()
    written = i = 0
    while written < size:
        chunk = logs[i % len(logs)]
        i += 1
        written += len(chunk)
        yield chunk


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="size of each generated log (MiB)")
    ap.add_argument("--workdir", type=Path, help="keep the generated logs here and reuse them")
    ap.add_argument("--only", default="healthy,crash,bootloop", help="logs to measure, comma-separated")
    args = ap.parse_args()
    size = args.size_mb << 20
    work = args.workdir or Path(tempfile.mkdtemp(prefix="espwatch-mem-"))
    compile_bytecode()
    wc = need("wc")
    makers = {
        "healthy": lambda: loggen.big_log_chunks(size),
        "crash": lambda: loggen.crash_dense_chunks(size),
        "bootloop": lambda: boot_loop_chunks(size),
    }
    exe = espwatch_cmd()
    empty = work / "empty.log"
    empty.write_bytes(b"")
    out = work / "out.txt"
    print(f"espwatch: {' '.join(exe)}; logs in {work}")
    for name, argv in COMMANDS.items():
        r = run_child([*exe, *argv, str(empty)], out=out)
        print(f"  {name:<12} on an empty log: peak RSS {r.rss_mb:6.1f} MiB (the process without input)")
    for which in args.only.split(","):
        path, nbytes = cached_log(work, f"{which}-{args.size_mb}m.log", makers[which])
        r = run_child([wc, "-l", str(path)], out=out)
        lines = int(out.read_text().split()[0])
        print(f"\n--- {which}: {nbytes / (1 << 20):,.0f} MiB, {lines:,} lines")
        print(f"  {'wc -l (reference)':<14} peak RSS {r.rss_mb:7.1f} MiB  wall {r.wall:7.1f} s  "
              f"cpu {r.cpu:7.1f} s")
        for name, argv in COMMANDS.items():
            r = run_child([*exe, *argv, str(path)], out=out)
            written = out.stat().st_size
            print(f"  {name:<14} peak RSS {r.rss_mb:7.1f} MiB  wall {r.wall:7.1f} s  cpu {r.cpu:7.1f} s  "
                  f"output {written:,} bytes", flush=True)
            if name == "report":
                head = out.read_text(encoding="utf-8").splitlines()[2]
                print(f"    {head}")
    out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
