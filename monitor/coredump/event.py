"""A core dump printed in a log, decoded onto its `coredump` event (EW801) for scan, report and the monitor.

`enrich_event(ev, index, program)` decodes the event's base64 block and sets
- `ev.fields["coredump"]`: a JSON-able summary (chip, panic reason, crashed task, exception, damage, and
  per task its state, stack use and backtrace as `0xPC: function at file:line` lines),
- `ev.frames`: the crashed task's decoded frames.
`espwatch.render.coredump.summary_lines(summary)` renders that summary (the detail pane, the report).
"""

from __future__ import annotations

from typing import Any

from espwatch.coredump.decode import decode_coredumps
from espwatch.coredump.model import CoreDumpReport, hex32
from espwatch.errors import CoreDumpError
from espwatch.events import Event
from espwatch.render.coredump import backtrace_lines
from espwatch.symbols import SymbolIndex
from espwatch.unwind.program import ProgramInfo

COREDUMP_CODE = "EW801"


def summarize(rep: CoreDumpReport) -> dict[str, Any]:
    crashed = rep.crashed_task
    exc = rep.exception
    return {
        "chip": rep.chip_name, "format": f"{rep.fmt} {rep.version or ''}".strip(),
        "checksum_ok": rep.checksum_ok, "elf": rep.elf_note,
        "panic_reason": rep.panic_reason,
        "crashed_task": None if crashed is None else f"{crashed.name} (TCB {hex32(crashed.tcb)})",
        "in_isr": rep.in_isr,
        "exception": None if exc is None else
        f"{exc.register} {hex32(exc.cause)} {exc.name}" + (f", {exc.address_register} {hex32(exc.address)}"
                                                          if exc.address is not None else ""),
        "damage": rep.damage,
        "tasks": [{
            "name": t.name, "tcb": hex32(t.tcb), "state": "crashed" if t.crashed else t.state,
            "priority": t.priority, "stack_used": t.stack_used, "stack_free": t.stack_free,
            "backtrace": list(backtrace_lines(t.frames)), "stopped": t.stop_reason, "damaged": t.damaged,
        } for t in rep.tasks],
    }


def enrich_event(ev: Event, index: SymbolIndex | None, program: ProgramInfo | None) -> None:
    """Decode the core dump in a `coredump` event's block (a damaged one still says what it can)."""
    data = "\n".join([ev.text, *ev.block]).encode("utf-8", "replace")
    try:
        reports = decode_coredumps(data, index=index, program=program, name=f"line {ev.line}")
    except CoreDumpError as exc:
        ev.fields["coredump_error"] = str(exc)
        return
    rep = reports[0]
    ev.fields["coredump"] = summarize(rep)
    crashed = rep.crashed_task
    if crashed is not None and crashed.frames:
        ev.frames = [f for bt in crashed.frames for f in bt.event_frames()]
