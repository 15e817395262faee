"""Benchmark: espwatch's pure-Python decoder against GNU addr2line on the same 20-frame backtrace.

    python bench/bench_decode.py [--quick]

For each ELF, in the same run:
  addr2line  one `addr2line -pfiaC -e ELF a1..a20` process (what idf.py monitor spawns), median of 5
  (a) cold   a fresh Python process with an empty cache dir: import + index build + first decode
  (b) warm   a fresh Python process with the cached index: import + cache load + first decode
  (c) lat    in-process time to decode 20 addresses to addr2line text once the index is loaded
  RSS        peak resident set size of the cold and warm processes
Whole-process wall times (interpreter start included) are compared with addr2line's; the in-process part
(without interpreter start and imports) is shown too. When riscv64-unknown-elf-gcc is installed, RISC-V
ELF files of growing DWARF size are generated to show how build, load and lookup scale.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
CHILD = HERE / "decode_child.py"
ADDR2LINE = {94: "xtensa-lx106-elf-addr2line", 243: "riscv64-unknown-elf-addr2line"}

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))


def machine(elf: Path) -> int:
    data = elf.read_bytes()[:20]
    return int.from_bytes(data[18:20], "little")


def run_addr2line(elf: Path, addrs: list[int], runs: int) -> tuple[float, list[str]]:
    tool = ADDR2LINE[machine(elf)]
    args = [tool, "-pfiaC", "-e", str(elf), *[f"0x{a:08x}" for a in addrs]]
    times = []
    out = ""
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - t)
    blocks: list[str] = []
    for line in out.splitlines():
        if line.startswith(" (inlined by)"):
            blocks[-1] += "\n" + line
        else:
            blocks.append(line)
    return statistics.median(times), blocks


def run_child(elf: Path, addrs_file: Path, cache: Path, repeat: int = 0) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    t = time.perf_counter()
    res = subprocess.run([sys.executable, str(CHILD), str(elf), str(addrs_file), str(cache), str(repeat)],
                         capture_output=True, text=True, check=True, env=env)
    wall = time.perf_counter() - t
    return wall, json.loads(res.stdout)


def measure(elf: Path, addrs: list[int], runs: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="espwatch-bench-"))
    try:
        addrs_file = work / "addrs.txt"
        addrs_file.write_text("\n".join(f"0x{a:08x}" for a in addrs) + "\n")
        a2l_s, a2l_text = run_addr2line(elf, addrs, 5)
        cold = []
        for i in range(runs):
            cache = work / f"cold{i}"
            cold.append(run_child(elf, addrs_file, cache))
            assert not cold[-1][1]["from_cache"]
        warm_cache = work / "cold0"
        warm = [run_child(elf, addrs_file, warm_cache, repeat=0) for _ in range(5)]
        assert all(w[1]["from_cache"] for w in warm)
        _, lat = run_child(elf, addrs_file, warm_cache, repeat=300)
        cache_bytes = sum(f.stat().st_size for f in warm_cache.glob("*.idx"))
        agree = sum(a == b for a, b in zip(cold[0][1]["text"], a2l_text, strict=True))

        def med(items, key=None):
            return statistics.median(x[0] if key is None else x[1][key] for x in items)

        return {
            "elf": elf, "size": elf.stat().st_size, "a2l_s": a2l_s, "agree": agree, "n": len(addrs),
            "cold_wall": med(cold), "cold_in": med(cold, "in_process_s"), "cold_build": med(cold, "load_s"),
            "cold_rss": max(c[1]["rss_mib"] for c in cold),
            "warm_wall": med(warm), "warm_in": med(warm, "in_process_s"), "warm_load": med(warm, "load_s"),
            "warm_rss": max(w[1]["rss_mib"] for w in warm), "import_s": med(warm, "import_s"),
            "lat": lat["latency_median_s"], "cache_kib": cache_bytes / 1024,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def debug_size(elf: Path) -> int:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        e = ELFFile(f)
        return sum(s["sh_size"] for s in e.iter_sections() if s.name.startswith(".debug"))


def pick_addresses(elf: Path, n: int = 20, seed: int = 7) -> list[int]:
    """n addresses strictly inside generated functions, from n different units when possible."""
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        syms = [(s.name, s["st_value"], s["st_size"]) for s in table.iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC" and s.name.startswith("f_") and s["st_size"] > 8]
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
    hdr = (f"{'ELF':<34} {'size':>8} {'debug':>8} | {'a2l ms':>7} | {'(a) cold ms':>11} {'x':>6} "
           f"{'build':>6} | {'(b) warm ms':>11} {'x':>5} {'load':>5} | {'(c) 20 fr ms':>12} | "
           f"{'RSS cold/warm MiB':>17} | {'cache KiB':>9} | agree")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['label']:<34} {r['size'] / 1e6:>7.2f}M {r['debug'] / 1e6:>7.2f}M | "
              f"{r['a2l_s'] * 1e3:>7.1f} | {r['cold_wall'] * 1e3:>11.0f} "
              f"{r['cold_wall'] / r['a2l_s']:>5.0f}x {r['cold_build'] * 1e3:>6.0f} | "
              f"{r['warm_wall'] * 1e3:>11.1f} {r['warm_wall'] / r['a2l_s']:>4.1f}x "
              f"{r['warm_load'] * 1e3:>5.1f} | {r['lat'] * 1e3:>12.3f} | "
              f"{r['cold_rss']:>8.1f}/{r['warm_rss']:<8.1f} | {r['cache_kib']:>9.0f} | {r['agree']}/{r['n']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer cold runs, smaller generated ELF files")
    ap.add_argument("--sizes", default="", help="generated function counts, e.g. 1000,4000,12000")
    args = ap.parse_args()
    runs = 2 if args.quick else 3
    t_start = time.perf_counter()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; times are medians; "
          "x = ratio to GNU addr2line (one process, 20 addresses)")
    rows = []
    pairs = (("esp32-app-template", "esp32-app-template.elf"), ("esp32c3-coredump-app", "esp32c3.elf"))
    for folder, name in pairs:
        elf = FIXTURES / folder / name
        bt = FIXTURES / folder / "backtrace20.txt"
        if not elf.exists() or not bt.exists():
            print(f"skipping {folder}: not found")
            continue
        if shutil.which(ADDR2LINE[machine(elf)]) is None:
            print(f"skipping {folder}: {ADDR2LINE[machine(elf)]} not installed")
            continue
        r = measure(elf, [int(t, 16) for t in bt.read_text().split()], runs)
        r["label"] = name
        r["debug"] = debug_size(elf)
        rows.append(r)
    print_table(rows, "Fixture ELF files (backtrace20.txt)")
    if rows:
        r = rows[0]
        print(f"\ntargets on {r['label']}: (c) {r['lat'] * 1e3:.3f} ms <= 1 ms; "
              f"(b) {r['warm_wall'] / r['a2l_s']:.1f}x <= 5x addr2line; (a) {r['cold_wall']:.2f} s <= 1 s; "
              f"RSS {max(r['cold_rss'], r['warm_rss']):.0f} MiB < 150 MiB")
        print(f"in-process (no interpreter start / imports): cold {r['cold_in'] * 1e3:.0f} ms, "
              f"warm {r['warm_in'] * 1e3:.1f} ms; import of espwatch.symbols {r['import_s'] * 1e3:.1f} ms")

    import decode_gen

    if not decode_gen.available():
        print("\nriscv64-unknown-elf-gcc not installed: skipping the generated-ELF scaling run "
              "(apt-get install gcc-riscv64-unknown-elf)")
        return 0
    default_sizes = [500, 2000] if args.quick else [1000, 4000, 12000]
    sizes = [int(s) for s in args.sizes.split(",") if s] or default_sizes
    gen_rows = []
    with tempfile.TemporaryDirectory(prefix="espwatch-gen-") as tmp:
        for n in sizes:
            t = time.perf_counter()
            elf = decode_gen.generate(Path(tmp) / f"g{n}", n)
            gen_s = time.perf_counter() - t
            r = measure(elf, pick_addresses(elf), runs)
            r["label"] = f"generated {n} functions (gcc {gen_s:.0f}s)"
            r["debug"] = debug_size(elf)
            gen_rows.append(r)
    print_table(gen_rows, "Generated RISC-V ELF files (rv32imc -O2 -g, static inline helpers, 250 per unit)")
    if len(gen_rows) >= 2:
        a, b = gen_rows[0], gen_rows[-1]
        grow = b["debug"] / a["debug"]
        print(f"\nDWARF grows {grow:.1f}x: build (in-process) {b['cold_build'] / a['cold_build']:.1f}x, "
              f"cache load {b['warm_load'] / a['warm_load']:.1f}x, lookup (c) {b['lat'] / a['lat']:.2f}x, "
              f"addr2line {b['a2l_s'] / a['a2l_s']:.1f}x")
    print(f"\nbenchmark took {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
