"""Decoded core dumps as plain text: `espwatch coredump`'s output, and the summary a log's core dump
event carries (the monitor's detail pane, the report).

Backtraces are numbered like gdb's (`bt`): an inlined function is a frame of its own, printed without an
address. Frames found by guessing past ROM code are marked `[guess]`, frames restored for a tail call
`[tail call]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from espwatch.coredump.model import CoreDumpReport, TaskReport, hex32
from espwatch.unwind.symbolize import BacktraceFrame

MARKS = {"guess": "  [guess]", "tailcall": "  [tail call]", "ra": "  [from RA]"}


def _where(function: str | None, file: str | None, line: int | None) -> str:
    out = function or "??"
    if file:
        out += f" at {file}:{line if line else '?'}"
    return out


def backtrace_lines(frames: list[BacktraceFrame], start: int = 0) -> Iterator[str]:
    """gdb-style lines `#N  0xPC function at file:line`, inline frames without an address."""
    n = start
    for fr in frames:
        mark = MARKS.get(fr.how, "")
        if fr.lines:
            first = fr.lines[0]
            yield f"#{n:<3} 0x{fr.pc:08x} {_where(first.function, first.file, first.line)}{mark}"
            n += 1
            for f in fr.lines[1:]:
                yield f"#{n:<3} {'':10} {_where(f.function, f.file, f.line)}  (inlined)"
                n += 1
        else:
            name = "??"
            if fr.rom_symbol:
                name = fr.rom_symbol + (f"+0x{fr.rom_offset:x}" if fr.rom_offset else "")
            yield f"#{n:<3} 0x{fr.pc:08x} {name} (no line info: ROM or outside the ELF){mark}"
            n += 1


def _task_row(t: TaskReport) -> str:
    def num(v: int | None) -> str:
        return "?" if v is None else str(v)

    prio = f"{num(t.priority)}/{num(t.base_priority)}"
    stack = f"{num(t.stack_used)}/{num(t.stack_free)}"
    if t.stack_overflowed:
        stack += " OVERFLOW"
    state = "crashed" if t.crashed else t.state
    where = ""
    if t.frames:
        fn = t.frames[0].function
        where = f"{hex32(t.frames[0].pc)} {fn or '??'}"
    return f"  {t.index:<3}{hex32(t.tcb) or '?':<12}{t.name or '?':<18}{state:<10}{prio:<8}{stack:<18}{where}"


def render_text(rep: CoreDumpReport, registers: bool = True) -> list[str]:
    """The report as lines of text (no trailing newlines)."""
    out: list[str] = []
    where = rep.name
    if rep.first_line is not None and rep.source == "log":
        where = f"{rep.name}, lines {rep.first_line}-{rep.last_line}"
    head = f"Core dump ({where}): {rep.chip_name or rep.arch or '?'}"
    if rep.chip_rev:
        head += f" rev {rep.chip_rev}"
    fmt = {"elf": "ELF", "binary": "binary"}.get(rep.fmt, rep.fmt)
    head += f", {fmt} format" + (f" {rep.version}" if rep.version else "") + f", {rep.size} bytes"
    if rep.checksum_kind:
        state = {True: "ok", False: "MISMATCH", None: "not checked (data incomplete)"}[rep.checksum_ok]
        head += f", {rep.checksum_kind.upper()} {state}"
    out.append(head)
    if rep.damage:
        decoded = sum(1 for t in rep.tasks if t.frames and not t.damaged)
        out.append(f"DAMAGED: {rep.damage[0]}")
        out.extend(f"  also: {d}" for d in rep.damage[1:])
        out.append(f"  still decoded: {len(rep.tasks)} task(s), {decoded} with an intact stack and backtrace"
                   + ("" if rep.panic_reason or rep.fmt == "binary" else "; no panic reason"))
    if rep.app_sha256:
        out.append(f"App ELF SHA256 (from the dump): {rep.app_sha256}")
    out.append(f"ELF: {rep.elf_note}")
    if rep.panic_reason:
        out.append(f"Panic reason: {rep.panic_reason}")
    crashed = rep.crashed_task
    if crashed is not None:
        isr = {True: ", in an interrupt handler", False: ", not in an interrupt", None: ""}[rep.in_isr]
        out.append(f"Crashed task: '{crashed.name}' (TCB {hex32(crashed.tcb)}){isr}")
    elif rep.crashed_tcb is not None:
        out.append(f"Crashed task: TCB {hex32(rep.crashed_tcb)} (not in the dump)")
    exc = rep.exception
    if exc is not None:
        addr = f", {exc.address_register} {hex32(exc.address)}" if exc.address is not None else ""
        out.append(f"Exception: {exc.register} {hex32(exc.cause)} {exc.name}{addr}: {exc.meaning}")
        if exc.registers:
            out.append("  " + "  ".join(f"{k} {hex32(v)}" for k, v in exc.registers.items()))
    for note in rep.notes:
        out.append(f"Note: {note}")
    if registers and crashed is not None and crashed.registers:
        out.append("")
        out.append(f"Registers of '{crashed.name}':")
        items = [f"{k:<6} {hex32(v)}" for k, v in crashed.registers.items()]
        for i in range(0, len(items), 4):
            out.append("  " + "   ".join(items[i:i + 4]))
    out.append("")
    out.append(f"Tasks ({len(rep.tasks)}):")
    out.append(f"  {'#':<3}{'TCB':<12}{'NAME':<18}{'STATE':<10}{'PRIO':<8}{'STACK USED/FREE':<18}PC")
    out.extend(_task_row(t) for t in rep.tasks)
    for t in rep.tasks:
        out.append("")
        state = "crashed" if t.crashed else t.state + (f", {t.state_detail}" if t.state_detail else "")
        out.append(f"Backtrace of task '{t.name}' (TCB {hex32(t.tcb)}, {state}):")
        out.extend("  " + line for line in backtrace_lines(t.frames))
        if t.stop_reason:
            out.append(f"  (stopped: {t.stop_reason})")
        if t.damaged:
            out.append(f"  DAMAGED: {t.damaged}")
    return out


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary of a core dump decoded onto a log event (`espwatch.coredump.event.summarize`)."""
    out = [f"{summary.get('chip') or 'core dump'}, {summary.get('format')}"]
    for key, label in (("panic_reason", "Panic reason"), ("crashed_task", "Crashed task"),
                       ("exception", "Exception"), ("elf", "ELF")):
        if summary.get(key):
            out.append(f"{label}: {summary[key]}")
    out.extend(f"DAMAGED: {d}" for d in summary.get("damage") or [])
    for t in summary.get("tasks") or []:
        out.append("")
        out.append(f"Task '{t['name']}' (TCB {t['tcb']}, {t['state']}, priority {t['priority']}, "
                   f"stack {t['stack_used']}/{t['stack_free']} used/free):")
        out.extend("  " + line for line in t["backtrace"])
        if t.get("damaged"):
            out.append(f"  DAMAGED: {t['damaged']}")
    return out
