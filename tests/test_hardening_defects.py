"""The smaller defects of issue 12 (items 5, 8), each reproduced: stdin read twice by `report -`, an empty
original called IDENTICAL, a 10 MB input line echoed into an error, 64-bit addresses truncated, and memory
that grew with the input in `image diff` and `decode` (peak RSS measured in a child process)."""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from espwatch.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "ota-checksum-psram-4120.log"


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_report_from_stdin_has_its_excerpts(tmp_path: Path, capsys, monkeypatch) -> None:
    assert main(["report", str(SAMPLE)]) == 0
    from_file = capsys.readouterr().out
    import tempfile

    spools = Path(tempfile.gettempdir()).glob
    before = set(spools("espwatch-report-stdin-*"))
    _stdin(monkeypatch, SAMPLE.read_bytes())
    assert main(["report", "-"]) == 0
    from_stdin = capsys.readouterr().out
    # the excerpts are there (they were empty: stdin was read twice)
    assert re.search(r"^>\s+\d+  E \(", from_stdin, re.M)
    assert from_stdin.replace("&lt;stdin&gt;", SAMPLE.name) == from_file
    assert set(spools("espwatch-report-stdin-*")) == before  # the spooled copy is removed


def test_image_diff_of_an_empty_original_is_an_error(tmp_path: Path, capsys) -> None:
    empty, rb = tmp_path / "empty.bin", tmp_path / "readback.bin"
    empty.write_bytes(b"")
    rb.write_bytes(b"\xe9" + bytes(100))
    assert main(["image", "diff", str(empty), str(rb)]) == 2
    cap = capsys.readouterr()
    assert "IDENTICAL" not in cap.out and "empty file (0 bytes)" in cap.err
    assert main(["image", "diff", str(rb), str(empty)]) == 1  # an empty read-back: nothing was written
    assert "only 0 of 101 bytes" in capsys.readouterr().out


@pytest.mark.parametrize("content", [
    "A" * 10_000_000 + "\n",  # a name
    "nvs,data,nvs,0x9000," + "9" * 10_000_000 + "x\n",  # a size
    "nvs," + "q" * 10_000_000 + ",nvs,0x9000,0x1000\n",  # a type
    "nvs,data,nvs,0x9000,0x1000," + "f" * 10_000_000 + "\n",  # a flag
    "I (1) boot: Partition Table:\nI (2) boot:  0 " + "L" * 10_000_000 + " WiFi data 01 02 00009000 00006000\n",
], ids=["name", "size", "type", "flag", "boot-log-label"])
def test_partition_errors_do_not_echo_long_input(tmp_path: Path, capsys, content: str) -> None:
    table = tmp_path / "table.csv"
    table.write_text(content)
    assert main(["image", "partitions", str(table)]) == 1
    cap = capsys.readouterr()
    assert len(cap.out) + len(cap.err) < 500, cap.out[:300]
    assert main(["image", "partitions", str(table), "--json"]) == 1
    assert len(capsys.readouterr().out) < 500


