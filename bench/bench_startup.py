"""Benchmark: how long each verb takes to start, from the installed command, beside `python -c pass` and
GNU addr2line measured in the same run.

    python bench/bench_startup.py [--runs 5] [--venv DIR]

Installs the project (not editable) into a private venv (bench/out/startup-venv, reused), compiles its
bytecode, then runs every command once per round, rounds interleaved, and reports the best of the rounds:
  python -c pass            the interpreter alone (the floor)
  espwatch --help           targets: <= 60 ms
  espwatch scan SMALL.log   target: <= 100 ms (a 45-line sample)
  espwatch explain 0x1503, espwatch config
  espwatch decode (warm)    20 addresses with a cached index; target: <= 2x addr2line
  addr2line                 the same 20 addresses, `-pfiaC`
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SMALL = ROOT / "samples" / "brownout-loop.log"
ELF = ROOT / "tests" / "data" / "fixtures" / "rv32-inline-demo" / "demo.elf"
ADDR2LINE = "riscv64-unknown-elf-addr2line"


def venv(path: Path) -> Path:
    py = path / ("Scripts" if os.name == "nt" else "bin") / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", str(ROOT)], check=True)
    site = subprocess.run([str(py), "-c", "import espwatch, os; print(os.path.dirname(espwatch.__file__))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([str(py), "-m", "compileall", "-q", site], check=True, stdout=subprocess.DEVNULL)
    return py


def best(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--venv", type=Path, default=HERE / "out" / "startup-venv")
    args = ap.parse_args()
    py = venv(args.venv)
    exe = py.parent / ("espwatch.exe" if os.name == "nt" else "espwatch")
    addrs = [int(t, 16) for t in (ELF.parent / "addrs.txt").read_text().split()][:20]
    tmp = Path(tempfile.mkdtemp(prefix="espwatch-startup-"))
    env = dict(os.environ, ESPWATCH_CACHE_DIR=str(tmp / "cache"), ESPWATCH_CONFIG=str(tmp / "none.toml"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    hexes = [f"0x{a:08x}" for a in addrs]
    cmds: dict[str, list[str]] = {
        "python -c pass": [str(py), "-c", "pass"],
        "espwatch --version": [str(exe), "--version"],
        "espwatch --help": [str(exe), "--help"],
        "espwatch scan (45 lines)": [str(exe), "scan", "--no-elf", str(SMALL)],
        "espwatch explain 0x1503": [str(exe), "explain", "0x1503"],
        "espwatch config": [str(exe), "config"],
        "espwatch decode, 20 addrs (warm)": [str(exe), "decode", "--elf", str(ELF), *hexes],
    }
    have_a2l = subprocess.run(["which", ADDR2LINE], capture_output=True).returncode == 0
    if have_a2l:
        cmds["addr2line -pfiaC, 20 addrs"] = [ADDR2LINE, "-pfiaC", "-e", str(ELF), *hexes]
    # fill the caches first
    subprocess.run(cmds["espwatch decode, 20 addrs (warm)"], env=env, capture_output=True, check=True)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(args.runs):
        for name, cmd in cmds.items():
            times[name].append(best(cmd, env))
    floor = min(times["python -c pass"])
    a2l = min(times["addr2line -pfiaC, 20 addrs"]) if have_a2l else None
    print(f"start-up, best of {args.runs} interleaved rounds (installed command, bytecode compiled)")
    print(f"{'command':<36} {'best':>8} {'- python':>9}  reference")
    for name, ts in times.items():
        b = min(ts)
        ref = ""
        if name.startswith("espwatch decode") and a2l:
            ref = f"{b / a2l:.1f}x addr2line ({a2l * 1e3:.0f} ms)"
        print(f"{name:<36} {b * 1e3:>6.0f} ms {(b - floor) * 1e3:>6.0f} ms  {ref}")
    if not have_a2l:
        print(f"({ADDR2LINE} is not installed: no addr2line reference)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
