"""`scan -j N`: many files in worker processes with the same output, in the same order, as one job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from espwatch.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("json", [True, False])
def test_jobs_give_the_output_of_one_job(capsys, corpus_dir: Path, json: bool) -> None:
    files = [str(p) for p in sorted(corpus_dir.glob("*.log"))]
    flags = ["--json"] if json else []
    one = run(capsys, "scan", *flags, "--no-elf", *files)
    assert one[1].count("\n") > 200
    assert run(capsys, "scan", *flags, "--no-elf", "-j", "3", *files) == one
    assert run(capsys, "scan", *flags, "--no-elf", "-j", "0", *files[:4]) == \
        run(capsys, "scan", *flags, "--no-elf", *files[:4])


def test_an_unreadable_file_stops_the_output_at_its_place(capsys, corpus_dir: Path, tmp_path: Path) -> None:
    files = [str(p) for p in sorted(corpus_dir.glob("*.log"))[:6]]
    files.insert(3, str(tmp_path / "missing.log"))
    one = run(capsys, "scan", "--json", "--no-elf", *files)
    assert one[0] == 2 and "missing.log: no such file" in one[2]
    assert run(capsys, "scan", "--json", "--no-elf", "-j", "4", *files) == one


def test_standard_input_is_read_at_its_place(corpus_dir: Path) -> None:
    files = [str(p) for p in sorted(corpus_dir.glob("*.log"))[:5]]
    stdin = Path(files[0]).read_bytes()
    outs = []
    for jobs in ("1", "3"):
        proc = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--json", "--no-elf", "-j", jobs,
                               files[1], "-", *files[2:]], input=stdin, capture_output=True, check=False)
        outs.append((proc.returncode, proc.stdout, proc.stderr))
    assert outs[0] == outs[1]
    assert b'"file": "-"' in outs[0][1]


def test_negative_jobs_is_a_usage_error(capsys, corpus_dir: Path) -> None:
    code, _, err = run(capsys, "scan", "-j", "-2", str(next(corpus_dir.glob("*.log"))))
    assert code == 2 and "-j -2" in err
