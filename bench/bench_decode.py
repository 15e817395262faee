"""Benchmark: `espwatch decode` against GNU addr2line on the same 20 addresses, in one run.

    python bench/bench_decode.py [--quick] [--sizes 1000,4000,12000] [--runs N] [--compare ESPWATCH]

Run it with the venv's interpreter after `pip install -e .`; bytecode is compiled first. For each ELF
(the fixture ELF files, then generated RISC-V ELF files of 1-15 MB when riscv64-unknown-elf-gcc is
installed), interleaved, best of N runs each:
  addr2line  one `addr2line -pfiaC -e ELF a1..a20` process (what idf.py monitor spawns)
  cold       `espwatch decode --elf ELF a1..a20` with an empty cache folder: reads only the units the
             addresses need (and stores them in the cache)
  warm       the same command again, the index in the cache
  warm-verb  the decode verb alone (bench/decode_verb.py: the CLI without the other verbs' imports)
  python     a bare `python -c pass` (the interpreter's own start, the floor of any Python command)
  RSS        peak resident set size of the cold and warm processes
Times are wall clock and CPU (user + system of the process, from wait4): on a loaded machine the CPU time
is the steadier figure; both ratios are printed.
  cold, other  with --compare ESPWATCH: the same cold run by another install's `espwatch` (another
             checkout's venv), interleaved in the same rounds (an A/B of two versions)
  lookup     in-process time to decode the 20 addresses to text once the index is loaded
  full build in-process time to parse every unit (what the monitor does in the background)
Every answer is compared with addr2line's (agree = identical blocks).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
ADDR2LINE = {94: "xtensa-lx106-elf-addr2line", 243: "riscv64-unknown-elf-addr2line"}
BIN = Path(sys.executable).parent
ESPWATCH = BIN / "espwatch"

sys.path.insert(0, str(HERE))


def machine(elf: Path) -> int:
    return int.from_bytes(elf.read_bytes()[18:20], "little")


def blocks(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith(" (inlined by)"):
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def timed(args: list[str], env: dict | None = None) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS MiB, stdout, CPU seconds) of one process."""
    with tempfile.TemporaryFile() as out:
        t = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} exited {proc.returncode}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read().decode(), usage.ru_utime + usage.ru_stime


def in_process(elf: Path, addrs: list[int], cache: Path) -> tuple[float, float]:
    """(lookup seconds for the 20 addresses on the cached index, full build seconds)."""
    code = (
        "import sys, time\n"
        "from espwatch.symbols import SymbolIndex, addr2line_lines\n"
        "from espwatch.symbols.build import build_index\n"
        "elf, cache = sys.argv[1], sys.argv[2]; addrs = [int(a, 16) for a in sys.argv[3:]]\n"
        "index = SymbolIndex.open(elf, cache_dir=cache); addr2line_lines(index, addrs)\n"
        "best = min((lambda t: (addr2line_lines(index, addrs), time.perf_counter() - t)[1])"
        "(time.perf_counter()) for _ in range(200))\n"
        "t = time.perf_counter(); build_index(elf); full = time.perf_counter() - t\n"
        "print(best, full)\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(elf), str(cache), *[f"0x{a:08x}" for a in addrs]],
                         capture_output=True, text=True, check=True)
    lookup, full = res.stdout.split()
    return float(lookup), float(full)


