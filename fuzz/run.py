"""Run fuzz targets: `python fuzz/run.py TARGET|all [--seconds S | --runs N] [--engine random|atheris]`.

    python fuzz/run.py --list                      # the targets
    python fuzz/run.py lines --seconds 60          # the built-in mutation engine, no extra package
    python fuzz/run.py all --seconds 300 --engine atheris   # libFuzzer with coverage (pip install atheris)
    python fuzz/run.py --replay                    # every kept crasher, against every target it belongs to

Prints one line per target: inputs run, seconds, findings. Findings are kept in fuzz/crashers/TARGET/
(commit them: tests/test_fuzz.py replays every one). Exit status 1 when something was found.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz.harness import CRASHERS, crashers, fuzz, run_one  # noqa: E402
from fuzz.targets import all_targets  # noqa: E402


def _atheris(name: str, seconds: float | None, runs: int | None) -> tuple[int, float, list[str]]:
    """Run one target under atheris/libFuzzer in a child process; (inputs, seconds, crash files)."""
    target = all_targets()[name]
    out_dir = CRASHERS / name
    out_dir.mkdir(parents=True, exist_ok=True)
    before = set(out_dir.iterdir())
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i, seed in enumerate(target.seeds() + [p.read_bytes() for p in crashers(name)]):
            (corpus / f"seed-{i}").write_bytes(seed[: target.max_len])
        dict_file = Path(tmp) / "tokens.dict"
        dict_file.write_text("".join('"' + "".join(f"\\x{b:02x}" for b in tok) + '"\n'
                                     for tok in target.tokens))
        args = [sys.executable, "-m", "fuzz.atheris_main", name, str(corpus), f"-max_len={target.max_len}",
                f"-artifact_prefix={out_dir}/", "-print_final_stats=1", "-timeout=10", "-rss_limit_mb=4096"]
        if target.tokens:
            args.append(f"-dict={dict_file}")
        if seconds is not None:
            args.append(f"-max_total_time={int(seconds)}")
        if runs is not None:
            args.append(f"-runs={runs}")
        start = time.monotonic()
        proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
        took = time.monotonic() - start
    units = re.search(r"stat::number_of_executed_units:\s*(\d+)", proc.stderr)
    if units is None:
        sys.stderr.write(proc.stderr[-3000:])
    new = sorted(str(p) for p in set(out_dir.iterdir()) - before)
    return int(units.group(1)) if units else 0, took, new


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("target", nargs="?", help="a target name, or all")
    p.add_argument("--seconds", type=float, help="time budget per target")
    p.add_argument("--runs", type=int, help="inputs per target")
    p.add_argument("--engine", choices=("random", "atheris"), default="random")
    p.add_argument("--seed", type=int, default=0, help="random engine: seed of the mutations")
    p.add_argument("--list", action="store_true", help="list the targets")
    p.add_argument("--replay", action="store_true", help="run every kept crasher")
    args = p.parse_args(argv)
    targets = all_targets()
    if args.list:
        for t in targets.values():
            print(f"{t.name:<16} {t.about}")
        return 0
    if args.replay:
        bad = 0
        for t in targets.values():
            for path in crashers(t.name):
                found = run_one(t, path.read_bytes())
                if found:
                    bad += 1
                    print(f"{t.name}: {path.name}: {found.error} at {found.where}")
        print(f"replayed the crashers: {bad} still failing")
        return 1 if bad else 0
    if not args.target:
        p.error("name a target (or all, --list, --replay)")
    names = list(targets) if args.target == "all" else [args.target]
    unknown = [n for n in names if n not in targets]
    if unknown:
        p.error(f"unknown target {unknown[0]} (see --list)")
    if args.seconds is None and args.runs is None:
        args.seconds = 30.0
    found_any = False
    for name in names:
        if args.engine == "atheris":
            n, took, new = _atheris(name, args.seconds, args.runs)
            print(f"{name:<16} {n:>10,} inputs  {took:7.0f} s  {len(new)} crash file(s) (atheris)",
                  flush=True)
            for f in new:
                print(f"    {os.path.relpath(f, ROOT)}")
            found_any |= bool(new)
            continue
        stats = fuzz(targets[name], runs=args.runs, seconds=args.seconds, seed=args.seed)
        print(f"{name:<16} {stats.inputs:>10,} inputs  {stats.seconds:7.0f} s  "
              f"{len(stats.findings)} finding(s)", flush=True)
        for f in stats.findings:
            where = os.path.relpath(f.path, ROOT) if f.path else ""
            print(f"    {f.error} at {f.where}  {where}")
        found_any |= bool(stats.findings)
    return 1 if found_any else 0


if __name__ == "__main__":
    sys.exit(main())