def test_decode_rejects_addresses_over_32_bits(tmp_path: Path, data_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    elf = str(data_dir / "rv32-inline-demo" / "demo.elf")
    assert main(["decode", "--elf", elf, "0xffffffffffffffff"]) == 2
    assert "wider than 32 bits" in capsys.readouterr().err
    assert main(["decode", "--elf", elf, "0x1ffffffff:0x3fc80000"]) == 2
    capsys.readouterr()
    _stdin(monkeypatch, b"0x4200006e 0x100000000\n0x42000100\n")
    assert main(["decode", "--elf", elf]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith("0x4200006e: crash_here at ") and "0x42000100: main at " in cap.out
    assert "00000000:" not in cap.out  # 0x100000000 was not decoded as 0x00000000
    assert "0x100000000 is wider than 32 bits" in cap.err


def test_decode_refuses_a_binary_on_stdin(tmp_path: Path, data_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    elf = data_dir / "rv32-inline-demo" / "demo.elf"
    _stdin(monkeypatch, elf.read_bytes())
    assert main(["decode", "--elf", str(elf), "-"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "<stdin> is an ELF file, not a log" in cap.err


def test_decode_stdin_answers_before_the_input_ends(tmp_path: Path, data_dir: Path) -> None:
    """`decode -` streams: the answer to the first log line comes while stdin is still open."""
    env = {**os.environ, "ESPWATCH_CACHE_DIR": str(tmp_path / "cache")}
    elf = str(data_dir / "rv32-inline-demo" / "demo.elf")
    with subprocess.Popen([sys.executable, "-m", "espwatch", "decode", "--elf", elf, "-"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"I (1) app: crash\nMEPC    : 0x4200006e  RA      : 0x42000100\n")
        proc.stdin.flush()
        # with stdin still open: an answer must come (reading all of stdin first would never answer)
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        if not ready:
            proc.kill()
            pytest.fail("no output while standard input stays open: decode - read all of it first")
        first = proc.stdout.readline()
        proc.stdin.close()
        rest = proc.stdout.read()
    assert first == b"I (1) app: crash\n"
    assert b"crash_here at" in rest and proc.returncode == 0


# -- memory that does not grow with the input ---------------------------------------------------------------
# VmHWM is the peak of this process's own memory since exec (ru_maxrss would include the pytest process
# the child was forked from); ru_maxrss where there is no /proc.
_PEAK = textwrap.dedent("""
    import resource, sys
    from espwatch.cli import main
    rc = main(sys.argv[1:])
    try:
        with open("/proc/self/status") as fh:
            kb = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:"))
    except (OSError, StopIteration):
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stderr.write(f"\\nPEAK_KB {kb} RC {rc}\\n")
""")


def _peak_kb(args: list[str], tmp_path: Path, stdin: Path | None = None) -> tuple[int, int]:
    """Peak RSS (KiB) and exit status of `espwatch ARGS` run in a fresh interpreter."""
    env = {**os.environ, "ESPWATCH_CACHE_DIR": str(tmp_path / "cache")}
    with open(stdin or os.devnull, "rb") as fh:
        proc = subprocess.run([sys.executable, "-c", _PEAK, *args], stdin=fh, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=env, timeout=600, check=False)
    tail = proc.stderr.decode().rsplit("PEAK_KB ", 1)[-1].split()
    return int(tail[0]), int(tail[2])


def _random_file(path: Path, size: int, seed: int) -> None:
    import random

    rnd = random.Random(seed)
    with open(path, "wb") as fh:
        for _ in range(size // (1 << 20)):
            fh.write(rnd.randbytes(1 << 20))


def test_image_diff_memory_does_not_grow(tmp_path: Path) -> None:
    small_a, small_b = tmp_path / "a1.bin", tmp_path / "b1.bin"
    _random_file(small_a, 1 << 20, 1)
    _random_file(small_b, 1 << 20, 2)
    big_a, big_b = tmp_path / "a.bin", tmp_path / "b.bin"
    _random_file(big_a, 64 << 20, 1)  # unrelated files: every byte differs (the old code held a tuple
    _random_file(big_b, 64 << 20, 2)  # per differing byte, and both files in memory)
    base, rc = _peak_kb(["image", "diff", str(small_a), str(small_b)], tmp_path)
    assert rc == 1
    peak, rc = _peak_kb(["image", "diff", str(big_a), str(big_b), "--json"], tmp_path)
    assert rc == 1
    assert peak - base < 24 * 1024, (base, peak)


def test_decode_memory_does_not_grow(tmp_path: Path, data_dir: Path) -> None:
    elf = str(data_dir / "rv32-inline-demo" / "demo.elf")
    small, big, one_line = tmp_path / "small.log", tmp_path / "big.log", tmp_path / "one-line.log"
    line = b"I (1234) app: " + b"x" * 2000 + b" 0x4200006e\n"
    small.write_bytes(line * 10)
    with open(big, "wb") as fh:
        for _ in range(32):
            fh.write(line * ((1 << 20) // len(line)))
    with open(one_line, "wb") as fh:  # 32 MiB without a newline
        for _ in range(32):
            fh.write(b"y" * (1 << 20))
    _peak_kb(["decode", "--elf", elf, str(small)], tmp_path)  # builds the index cache (its own peak)
    base, rc = _peak_kb(["decode", "--elf", elf, str(small)], tmp_path)
    assert rc == 0
    for args, stdin in ((["decode", "--elf", elf, str(big)], None), (["decode", "--elf", elf, "-"], big),
                        (["decode", "--elf", elf, "-"], one_line)):
        peak, rc = _peak_kb(args, tmp_path, stdin)
        assert rc == 0
        assert peak - base < 24 * 1024, (args, base, peak)
