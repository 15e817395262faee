"""Reading esp-coredump's gdb-based `info_corefile` report (the `expected_output*.txt` beside each fixture)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FRAME_RE = re.compile(r"^#(\d+)\s+(?:(0x[0-9a-f]+) in )?(\S+) \(.*\)(?: at (\S+):(\d+))?$")
THREAD_RE = re.compile(r"^=+ THREAD (\d+) \(TCB: (0x[0-9a-f]+), name: '([^']*)'\) =+$")
ROW_RE = re.compile(r"^\s*(0x[0-9a-f]+)\s+(\S+)\s+(\d+)/(\d+)\s+(\d+)/(\d+)\s*$")


@dataclass
class GdbFrame:
    number: int
    addr: int | None
    function: str
    file: str | None  # base name
    line: int | None


@dataclass
class GdbThread:
    tcb: int
    name: str
    frames: list[GdbFrame] = field(default_factory=list)
    stopped: str | None = None


@dataclass
class GdbReport:
    crashed_tcb: int | None = None
    crashed_name: str | None = None
    in_isr: bool | None = None
    panic_reason: str | None = None
    table: dict[int, tuple[str, int, int, int, int]] = field(default_factory=dict)  # tcb -> name, prio...
    threads: list[GdbThread] = field(default_factory=list)


def parse_report(text: str) -> GdbReport:
    rep = GdbReport()
    thread: GdbThread | None = None
    for line in text.splitlines():
        m = re.match(r"Crashed task handle: (0x[0-9a-f]+), name: '([^']*)'", line)
        if m:
            rep.crashed_tcb, rep.crashed_name = int(m.group(1), 16), m.group(2)
        if line.startswith("Crashed task is not in the interrupt context"):
            rep.in_isr = False
        elif line.startswith("Crash happened in the interrupt context"):
            rep.in_isr = True
        if line.startswith("Panic reason: "):
            rep.panic_reason = line[len("Panic reason: "):].strip()
        m = ROW_RE.match(line)
        if m:
            rep.table[int(m.group(1), 16)] = (m.group(2), *(int(m.group(i)) for i in range(3, 7)))
        m = THREAD_RE.match(line)
        if m:
            thread = GdbThread(int(m.group(2), 16), m.group(3))
            rep.threads.append(thread)
            continue
        if line.startswith("=") or not line.strip():
            if line.startswith("=") or (thread is not None and thread.frames):
                thread = None if line.startswith("=") else thread
            continue
        if thread is None:
            continue
        m = FRAME_RE.match(line)
        if m:
            thread.frames.append(GdbFrame(int(m.group(1)), int(m.group(2), 16) if m.group(2) else None,
                                          m.group(3), m.group(4).rsplit("/", 1)[-1] if m.group(4) else None,
                                          int(m.group(5)) if m.group(5) else None))
        elif line.startswith("Backtrace stopped:"):
            thread.stopped = line
    return rep
