"""Benchmark: ESP-IDF binary log decoding (records/s, MB/s), beside esp-idf-monitor's decoder in the same run.

    python bench/bench_binlog.py [--size-mb 16] [--runs 3] [--ref-python PATH]

Input: the binlog fixture (ESP32 ROM text, 22 bootloader and 119 app records) followed by its app records
repeated up to --size-mb, as a device that logs in binary sends them. Timed, best of --runs, interleaved:
  - espwatch's decoder in-process (`BinlogDecoder.feed` on 64 KiB reads, as from a file or a port);
  - `espwatch decode --elf ... FILE > out` and `espwatch scan --json FILE > out` (fresh processes);
  - `espwatch scan --json` of the already decoded text, to show what decoding adds to a scan;
  - esp-idf-monitor's `BinaryLog.convert_to_text` (the decoder of `idf.py monitor`, from PyPI) on a prefix
    of the same input, in-process in an interpreter that has it: this one, or --ref-python (a venv with
    `pip install esp-idf-monitor`). If none has it, the line says it could not run.
Also printed: agreement of the fixture's decoding with `binlog_out.txt`, the reference monitor's expected
output (and of esp-idf-monitor's own decoding of the fixture, when it runs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "data" / "fixtures" / "esp32-binlog-app"
sys.path.insert(0, str(ROOT))

from espwatch.binlog import BinlogDecoder, decode_bytes, open_decoder  # noqa: E402
from espwatch.binlog.frames import FrameSplitter, Gap  # noqa: E402

READ = 1 << 16
ANSI = re.compile(rb"\x1b\[[0-9;]*m")

# esp-idf-monitor prints text lines as text until a read starts with a frame byte, then hands the bytes to
# BinaryLog.convert_to_text (serial_handler.py): the text before the first frame is passed as it is here.
REF_SCRIPT = r"""
import json, sys, time
from esp_idf_monitor.base.binlog import BinaryLog
elfs = [sys.argv[2], sys.argv[3]]
runs = int(sys.argv[4])
first = int(sys.argv[6])
def decode(data, first):
    b = BinaryLog(elfs)
    out = [data[:first]]
    rest = b''
    for i in range(first, len(data), 65536):
        msgs, rest, leaked = b.convert_to_text(rest + data[i:i + 65536])
        out.extend(msgs)
        if leaked:
            out.append(leaked)
    return b''.join(out)
data = open(sys.argv[1], 'rb').read()
best = cpu = None
for _ in range(runs):
    t0, c0 = time.perf_counter(), time.process_time()
    decode(data, first)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    best = dt if best is None or dt < best else best
    cpu = dc if cpu is None or dc < cpu else cpu
