"""The older binary core dump format (versions 0.x): task records, then memory segments.

After the header: for each task a record `tcb address, stack top, stack end` (3 words), the TCB
(`tcb_size` bytes) and the stack from its top to its end (padded to 4 bytes); the crashed task comes
first. Version 0.2 and later append memory segments (`start, size, bytes`). The registers of a task are
the frame saved at its stack top (Xtensa: `XtExcFrame` or, when its first word is 0, `XtSolFrame`;
RISC-V: PC and x1-x31). Lost bytes shift the records that follow them; a record that does not make
sense where it should be is looked for where it would be after the loss.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAX_STACK = 1 << 20


@dataclass
class BinTask:
    tcb: int
    stack_top: int
    stack_end: int
    tcb_bytes: bytes
    stack: bytes
    damaged: bool = False

    @property
    def stack_start(self) -> int:
        return min(self.stack_top, self.stack_end)


@dataclass
class BinCore:
    tasks: list[BinTask] = field(default_factory=list)
    segments: list[tuple[int, bytes]] = field(default_factory=list)
    expected_tasks: int = 0
    problems: list[str] = field(default_factory=list)


def _record_ok(body: bytes, pos: int, tcb_size: int) -> bool:
    if pos < 0 or pos + 12 > len(body):
        return False
    tcb, top, end = struct.unpack_from("<3I", body, pos)
    if tcb == 0 or tcb & 3 or top & 3 or end & 3:
        return False
    return 0 < abs(end - top) <= MAX_STACK and abs(tcb - top) < (64 << 20)


def parse_binary(body: bytes, task_num: int, tcb_size: int, segs_num: int | None,
                 missing: int = 0) -> BinCore:
    out = BinCore(expected_tasks=task_num)
    pos = 0
    shift = 0
    for i in range(task_num):
        if not _record_ok(body, pos - shift, tcb_size):
            if missing and not shift and _record_ok(body, pos - missing, tcb_size):
                shift = missing
                if out.tasks:
                    out.tasks[-1].damaged = True
            else:
                out.problems.append(f"task records {i + 1} to {task_num} are missing or unreadable")
                return out
        at = pos - shift
        tcb, top, end = struct.unpack_from("<3I", body, at)
        stack_len = abs(end - top)
        padded = (stack_len + 3) & ~3
        tcb_bytes = body[at + 12:at + 12 + tcb_size]
        stack = body[at + 12 + tcb_size:at + 12 + tcb_size + stack_len]
        task = BinTask(tcb, top, end, tcb_bytes, stack)
        if len(tcb_bytes) < tcb_size or len(stack) < stack_len:
            task.damaged = True
        out.tasks.append(task)
        pos += 12 + tcb_size + padded
    for _ in range(segs_num or 0):
        at = pos - shift
        if at + 8 > len(body):
            out.problems.append("memory segments after the tasks are missing")
            break
        start, size = struct.unpack_from("<2I", body, at)
        data = body[at + 8:at + 8 + size]
        out.segments.append((start, data))
        pos += 8 + size
    return out