def measure(elf: Path, addrs: list[int], runs: int, compare: str = "") -> dict:
    tool = ADDR2LINE[machine(elf)]
    hex_addrs = [f"0x{a:08x}" for a in addrs]
    work = Path(tempfile.mkdtemp(prefix="espwatch-bench-"))
    env = dict(os.environ)
    try:
        warm_cache = work / "warm"
        a2l, cold, warm, verb, bare, other = [], [], [], [], [], []
        expected = None
        for i in range(runs):  # interleaved: each round runs every variant once
            a2l.append(timed([tool, "-pfiaC", "-e", str(elf), *hex_addrs]))
            expected = blocks(a2l[-1][2])
            if compare:
                other.append(timed([compare, "decode", "--elf", str(elf), *hex_addrs],
                                   dict(env, ESPWATCH_CACHE_DIR=str(work / f"other{i}"))))
            cold.append(timed([str(ESPWATCH), "decode", "--elf", str(elf), *hex_addrs],
                              dict(env, ESPWATCH_CACHE_DIR=str(work / f"cold{i}"))))
            if i == 0:  # the cache the warm runs use: what one cold run stored
                shutil.copytree(work / "cold0", warm_cache)
            warm.append(timed([str(ESPWATCH), "decode", "--elf", str(elf), *hex_addrs],
                              dict(env, ESPWATCH_CACHE_DIR=str(warm_cache))))
            verb.append(timed([sys.executable, str(HERE / "decode_verb.py"), "--elf", str(elf), *hex_addrs],
                              dict(env, ESPWATCH_CACHE_DIR=str(warm_cache))))
            bare.append(timed([sys.executable, "-c", "pass"]))
        lookup, full = in_process(elf, addrs, warm_cache)
        agree = sum(a == b for a, b in zip(blocks(cold[0][2]), expected, strict=True))
        agree_warm = sum(a == b for a, b in zip(blocks(warm[0][2]), expected, strict=True))
        extra = {}
        if other:
            extra = {"other": min(r[0] for r in other), "other_cpu": min(r[3] for r in other),
                     "other_agree": sum(a == b for a, b in zip(blocks(other[0][2]), expected, strict=True))}
        return {**extra,
            "elf": elf, "size": elf.stat().st_size, "n": len(addrs), "agree": min(agree, agree_warm),
            "a2l": min(r[0] for r in a2l), "cold": min(r[0] for r in cold), "warm": min(r[0] for r in warm),
            "verb": min(r[0] for r in verb), "bare": min(r[0] for r in bare),
            "a2l_cpu": min(r[3] for r in a2l), "cold_cpu": min(r[3] for r in cold),
            "warm_cpu": min(r[3] for r in warm), "verb_cpu": min(r[3] for r in verb),
            "bare_cpu": min(r[3] for r in bare), "cold_rss": max(r[1] for r in cold),
            "warm_rss": max(r[1] for r in warm), "a2l_rss": max(r[1] for r in a2l), "lookup": lookup,
            "full": full, "cache_kib": sum(f.stat().st_size for f in warm_cache.glob("*.idx")) / 1024,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def debug_size(elf: Path) -> int:
    from espwatch.symbols.elf_file import read_elf

    img = read_elf(str(elf))
    return sum(s.size for s in img.sections if s.name.startswith(".debug"))


def pick_addresses(elf: Path, n: int = 20, seed: int = 7) -> list[int]:
    """n addresses strictly inside generated functions, from n different units when possible."""
    from espwatch.symbols.elf_file import read_elf

    img = read_elf(str(elf))
    syms = [(name, value, size) for _o, name, value, size, kind, _b, _h, _s in img.iter_symbols()
            if kind == "STT_FUNC" and name.startswith("f_") and size > 8]
    rng = random.Random(seed)
    by_unit: dict[str, list] = {}
    for s in syms:
        by_unit.setdefault(s[0].split("_")[1], []).append(s)
    units = sorted(by_unit)
    out = []
    for i in range(n):
        _name, value, size = rng.choice(by_unit[units[i % len(units)]])
        out.append(value + 2 * rng.randrange(1, size // 2))
    return out


def print_table(rows: list[dict], title: str) -> None:
    print(f"\n## {title}")
    print("each cell: wall ms / CPU ms (ratio to addr2line: wall x / CPU x)")
    hdr = (f"{'ELF':<34} {'size':>7} | {'addr2line':>11} | {'cold':>23} | {'warm':>21} | "
           f"{'warm, verb alone':>21} | {'python -c pass':>14} | {'RSS MiB c/w/a2l':>17} | {'lookup':>7} | "
           f"{'full':>5} | {'cache':>6} | agree")
    print(hdr)
    print("-" * len(hdr))

    def cell(r: dict, key: str, width: int) -> str:
        wall, cpu = r[key], r[key + "_cpu"]
        a2l_cpu = max(r["a2l_cpu"], 1e-4)
        text = f"{wall * 1e3:.0f}/{cpu * 1e3:.0f} ({wall / r['a2l']:.1f}x/{cpu / a2l_cpu:.1f}x)"
        return f"{text:>{width}}"

    for r in rows:
        rss = f"{r['cold_rss']:.0f}/{r['warm_rss']:.0f}/{r['a2l_rss']:.0f}"
        print(f"{r['label']:<34} {r['size'] / 1e6:>6.2f}M | "
              f"{r['a2l'] * 1e3:>4.0f}/{r['a2l_cpu'] * 1e3:<4.0f} ms | {cell(r, 'cold', 23)} | "
              f"{cell(r, 'warm', 21)} | {cell(r, 'verb', 21)} | "
              f"{r['bare'] * 1e3:>6.0f}/{r['bare_cpu'] * 1e3:<4.0f}ms | {rss:>17} | "
              f"{r['lookup'] * 1e3:>5.2f}ms | {r['full']:>4.1f}s | {r['cache_kib']:>4.0f}K | "
              f"{r['agree']}/{r['n']}")
        if "other" in r:
            print(f"{'  cold, other espwatch':<34} {'':>7} | {'':>11} | {cell(r, 'other', 23)} | "
                  f"this one: {r['cold'] / r['other']:.2f}x wall, "
                  f"{r['cold_cpu'] / r['other_cpu']:.2f}x CPU | "
                  f"agree {r['other_agree']}/{r['n']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer runs, smaller generated ELF files")
    ap.add_argument("--sizes", default="", help="generated function counts, e.g. 1000,4000,12000")
    ap.add_argument("--runs", type=int, default=0, help="runs per variant (best is kept)")
    ap.add_argument("--gen-dir", default="", help="keep (and reuse) the generated ELF files in this folder")
    ap.add_argument("--compare", default="", metavar="ESPWATCH",
                    help="another install's espwatch executable: its cold runs interleaved with this one's")
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    if not ESPWATCH.exists():
        print(f"{ESPWATCH} not found: run with the venv's python after `pip install -e .`")
        return 1
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "monitor")], check=True,
                   stdout=subprocess.DEVNULL)
    t_start = time.perf_counter()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; best of "
          f"{runs} interleaved runs; x = ratio to GNU addr2line measured in the same rounds")
    rows = []
    pairs = (("esp32-app-template", "esp32-app-template.elf"), ("esp32c3-coredump-app", "esp32c3.elf"),
             ("esp32-coredump-app", "esp32.elf"))
    for folder, name in pairs:
        elf = FIXTURES / folder / name
        bt = FIXTURES / folder / "backtrace20.txt"
        if not elf.exists():
            print(f"skipping {folder}: not found")
            continue
        if shutil.which(ADDR2LINE[machine(elf)]) is None:
            print(f"skipping {folder}: {ADDR2LINE[machine(elf)]} not installed")
            continue
        addrs = ([int(t, 16) for t in bt.read_text().split()] if bt.exists()
                 else [int(t, 16) for t in (FIXTURES / folder / "addrs.txt").read_text().split()][:20])
        r = measure(elf, addrs, runs, args.compare)
        r["label"] = name
        r["debug"] = debug_size(elf)
        rows.append(r)
    print_table(rows, "Fixture ELF files (20 addresses: backtrace20.txt, else the first 20 of addrs.txt)")

    import decode_gen

    if not decode_gen.available():
        print("\nriscv64-unknown-elf-gcc not installed: skipping the generated-ELF scaling run "
              "(apt-get install gcc-riscv64-unknown-elf)")
        return 0
    default_sizes = [1000, 4000] if args.quick else [1000, 4000, 12000]
    sizes = [int(s) for s in args.sizes.split(",") if s] or default_sizes
    gen_rows = []
    tmp = Path(args.gen_dir) if args.gen_dir else Path(tempfile.mkdtemp(prefix="espwatch-gen-"))
    try:
        for n in sizes:
            elf = tmp / f"g{n}" / "app.elf"
            t = time.perf_counter()
            if not elf.exists():
                elf = decode_gen.generate(tmp / f"g{n}", n)
            gen_s = time.perf_counter() - t
            r = measure(elf, pick_addresses(elf), runs, args.compare)
            r["label"] = f"generated {n} functions" + (f" (gcc {gen_s:.0f}s)" if gen_s > 1 else "")
            r["debug"] = debug_size(elf)
            gen_rows.append(r)
    finally:
        if not args.gen_dir:
            shutil.rmtree(tmp, ignore_errors=True)
    print_table(gen_rows, "Generated RISC-V ELF files (rv32imc -O2 -g, static inline helpers, 250 per unit; "
                          "20 addresses in 20 different units when there are that many)")
    if len(gen_rows) >= 2:
        a, b = gen_rows[0], gen_rows[-1]
        print(f"\nELF grows {b['size'] / a['size']:.1f}x: cold {b['cold'] / a['cold']:.1f}x wall, "
              f"{b['cold_cpu'] / a['cold_cpu']:.1f}x CPU; warm {b['warm_cpu'] / a['warm_cpu']:.1f}x CPU; "
              f"full build {b['full'] / a['full']:.1f}x; addr2line {b['a2l_cpu'] / a['a2l_cpu']:.1f}x CPU")
    print(f"\nbenchmark took {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
