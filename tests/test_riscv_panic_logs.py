"""RISC-V panics in serial logs: the register dump plus `Stack memory:` becomes a `backtrace` event unwound
by espwatch, in scan (JSON and summary), report and the live monitor.

Real logs from the corpus check the parsing of what ESP-IDF prints (their ELF files are not public, so they
are unwound only as far as that allows). Panics synthesised from the core dump fixtures' own tasks (the
task's registers and the first N bytes of its stack from SP, printed the way the panic handler prints
them) are unwound through the whole log pipeline and compared with the core dump's backtraces, which
test_coredump_fixtures.py compares with gdb's."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.coredump import decode_coredump, load_elf
from espwatch.coredump.elfcore import parse_elf_core
from espwatch.coredump.extract import find_dumps
from espwatch.coredump.header import parse_header
from espwatch.decoding import DecodeStage
from espwatch.patterns import load_patterns
from espwatch.pipeline import Pipeline
from espwatch.scan import scan_stream
from espwatch.unwind.logpanic import riscv_registers, stack_memory, unwind_panic
from espwatch.unwind.memory import Memory

sys.path.insert(0, str(Path(__file__).parent))

RISCV_FIXTURES = [("esp32c3-coredump-app", "coredump.b64", "esp32c3.elf"),
                  ("esp32c3-coredump-bin-app", "coredump_bin.b64", "esp32c3_bin.elf"),
                  ("esp32c6-coredump-app", "coredump.b64", "esp32c6.elf"),
                  ("esp32p4-coredump-app", "coredump.b64", "esp32p4.elf")]
DUMP_ORDER = ["MEPC", "RA", "SP", "GP", "TP", "T0", "T1", "T2", "S0/FP", "S1", "A0", "A1", "A2", "A3", "A4",
              "A5", "A6", "A7", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11", "T3", "T4", "T5",
              "T6", "MSTATUS", "MTVEC", "MCAUSE", "MTVAL", "MHARTID"]
ABI = {"MEPC": "pc", "S0/FP": "s0"}


@pytest.fixture(scope="module")
def patterns():
    return load_patterns()


def panic_log(regs: dict[str, int], memory: Memory, nbytes: int) -> list[str]:
    """The lines ESP-IDF's RISC-V panic handler prints: register dump, then the stack from SP."""
    out = ["Guru Meditation Error: Core  0 panic'ed (Load access fault). Exception was unhandled.", "",
           "Core  0 register dump:"]
    cells = [f"{name:<8}: 0x{regs.get(ABI.get(name, name.lower()), 0):08x}" for name in DUMP_ORDER]
    out += ["  ".join(cells[i:i + 4]) + "  " for i in range(0, len(cells), 4)]
    out += ["", "Stack memory:"]
    sp = regs["sp"]
    end = memory.region_of(sp)[1]
    for addr in range(sp, min(sp + nbytes, end), 32):
        words = [memory.u32(a) for a in range(addr, min(addr + 32, end), 4)]
        out.append(f"{addr:08x}: " + " ".join(f"0x{w:08x}" for w in words))
    return out


def dump_memory(data: bytes) -> Memory:
    """All memory an ELF-format core dump holds (what the panic handler would read from)."""
    src = find_dumps(data)[0]
    hdr = parse_header(src.data)
    return parse_elf_core(src.data[hdr.size:hdr.data_end]).memory()


