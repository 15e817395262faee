"""Every core dump fixture decoded and compared with esp-coredump's gdb-based report beside it.

Compared: crashed task (handle, name), panic reason, interrupt context, the task list (TCBs, names, and
where gdb printed them priorities and stack used/free), and every task's backtrace frame by frame
(address, function, file base name, line; gdb's inline frames are frames of their own). Where gdb and
espwatch legitimately differ, a named rule explains the frame and is itself checked:

- zero-return: gdb prints one more frame `0x00000000 in ?? ()` (RISC-V) or `0x40000000 in ?? ()`
  (Xtensa: A0 = 0 plus the window bits) for a return address of 0; espwatch ends the backtrace there and
  says "outermost frame (return address 0)".
- rom-name: gdb read the chip's ROM ELF (esp-rom-elfs) and names ROM frames; espwatch has only the app
  ELF, so a ROM frame has the same address and either gdb's name (when the app's symbol table has it) or
  none.
- gdb-misname: on the ESP32-P4 gdb names two flash frames `__GNU_EH_FRAME_HDR` without a line; espwatch's
  answer there is GNU addr2line's at the return address minus 1 (from the fixture's addr2line.txt).
- gdb-stopped-in-rom: without the ROM ELF gdb stops at the first ROM frame (`?? ()`, ESP32-C6);
  espwatch goes on by guessing (frames marked `guess`), and must reach the app's own callers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from gdb_report import GdbFrame, GdbReport, parse_report

from espwatch.coredump import CoreDumpReport, TaskReport, decode_coredump, load_elf

FIXTURES = [
    ("esp32-coredump-app", "coredump.b64", "esp32.elf", "expected_output.txt"),
    ("esp32-coredump-bin-app", "coredump_bin.b64", "esp32_bin.elf", "expected_output_bin.txt"),
    ("esp32c3-coredump-app", "coredump.b64", "esp32c3.elf", "expected_output.txt"),
    ("esp32c3-coredump-bin-app", "coredump_bin.b64", "esp32c3_bin.elf", "expected_output_bin.txt"),
    ("esp32c6-coredump-app", "coredump.b64", "esp32c6.elf", "expected_output.txt"),
    ("esp32p4-coredump-app", "coredump.b64", "esp32p4.elf", "expected_output.txt"),
]


@dataclass
class Ours:
    addr: int | None
    function: str | None
    file: str | None
    line: int | None
    how: str
    rom: bool


def flatten(task: TaskReport) -> list[Ours]:
    """Our frames numbered like gdb's: an inlined caller is a frame of its own, without an address."""
    out = []
    for fr in task.frames:
        if fr.lines:
            for i, ln in enumerate(fr.lines):
                out.append(Ours(fr.pc if i == 0 else None, ln.function,
                                ln.file.rsplit("/", 1)[-1] if ln.file else None, ln.line, fr.how, False))
        else:
            out.append(Ours(fr.pc, fr.rom_symbol, None, None, fr.how, True))
    return out


def addr2line_answers(folder: Path) -> dict[int, tuple[str, str, int]]:
    out = {}
    for line in (folder / "addr2line.txt").read_text().splitlines():
        m = re.match(r"^(0x[0-9a-f]+): (\S+) at (\S+):(\d+)", line)
        if m:
            out[int(m.group(1), 16)] = (m.group(2), m.group(3).rsplit("/", 1)[-1], int(m.group(4)))
    return out


def same(g: GdbFrame, o: Ours) -> bool:
    return ((g.addr is None or g.addr == o.addr) and g.function == o.function and g.file == o.file
            and g.line == o.line)