text = decode(open(sys.argv[5], 'rb').read(), first)
print(json.dumps({"seconds": best, "cpu": cpu, "text": text.decode('utf-8', 'replace')}))
"""


def app_frames(raw: bytes) -> list[bytes]:
    splitter = FrameSplitter(armed=True)
    out, pos = [], 0
    for it in splitter.feed(raw) + splitter.close():
        if isinstance(it, Gap):
            pos += len(it.data)
        else:
            if raw[pos] == 2:
                out.append(raw[pos:pos + it.size])
            pos += it.size
    return out


def build(size: int) -> tuple[bytes, int]:
    raw = (FIX / "binlog").read_bytes()
    frames = app_frames(raw)
    parts, n, total = [raw], 141, len(raw)
    block = b"".join(frames)
    while total < size:
        parts.append(block)
        total += len(block)
        n += len(frames)
    return b"".join(parts), n


def decode_in_reads(data: bytes, make) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, records) of one in-process decode."""
    dec: BinlogDecoder = make()
    t0, c0 = time.perf_counter(), time.process_time()
    out = 0
    for i in range(0, len(data), READ):
        out += len(dec.feed(data[i:i + READ]))
    out += len(dec.close())
    return time.perf_counter() - t0, time.process_time() - c0, dec.stats.records


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_cmd(cmd: list[str], out_path: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a fresh process."""
    with open(out_path, "wb") as out:
        t0, c0 = time.perf_counter(), _child_cpu()
        subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t0, _child_cpu() - c0


def agreement(ours: list[bytes], ref: list[bytes]) -> tuple[int, int, int]:
    n = max(len(ours), len(ref))
    same = sum(a == b for a, b in zip(ours, ref, strict=False))
    plain = sum(ANSI.sub(b"", a) == ANSI.sub(b"", b) for a, b in zip(ours, ref, strict=False))
    return same, plain, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ref-python", help="an interpreter with esp-idf-monitor installed")
    ap.add_argument("--ref-mb", type=float, default=0.25, help="input size for esp-idf-monitor (slow)")
    args = ap.parse_args()

    app_elf, boot_elf = FIX / "log.elf", FIX / "bootloader.elf"
    data, records = build(int(args.size_mb * 1e6))
    mb = len(data) / 1e6
    exe = str(Path(sys.executable).with_name("espwatch"))
    tmp = Path(tempfile.mkdtemp(prefix="espwatch-bench-binlog-"))
    capture = tmp / "capture.bin"
    capture.write_bytes(data)
    decoded = tmp / "decoded.txt"
    decoded.write_bytes(decode_bytes(data, open_decoder(app_elf, boot_elf)))
    ref_input = tmp / "ref.bin"
    ref_data, ref_records = build(int(args.ref_mb * 1e6))
    ref_input.write_bytes(ref_data)
    env_cache = {**os.environ, "ESPWATCH_CACHE_DIR": str(tmp / "cache")}
    os.environ.update(env_cache)

    ref_python = None
    try:
        import esp_idf_monitor  # noqa: F401

        ref_python = sys.executable
    except ImportError:
        ref_python = args.ref_python

    def make() -> BinlogDecoder:
        return open_decoder(app_elf, boot_elf)

    subprocess.run([exe, "decode", "--elf", str(app_elf), str(capture)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # build the symbol index cache once
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def keep(key: str, wall: float, used: float) -> None:
        best[key] = min(best.get(key, wall), wall)
        cpu[key] = min(cpu.get(key, used), used)

    ref_text = None
    for _ in range(args.runs):
        dt, dc, got = decode_in_reads(data, make)
        assert got == records, (got, records)
        keep("inproc", dt, dc)
        for key, cmd in (("decode", [exe, "decode", "--elf", str(app_elf), str(capture)]),
                         ("scan_bin", [exe, "scan", "--json", "--elf", str(app_elf), str(capture)]),
                         ("scan_txt", [exe, "scan", "--json", "--elf", str(app_elf), str(decoded)])):
            keep(key, *run_cmd(cmd, tmp / f"{key}.out"))
        if ref_python:
            first = (FIX / "binlog").read_bytes().index(b"entry 0x4008069c\r\n") + 18
            proc = subprocess.run([ref_python, "-c", REF_SCRIPT, str(ref_input), str(app_elf), str(boot_elf),
                                   "1", str(FIX / "binlog"), str(first)], capture_output=True, text=True)
            if proc.returncode == 0:
                res = json.loads(proc.stdout)
                keep("ref", res["seconds"], res["cpu"])
                ref_text = res["text"]
            else:
                print(f"esp-idf-monitor could not run: {proc.stderr.strip().splitlines()[-1:]}")
                ref_python = None

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"input: {mb:.1f} MB, {records} records (ESP32 binlog fixture, app records repeated); "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print("best of", args.runs, "runs; wall time, and CPU time (what the load of other processes does not "
          "change)")

    def rates(key: str, n: int, size: float) -> str:
        return (f"wall {best[key]:.3f} s = {n / best[key]:,.0f} records/s, {size / best[key]:.2f} MB/s; "
                f"CPU {cpu[key]:.3f} s = {n / cpu[key]:,.0f} records/s, {size / cpu[key]:.2f} MB/s")

    print(f"espwatch BinlogDecoder in-process: {rates('inproc', records, mb)}")
    print(f"espwatch decode --elf (CLI):        {rates('decode', records, mb)}")
    print(f"espwatch scan --json, binary capture: CPU {cpu['scan_bin']:.3f} s; the same decoded text: "
          f"CPU {cpu['scan_txt']:.3f} s (decoding adds {cpu['scan_bin'] - cpu['scan_txt']:+.3f} s)")
    if "ref" in best:
        ref_mb = len(ref_data) / 1e6
        print(f"esp-idf-monitor BinaryLog.convert_to_text ({ref_mb:.2f} MB, {ref_records} records): "
              f"{rates('ref', ref_records, ref_mb)}")
        ratio = (records / cpu["inproc"]) / (ref_records / cpu["ref"])
        print(f"espwatch in-process decodes {ratio:.0f}x as many records per CPU second")
    else:
        print("esp-idf-monitor: could not run here (not installed in this interpreter; pass --ref-python "
              "with a venv that has `pip install esp-idf-monitor`)")

    expected = (FIX / "binlog_out.txt").read_bytes().split(b"\n")[:-1]
    ours_lines = [ln.rstrip(b"\r") for ln in decode_bytes((FIX / "binlog").read_bytes(),
                                                          make()).split(b"\n")[:-1]]
    same, plain, n = agreement(ours_lines, expected)
    print(f"fixture agreement with binlog_out.txt: espwatch {same}/{n} lines identical, {plain}/{n} without "
          f"colour codes (lines 180-181: ESP-IDF's own E colour and reset, see tests/test_binlog_fixture.py)")
    if ref_text is not None:
        ref_lines = [ln.rstrip(b"\r") for ln in ref_text.encode().split(b"\n")]
        ref_lines = ref_lines[:-1] if ref_lines and ref_lines[-1] == b"" else ref_lines
        same, plain, n = agreement(ref_lines, [ANSI.sub(b"", e) for e in expected])
        print(f"fixture agreement with binlog_out.txt: esp-idf-monitor's decoder {plain}/{n} lines without "
              f"colour codes (it adds colours later, in its console)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
