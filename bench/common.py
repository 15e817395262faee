"""Shared by the speed benchmarks: the installed command, child processes timed with their own CPU time and
peak RSS (wait4), interleaved runs, and the generated logs (tests/loggen.py) cached in a work folder.

Every figure is a best of several runs interleaved with the reference tools measured in the same run, so the
ratios hold on a loaded machine even when the absolute numbers do not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import loggen  # noqa: E402

GNU_TIME = shutil.which("time") if Path("/usr/bin/time").exists() else None
"""GNU time, for the peak RSS of a command alone (`%M`)."""


def espwatch_cmd() -> list[str]:
    """The installed console script beside this interpreter (as users run it)."""
    exe = Path(sys.executable).parent / "espwatch"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "espwatch"]


def compile_bytecode() -> None:
    """Write the package's bytecode first (PYTHONDONTWRITEBYTECODE may be set): measure what users run."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "monitor")], check=True)


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    code: int
    stdout: bytes = b""


def run_child(cmd: Sequence[str], out: Path | None = None, env: dict[str, str] | None = None,
              stdin: Path | None = None, capture: bool = False) -> Run:
    """Run a command with stdout to a file (never /dev/null: GNU grep stops at the first match there) or
    captured; wall time, the child's own user+system CPU time and peak RSS from wait4."""
    import tempfile

    timefile = tempfile.NamedTemporaryFile(suffix=".time", delete=False)  # noqa: SIM115
    timefile.close()
    if GNU_TIME:  # its own fork: the peak RSS of the command alone (a fork of this process starts big)
        cmd = [GNU_TIME, "-f", "%M", "-o", timefile.name, *cmd]
    fout = open(out, "wb") if out is not None else subprocess.PIPE  # noqa: SIM115
    fin = open(stdin, "rb") if stdin is not None else subprocess.DEVNULL  # noqa: SIM115
    ferr = tempfile.TemporaryFile()  # noqa: SIM115 - a file, so a chatty child never blocks on a pipe
    try:
        t = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=fout, stderr=ferr, stdin=fin,
                                env={**os.environ, **(env or {})})
        data = b""
        if capture or out is None:
            data = proc.stdout.read() if proc.stdout else b""  # type: ignore[union-attr]
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code  # reaped here: wait4 gave its rusage
        ferr.seek(0)
        err = ferr.read()
    finally:
        ferr.close()
        if out is not None:
            fout.close()  # type: ignore[union-attr]
        if stdin is not None:
            fin.close()  # type: ignore[union-attr]
    rss_kib = ru.ru_maxrss
    try:
        text = Path(timefile.name).read_text().split()
        if GNU_TIME and text:
            rss_kib = int(text[-1])
    finally:
        os.unlink(timefile.name)
    if code not in (0, 1):
        sys.stderr.write(err.decode(errors="replace")[-2000:])
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}")
    return Run(wall, ru.ru_utime + ru.ru_stime, rss_kib / 1024, code, data)


@dataclass
class Measured:
    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda r: r.wall)

    @property
    def cpu(self) -> float:
        return min(r.cpu for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mb for r in self.runs)


def interleaved(jobs: dict[str, Callable[[], Run]], runs: int) -> dict[str, Measured]:
    """Each job once per round, in the same order, `runs` rounds."""
    out = {name: Measured(name) for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            out[name].runs.append(job())
    return out


def line(name: str, m: Measured, size: int | None = None, ref: Measured | None = None,
         extra: str = "") -> str:
    """One result line: best wall, its throughput, CPU, RSS, and the throughput ratio to `ref`."""
    b = m.best
    parts = [f"{name:<38} {b.wall:7.2f} s"]
    if size:
        parts.append(f"{size / b.wall / 1e6:7.0f} MB/s")
    parts.append(f"cpu {m.cpu:6.2f} s")
    parts.append(f"rss {m.rss:6.0f} MB")
    if ref is not None:
        parts.append(f"x{ref.best.wall / b.wall:5.2f} of {ref.name} (cpu x{ref.cpu / m.cpu:4.2f})")
    return "  ".join(parts) + (f"  {extra}" if extra else "")


def cached_log(folder: Path, name: str, make: Callable[[], Iterator[bytes]]) -> tuple[Path, int]:
    """A generated log, written once into `folder` and reused (the generators are deterministic)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    done = folder / (name + ".done")
    if not done.exists():
        t = time.perf_counter()
        size = loggen.write(path, make())
        done.write_text(str(size))
        print(f"  (built {name}: {size / 1e6:.0f} MB in {time.perf_counter() - t:.0f} s)", flush=True)
    with open(path, "rb") as fh:  # page cache warm, as after writing a capture
        while fh.read(1 << 24):
            pass
    return path, path.stat().st_size


def literals_file(folder: Path) -> Path:
    """The prefilter's literals, one per line, for `rg -F -f` and `grep -F -f`."""
    from espwatch.patterns import load_patterns

    ps = load_patterns()
    lits = sorted({lit for p in ps.matchers for lit in p.literals})
    path = folder / "literals.txt"
    path.write_text("\n".join(lits) + "\n", encoding="utf-8")
    return path


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"{tool} not found (a reference tool of this benchmark)")
    return path
