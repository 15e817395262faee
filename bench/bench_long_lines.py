"""Benchmark: `espwatch scan` on logs made of one very long line of pattern literals, against `grep -c -F -f`.

    python bench/bench_long_lines.py [--sizes 40000,1048576] [--runs 3]

Each log is a single line (as a missing line break or binary noise gives) built by repeating every
literal of the built-in patterns, each followed by the characters its regex is made of; it ends with one
normal line. Times, in the same run and on the same page-cached file, best of --runs:
  - `grep -c -F -f LITERALS FILE` (output to a pipe: GNU grep stops at the first match with /dev/null),
  - `espwatch scan --no-elf FILE` (a fresh process, as users run it),
and prints both with their ratio. Before the patterns were rewritten for linear matching, a 40 kB line
cost `scan` 5-16 s (issue 12); the per-line cap (lines.MATCH_LIMIT) bounds what reaches the regexes.
Also prints the slowest pattern regex on a 100 kB adversarial line (tests/test_regex_growth.py's inputs).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from espwatch.patterns import load_patterns  # noqa: E402


def build(path: Path, size: int) -> list[str]:
    pats = load_patterns().matchers
    unit = ""
    literals = []
    for p in pats:
        assert p.rx is not None
        chars = "".join(sorted(set(re.sub(r"\\[A-Za-z]", "", p.rx.pattern)) - set("()[]{}?*+|^$\\")))
        for lit in p.literals:
            literals.append(lit)
            unit += lit + " " + chars[:40] + " "
    line = (unit * (size // len(unit) + 1))[:size]
    last = "E (1) esp_image: Checksum failed. Calculated 0xb3 read 0xcd"
    path.write_text(f"{line}\n{last}\n", encoding="utf-8")
    return sorted(set(literals))


def best(cmd: list[str], runs: int) -> float:
    t = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
        t = min(t, time.perf_counter() - t0)
    return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="40000,1048576")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    espwatch = str(Path(sys.executable).with_name("espwatch"))
    with tempfile.TemporaryDirectory() as tmp:
        lits = Path(tmp) / "literals.txt"
        for size in (int(s) for s in args.sizes.split(",")):
            log = Path(tmp) / f"line-{size}.log"
            literals = build(log, size)
            lits.write_text("\n".join(literals) + "\n", encoding="utf-8")
            t_grep = best(["grep", "-c", "-F", "-f", str(lits), str(log)], args.runs)
            t_scan = best([espwatch, "scan", "--no-elf", str(log)], args.runs)
            print(f"one line of {size:>8} bytes: espwatch scan {t_scan:7.3f} s, "
                  f"grep -c -F -f {t_grep:7.3f} s (x{t_scan / t_grep:.0f})")
    import test_regex_growth as growth

    rows = []
    for name, rx, literals in growth.ALL:
        g, t_big, worst = growth._growth(rx, literals)
        rows.append((t_big, g, name, worst))
    rows.sort(reverse=True)
    t_big, g, name, worst = rows[0]
    print(f"slowest regex on a 100 kB adversarial line: {name} {t_big * 1000:.1f} ms "
          f"(x{g:.1f} from 10 kB; input {worst}); {len(rows)} regexes timed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