def compare(gthread, task: TaskReport, folder: Path, answers) -> tuple[int, dict[str, int], list[str]]:
    """(exact matches, frames explained per rule, unexplained differences) for one thread."""
    ours = flatten(task)
    exact, rules, problems = 0, {}, []
    gframes = gthread.frames
    for i, g in enumerate(gframes):
        o = ours[i] if i < len(ours) else None
        last = i == len(gframes) - 1
        if o is not None and same(g, o):
            exact += 1
            continue
        if o is None and last and g.function == "??" and g.addr in (0, 0x40000000):
            assert task.stop == "end" and "return address 0" in task.stop_reason, task.stop_reason
            rules["zero-return"] = rules.get("zero-return", 0) + 1
            continue
        if o is not None and g.file is None and g.function != "??" and o.rom and g.addr == o.addr \
                and g.function != "__GNU_EH_FRAME_HDR":
            assert o.function in (None, g.function), (g, o)
            rules["rom-name"] = rules.get("rom-name", 0) + 1
            continue
        if o is not None and g.function == "__GNU_EH_FRAME_HDR" and g.addr == o.addr:
            assert answers[o.addr - 1] == (o.function, o.file, o.line), (g, o, answers.get(o.addr - 1))
            rules["gdb-misname"] = rules.get("gdb-misname", 0) + 1
            continue
        if o is not None and last and g.function == "??" and g.addr == o.addr and o.rom:
            assert i + 1 < len(ours) and ours[i + 1].how == "guess", "espwatch should guess past the ROM"
            assert [x.function for x in ours[-3:]] == ["app_main", "main_task", "vPortTaskWrapper"], ours[-3:]
            assert task.stop == "end"
            rules["gdb-stopped-in-rom"] = rules.get("gdb-stopped-in-rom", 0) + 1
            continue
        problems.append(f"thread {gthread.name} #{i}: gdb {g} / espwatch {o}")
    if len(ours) > len(gframes) and "gdb-stopped-in-rom" not in rules:
        problems.append(f"thread {gthread.name}: espwatch has {len(ours) - len(gframes)} more frames: "
                        f"{ours[len(gframes):]}")
    return exact, rules, problems


@pytest.fixture(scope="module")
def decoded(fixtures_dir, tmp_path_factory) -> dict[str, tuple[CoreDumpReport, GdbReport, Path]]:
    cache = tmp_path_factory.mktemp("cache")
    out = {}
    for name, dump, elf, expected in FIXTURES:
        folder = fixtures_dir / name
        index, program = load_elf(folder / elf, cache_dir=cache)
        rep = decode_coredump((folder / dump).read_bytes(), index=index, program=program, name=dump)
        out[name] = (rep, parse_report((folder / expected).read_text()), folder)
    return out


@pytest.mark.parametrize("name", [f[0] for f in FIXTURES])
def test_crash_summary_agrees_with_gdb(decoded, name) -> None:
    rep, gdb, _folder = decoded[name]
    assert rep.elf_matches is not False
    assert not rep.damage
    assert rep.checksum_ok is True
    crashed = rep.crashed_task
    assert crashed is not None
    assert (crashed.tcb, crashed.name) == (gdb.crashed_tcb, gdb.crashed_name)
    assert rep.panic_reason == gdb.panic_reason  # None for the binary format: neither has one
    if gdb.in_isr is not None:
        assert rep.in_isr == gdb.in_isr
    assert [(t.tcb, t.name) for t in rep.tasks] == [(t.tcb, t.name) for t in gdb.threads]
    for tcb, (tname, prio, base, used, free) in gdb.table.items():
        task = next(t for t in rep.tasks if t.tcb == tcb)
        assert (task.name, task.priority, task.base_priority, task.stack_used, task.stack_free) == \
            (tname, prio, base, used, free)
    assert rep.exception is not None and rep.exception.name


def test_backtraces_agree_with_gdb_frame_by_frame(decoded, capsys) -> None:
    lines = []
    all_problems = []
    for name, _dump, _elf, _exp in FIXTURES:
        rep, gdb, folder = decoded[name]
        answers = addr2line_answers(folder)
        total = exact = 0
        rules: dict[str, int] = {}
        for gthread in gdb.threads:
            task = next(t for t in rep.tasks if t.tcb == gthread.tcb)
            e, r, problems = compare(gthread, task, folder, answers)
            total += len(gthread.frames)
            exact += e
            for k, v in r.items():
                rules[k] = rules.get(k, 0) + v
            all_problems += [f"{name}: {p}" for p in problems]
        explained = sum(rules.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(rules.items()))
        lines.append(f"  {name:26} {exact + explained:3}/{total:<3} frames agree with gdb "
                     f"({100 * (exact + explained) / total:5.1f}%): {exact} identical"
                     + (f", {explained} by rule ({detail})" if explained else ""))
    with capsys.disabled():
        print()
        print("\n".join(lines))
    assert not all_problems, "\n".join(all_problems)
