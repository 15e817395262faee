"""Benchmark: how long each verb takes to start, from the installed command, beside `python -c pass` and
GNU addr2line measured in the same run.

    python bench/bench_startup.py [--runs 5] [--venv DIR] [--fast]

Builds the wheel (its size is printed), installs it into a private venv (bench/out/startup-venv, reused;
with --fast the `fast` extra too, hyperscan, in bench/out/startup-venv-fast), compiles its bytecode, then
runs every command once per round, rounds interleaved, and reports the best of the rounds:
  python -c pass            the interpreter alone (the floor); `python -I -S -c pass` without site-packages
  espwatch --help           targets: <= 60 ms
  espwatch scan SMALL.log   target: <= 100 ms (a 45-line sample)
  espwatch explain 0x1503, espwatch config
  espwatch decode (warm)    20 addresses with a cached index; target: <= 2x addr2line (on the 3.8 MB
                            esp32-app-template fixture ELF when ../shared is there, else the small demo ELF)
  addr2line                 the same 20 addresses, `-pfiaC`
  floors                    `python -c "import ..."` of only the outside modules a verb cannot start
                            without (its stdlib and dependency imports, measured from a `-X importtime` of
                            the verb): what is left for espwatch's own code and work
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SMALL = ROOT / "samples" / "brownout-loop.log"
BIG_ELF = ROOT.parent / "shared" / "fixtures" / "esp32-app-template" / "esp32-app-template.elf"
SMALL_ELF = ROOT / "tests" / "data" / "fixtures" / "rv32-inline-demo" / "demo.elf"
ADDR2LINE = {"esp32-app-template.elf": "xtensa-lx106-elf-addr2line",
             "demo.elf": "riscv64-unknown-elf-addr2line"}


FLOORS = {
    "scan": ("re", "argparse", "pathlib", "dataclasses", "typing", "pickle", "zlib", "array", "bisect",
             "heapq", "regex", "ahocorasick_rs"),
    "decode": ("re", "pathlib", "struct", "array", "bisect", "zlib", "importlib"),
}
"""Outside modules each verb imports on every start (stdlib and dependencies), for its floor line."""


def build_wheel(out: Path) -> Path:
    """The project's wheel, built afresh into `out`."""
    for old in out.glob("espwatch-*.whl"):
        old.unlink()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                   check=True, stdout=subprocess.DEVNULL)
    return next(out.glob("espwatch-*.whl"))


def venv(path: Path, wheel: Path, extras: str = "") -> Path:
    py = path / ("Scripts" if os.name == "nt" else "bin") / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)],
                   check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"{wheel}{extras}"], check=True)
    site = subprocess.run([str(py), "-c", "import espwatch, os; print(os.path.dirname(espwatch.__file__))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([str(py), "-m", "compileall", "-q", site], check=True, stdout=subprocess.DEVNULL)
    return py


def once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system, from wait4; steadier on a busy machine)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if hasattr(os, "wait4"):
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        cpu = usage.ru_utime + usage.ru_stime
    else:  # Windows: wall time only
        proc.wait()
        cpu = float("nan")
    return time.perf_counter() - t, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--venv", type=Path, help="the venv to install into (default: bench/out/startup-venv, "
                    "or startup-venv-fast with --fast)")
    ap.add_argument("--fast", action="store_true", help="install the `fast` extra (hyperscan) too")
    args = ap.parse_args()
    wheel = build_wheel(HERE / "out" / "wheel")
    folder = args.venv or HERE / "out" / ("startup-venv-fast" if args.fast else "startup-venv")
    py = venv(folder, wheel, "[fast]" if args.fast else "")
    exe = py.parent / ("espwatch.exe" if os.name == "nt" else "espwatch")
    elf = BIG_ELF if BIG_ELF.is_file() else SMALL_ELF
    tool = ADDR2LINE[elf.name]
    addrs = [int(t, 16) for t in (elf.parent / "addrs.txt").read_text().split()][:20]
    tmp = Path(tempfile.mkdtemp(prefix="espwatch-startup-"))
    env = dict(os.environ, ESPWATCH_CACHE_DIR=str(tmp / "cache"), ESPWATCH_CONFIG=str(tmp / "none.toml"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    hexes = [f"0x{a:08x}" for a in addrs]
    cmds: dict[str, list[str]] = {
        "python -I -S -c pass": [str(py), "-I", "-S", "-c", "pass"],
        "python -c pass": [str(py), "-c", "pass"],
        "espwatch --version": [str(exe), "--version"],
        "espwatch --help": [str(exe), "--help"],
        "espwatch scan (45 lines)": [str(exe), "scan", "--no-elf", str(SMALL)],
        "espwatch explain 0x1503": [str(exe), "explain", "0x1503"],
        "espwatch config": [str(exe), "config"],
        "espwatch decode, 20 addrs (warm)": [str(exe), "decode", "--elf", str(elf), *hexes],
    }
    for verb, mods in FLOORS.items():
        cmds[f"floor: {verb}'s imports"] = [str(py), "-c", f"import {', '.join(mods)}"]
    have_a2l = shutil.which(tool) is not None
    if have_a2l:
        cmds["addr2line -pfiaC, 20 addrs"] = [tool, "-pfiaC", "-e", str(elf), *hexes]
    # fill the caches first (symbol index, built-in patterns and rules, prefilter database)
    for name in ("espwatch decode, 20 addrs (warm)", "espwatch scan (45 lines)", "espwatch explain 0x1503"):
        subprocess.run(cmds[name], env=env, capture_output=True)
    engine = subprocess.run([str(exe), "--version"], env=env, capture_output=True, text=True).stdout
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(args.runs):
        for name, cmd in cmds.items():
            wall, cpu = once(cmd, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    floor = min(walls["python -c pass"])
    a2l = min(walls["addr2line -pfiaC, 20 addrs"]) if have_a2l else None
    a2l_cpu = min(cpus["addr2line -pfiaC, 20 addrs"]) if have_a2l else None
    print(f"start-up, best of {args.runs} interleaved rounds (installed command, bytecode compiled, warm "
          f"caches); decode on {elf.name}; {engine.strip().splitlines()[-1]}")
    print(f"wheel: {wheel.name}, {wheel.stat().st_size / 1024:.0f} KiB")
    targets = {"espwatch --help": (60, "<= 60 ms"), "espwatch scan (45 lines)": (100, "<= 100 ms")}
    print(f"{'command':<36} {'wall':>8} {'- python':>9} {'CPU':>8}  reference / target")
    for name in cmds:
        b, c = min(walls[name]), min(cpus[name])
        ref = ""
        if name in targets:
            limit, text = targets[name]
            ref = f"target {text}: {'met' if b * 1e3 <= limit else 'NOT met'}"
        if name.startswith("espwatch decode") and a2l and a2l_cpu:
            ref = (f"{b / a2l:.1f}x addr2line wall, {c / a2l_cpu:.1f}x CPU; target <= 2x: "
                   f"{'met' if b <= 2 * a2l else 'NOT met'}")
        print(f"{name:<36} {b * 1e3:>6.0f} ms {(b - floor) * 1e3:>6.0f} ms {c * 1e3:>6.0f} ms  {ref}")
    if not have_a2l:
        print(f"({tool} is not installed: no addr2line reference)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
