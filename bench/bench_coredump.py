"""Benchmark: `espwatch coredump` on the core dump fixtures, and unwinding one RISC-V panic in-process.

    python bench/bench_coredump.py [--runs N]

Measured in the same run, with the installed command (`.venv/bin/espwatch`, compiled bytecode) and best of
N runs, cold and warm interleaved:
  cold   `espwatch coredump DUMP --elf ELF` with an empty cache folder: symbol index + CFI table built
  warm   the same with both cached
  RSS    peak resident set size of the process (from wait4)
  esp-coredump `info_corefile` on the same files, when it and the chip's GDB are installed; otherwise the
         line says why it was not measured (esp-coredump cannot work without Espressif's GDB)
  panic  in-process time to unwind and decode one RISC-V panic (register dump + 1 KB `Stack memory:`,
         made from the ESP32-C3 fixture's crashed task) once the ELF's index and CFI table are loaded
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
FIXTURES = ROOT.parent / "shared" / "fixtures"
CASES = [  # the largest core dump (Xtensa, 6 tasks) and the largest ELF (RISC-V)
    ("esp32-coredump-app", "coredump.b64", "esp32.elf", "xtensa-esp32-elf-gdb"),
    ("esp32c3-coredump-app", "coredump.b64", "esp32c3.elf", "riscv32-esp-elf-gdb"),
]
sys.path.insert(0, str(ROOT / "tests"))


def espwatch_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("espwatch")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "espwatch"]


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(wall seconds, exit status, peak RSS in kB) of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.stderr.close()
    return wall, os.waitstatus_to_exitcode(status), usage.ru_maxrss


def bench_command(folder: str, dump: str, elf: str, gdb: str, runs: int) -> None:
    d = FIXTURES / folder
    work = Path(tempfile.mkdtemp(prefix="espwatch-bench-cd-"))
    try:
        base = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        cmd = [*espwatch_cmd(), "coredump", str(d / dump), "--elf", str(d / elf)]
        warm_env = dict(base, ESPWATCH_CACHE_DIR=str(work / "warm"))
        run(cmd, warm_env)  # fill the warm cache
        cold, warm = [], []
        for i in range(runs):
            cold.append(run(cmd, dict(base, ESPWATCH_CACHE_DIR=str(work / f"cold{i}"))))
            warm.append(run(cmd, warm_env))
        for label, rows in (("cold", cold), ("warm", warm)):
            assert all(r[1] == 0 for r in rows), f"espwatch coredump failed: {rows}"
            best = min(r[0] for r in rows)
            rss = max(r[2] for r in rows)
            print(f"  {folder:24} espwatch coredump {label}: {best * 1000:7.0f} ms  "
                  f"peak RSS {rss / 1024:6.1f} MB")
        size = (d / elf).stat().st_size
        print(f"  {'':24} (ELF {size / 1e6:.1f} MB, dump {len((d / dump).read_bytes())} bytes of base64, "
              f"best of {runs})")
        esp_coredump(folder, d / dump, d / elf, gdb, base, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def esp_coredump(folder: str, dump: Path, elf: Path, gdb: str, env: dict[str, str], runs: int) -> None:
    exe = shutil.which("esp-coredump") or str(Path(sys.executable).with_name("esp-coredump"))
    if not Path(exe).exists():
        print(f"  {folder:24} esp-coredump info_corefile: not measured: esp-coredump is not installed "
              "(`pip install esp-coredump`); it also needs Espressif's GDB")
        return
    args = [exe, "info_corefile", "--core", str(dump), "--core-format", "b64", str(elf)]
    if shutil.which(gdb) is None:
        t = time.perf_counter()
        res = subprocess.run(args, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        said = next((ln for ln in (res.stdout + res.stderr).splitlines() if "GDB" in ln), "").strip()
        print(f"  {folder:24} esp-coredump info_corefile: no result: {gdb} is not installed here; it printed "
              f"{said[:60]!r} after {wall * 1000:.0f} ms (exit {res.returncode}), so no time to compare")
        return
    rows = [run(args, env) for _ in range(runs)]
    best = min(r[0] for r in rows)
    print(f"  {folder:24} esp-coredump info_corefile: {best * 1000:7.0f} ms  peak RSS "
          f"{max(r[2] for r in rows) / 1024:6.1f} MB (exit {rows[0][1]})")


def bench_panic(runs: int) -> None:
    from test_riscv_panic_logs import dump_memory, panic_log

    from espwatch.coredump import decode_coredump, load_elf
    from espwatch.unwind.logpanic import decode_stack_dump

    d = FIXTURES / "esp32c3-coredump-app"
    with tempfile.TemporaryDirectory() as cache:
        index, program = load_elf(d / "esp32c3.elf", cache_dir=cache)
        data = (d / "coredump.b64").read_bytes()
        task = decode_coredump(data, index=index, program=program).crashed_task
        lines = panic_log(task.registers, dump_memory(data), 1024)
        split = lines.index("Stack memory:")
        regs, dump = lines[:split], lines[split + 1:]
        best = float("inf")
        out = None
        for _ in range(runs):
            t = time.perf_counter()
            out = decode_stack_dump(regs, dump, index, program)
            best = min(best, time.perf_counter() - t)
        assert out is not None
        fields, frames = out
        print(f"  RISC-V panic (ESP32-C3, {fields['stack_bytes']} bytes of stack): unwound and decoded "
              f"{len(frames)} frames in {best * 1000:.2f} ms in-process (best of {runs}; index and CFI "
              "loaded)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not FIXTURES.is_dir():
        print(f"fixtures not found at {FIXTURES}")
        return 1
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "monitor")], check=True)
    for case in CASES:
        bench_command(*case, runs=args.runs)
    bench_panic(max(args.runs, 20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