@pytest.fixture(scope="module")
def dumps(fixtures_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = []
    for folder, dump, elf in RISCV_FIXTURES:
        index, program = load_elf(fixtures_dir / folder / elf, cache_dir=cache)
        data = (fixtures_dir / folder / dump).read_bytes()
        rep = decode_coredump(data, index=index, program=program)
        out.append((folder, index, program, rep, dump_memory(data)))
    return out


def _scan(patterns, index, lines: list[str]):
    pipe = Pipeline(patterns, [DecodeStage(index, patterns.decode_codes)])
    events = list(pipe.run([("\n".join(lines) + "\n").encode()]))
    return [e for e in events if e.code == "EW408"]


def test_real_corpus_panics_are_parsed(corpus_dir: Path, patterns) -> None:
    cases = {"b-esp32c3-abort-then-illegal-instruction.log": [(28, 60, 0x3fc8cd5c, 0x403825fa),
                                                             (93, 125, 0x3fc8cdec, 0x420037ce)],
             "b-esp32h2-micropython-instruction-access-fault.log": [(19, 21, 0x40846200, 0x00000000)]}
    for name, expected in cases.items():
        path = corpus_dir / name
        events = [e for e in scan_stream(str(path), patterns).events if e.code == "EW408"]
        assert [(e.kind, e.line, e.end_line) for e in events] == [("backtrace", a, b) for a, b, _s, _p in expected]
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for ev, (line, end, sp, pc) in zip(events, expected, strict=True):
            regs = riscv_registers(lines[line - 14:line])
            assert regs is not None and len(regs) == 37 and regs["sp"] == sp and regs["pc"] == pc
            memory, first, size = stack_memory(ev.block)
            assert first == sp and size == 32 * (end - line) and memory.u32(sp) == int(ev.block[0].split()[1], 16)
            unwound = unwind_panic(regs, memory, None)
            assert unwound.stop == "no_elf" and [f.pc for f in unwound.frames] == [pc]


@pytest.mark.parametrize("nbytes", [32, 64, 128, 256, 1024])
def test_synthesised_panics_unwind_like_the_core_dump(dumps, patterns, nbytes, capsys) -> None:
    same = prefix = total = 0
    for folder, index, _program, rep, memory in dumps:
        for task in rep.tasks:
            regs = task.registers
            if not regs.get("sp") or memory.region_of(regs["sp"]) is None:
                continue  # a task that never ran has no SP: nothing for a panic handler to print
            events = _scan(patterns, index, panic_log(regs, memory, nbytes))
            assert len(events) == 1, (folder, task.name)
            ev = events[0]
            assert ev.kind == "backtrace" and ev.fields["unwound_by"] == "espwatch"
            got = [int(p.split(":")[0], 16) for p in ev.fields["frames"]]
            want = [f.pc for f in task.frames]
            total += 1
            stack_left = memory.region_of(regs["sp"])[1] - regs["sp"]
            if nbytes >= stack_left:
                assert got == want, (folder, task.name, nbytes)
                assert ev.fields["stop"] == task.stop
                same += 1
            else:
                assert got == want[:len(got)] and got, (folder, task.name, nbytes, got, want)
                assert got == want or ev.fields["stop"] == "stack_end", ev.fields
                prefix += 1
            assert [f.addr for f in ev.frames if not f.inlined] == got
    with capsys.disabled():
        print(f"\n  {nbytes:5} bytes of stack: {same} backtraces identical to the core dump's, {prefix} cut by "
              f"the stack memory (a prefix of them), of {total}")
    assert total >= 9


def test_scan_json_summary_and_report(dumps, patterns, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    _folder, index, _program, rep, memory = dumps[0]
    crashed = rep.crashed_task
    log = tmp_path / "panic.log"
    log.write_text("\n".join(["ESP-ROM:esp32c3-api1-20210207", *panic_log(crashed.registers, memory, 1024), "",
                              "Rebooting..."]) + "\n")
    elf = str(Path(index.path))
    assert main(["scan", str(log), "--elf", elf, "--json"]) == 1
    events = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    bt = next(e for e in events if e["kind"] == "backtrace")
    assert bt["fields"]["unwound_by"] == "espwatch" and bt["fields"]["stack_bytes"] == 432
    assert [f["function"] for f in bt["frames"]][:4] == ["panic_abort", "esp_system_abort", "abort", "fail_once"]
    assert bt["fields"]["guessed"] is True
    assert main(["scan", str(log), "--elf", elf]) == 1
    summary = capsys.readouterr().out
    assert "backtrace              EW408  Stack memory:" in summary and ": app_main at " in summary
    assert main(["report", str(log), "--elf", elf]) in (0, 1)
    report = capsys.readouterr().out
    assert "Unwound by espwatch from the register dump and 432 bytes of stack memory" in report
    assert "main\\_task at" in report or "main_task at" in report


@pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")
def test_live_monitor_shows_the_backtrace_when_the_last_dump_line_arrives(dumps, patterns, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """Over a pseudo-terminal, with the ELF index built in the background: the backtrace event and its
    decoded frames are there once the 32nd `Stack memory:` line is in, before anything follows it."""
    from devsim import DevSim
    from test_tui_app import SIZE, detail_text, until

    from espwatch.device.reader import SerialSource
    from espwatch.device.sessionlog import SessionLog
    from espwatch.enrich import Enrichment
    from espwatch.tui.app import MonitorApp

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    _folder, index, _program, rep, memory = dumps[2]  # ESP32-C6
    task = rep.crashed_task
    # 1 KB from SP, as the panic handler prints it (the C6 main task's stack is shorter: pad with zeros)
    sp = task.registers["sp"]
    padded = Memory([(sp, (memory.read(sp, memory.region_of(sp)[1] - sp) or b"").ljust(1024, b"\0"))])
    lines = panic_log(task.registers, padded, 1024)
    assert len([x for x in lines if x[:8].isalnum() and ": 0x" in x]) == 32
    data = ("\n".join(lines) + "\n").encode()
    log_path = tmp_path / "session.log"
    log = SessionLog(log_path)
    sim = DevSim(tmp_path / "ttyESP")
    source = SerialSource(str(sim.link), 115200, log, retry_delay=0.05)
    enr = Enrichment.choose(index.path, patterns=patterns, background=True)

    async def run() -> str:
        app = MonitorApp(log_path, patterns, source=source, name="ttyESP", enrichment=enr)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.source_state == "connected")
            await asyncio.to_thread(sim.write, data, 200_000)
            await until(pilot, lambda: any(e.code == "EW408" and e.frames for e in app.events), timeout=60)
            ev = next(e for e in app.events if e.code == "EW408")
            assert ev.end_line == len(lines)
            app.select_event(ev)
            await pilot.pause(0.1)
            return detail_text(app)

    try:
        detail = asyncio.run(run())
    finally:
        source.stop()
        log.close()
        sim.close()
    assert "Backtrace" in detail and "panic_abort" in detail and "fail_once" in detail
