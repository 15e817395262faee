"""One measured decode in a fresh process (helper of bench_decode.py; prints one JSON line).

Usage: python decode_child.py ELF ADDRS_FILE CACHE_DIR [REPEAT]
"""

from __future__ import annotations

import json
import resource
import sys
import time

T_START = time.perf_counter()
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from espwatch.symbols import SymbolIndex, addr2line_lines  # noqa: E402

T_IMPORTED = time.perf_counter()


def main() -> None:
    elf, addrs_file, cache_dir = sys.argv[1:4]
    repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    with open(addrs_file) as f:
        addrs = [int(tok, 16) for tok in f.read().split()]
    t0 = time.perf_counter()
    index = SymbolIndex.load(elf, cache_dir=cache_dir)
    t1 = time.perf_counter()
    text = addr2line_lines(index, addrs)
    t2 = time.perf_counter()
    per_bt = []
    for _ in range(repeat):
        a = time.perf_counter()
        addr2line_lines(index, addrs)
        per_bt.append(time.perf_counter() - a)
    per_bt.sort()
    print(json.dumps({
        "import_s": T_IMPORTED - T_START,
        "load_s": t1 - t0,
        "first_decode_s": t2 - t1,
        "in_process_s": t2 - t0,
        "from_cache": index.from_cache,
        "latency_median_s": per_bt[len(per_bt) // 2] if per_bt else None,
        "latency_min_s": per_bt[0] if per_bt else None,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "text": text,
    }))


if __name__ == "__main__":
    main()
