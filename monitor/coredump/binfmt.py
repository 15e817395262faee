"""The older binary core dump format (versions 0.x): task records, then memory segments.

After the header: for each task a record `tcb address, stack top, stack end` (3 words), the TCB
(`tcb_size` bytes) and the stack from its top to its end (padded to 4 bytes); the crashed task comes
first. Version 0.2 and later append memory segments (`start, size, bytes`). The registers of a task are
the frame saved at its stack top (Xtensa: `XtExcFrame` or, when its first word is 0, `XtSolFrame`;
RISC-V: PC and x1-x31). Lost bytes shift the records that follow them; when a record does not make
sense where it should be, the next one is searched for from where it would be after the loss (a record
checks out when its TCB names itself as its list items' owner).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from espwatch.coredump.layout import tcb_looks_valid

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
    """A task record at `pos`: sane stack bounds, and a TCB that names itself as its list items' owner."""
    if pos < 0 or pos + 12 + tcb_size > len(body):
        return False
    tcb, top, end = struct.unpack_from("<3I", body, pos)
    if tcb == 0 or tcb & 3 or top & 3 or end & 3:
        return False
    if not 0 < abs(end - top) <= MAX_STACK or abs(tcb - top) >= (64 << 20):
        return False
    return tcb_looks_valid(body[pos + 12:pos + 12 + tcb_size], tcb)


def parse_binary(body: bytes, task_num: int, tcb_size: int, segs_num: int | None,
                 missing: int = 0, holes: list[tuple[int, int]] = ()) -> BinCore:
    """Task records and memory segments of a binary-format dump lacking `missing` bytes somewhere;
    `holes` are ranges of `body` known to be lost (zero-filled): tasks overlapping them are damaged."""
    out = BinCore(expected_tasks=task_num)
    at = 0
    after_prev = 0  # the earliest place the next record can be (past the last one's TCB)
    searched = False
    while len(out.tasks) < task_num:
        if not _record_ok(body, at, tcb_size):
            if not missing or searched:
                break
            # the loss is behind us: look for the next record from where it would be after the loss
            searched = True
            if out.tasks:
                out.tasks[-1].damaged = True
            at = next((p for p in range(max(after_prev, at - missing), len(body) - 12, 4)
                       if _record_ok(body, p, tcb_size)), -1)
            if at < 0:
                break
            continue
        tcb, top, end = struct.unpack_from("<3I", body, at)
        stack_len = abs(end - top)
        tcb_bytes = body[at + 12:at + 12 + tcb_size]
        stack = body[at + 12 + tcb_size:at + 12 + tcb_size + stack_len]
        task = BinTask(tcb, top, end, tcb_bytes, stack)
        record_end = at + 12 + tcb_size + stack_len
        if len(tcb_bytes) < tcb_size or len(stack) < stack_len or \
                any(h0 < record_end and h1 > at for h0, h1 in holes):
            task.damaged = True
        out.tasks.append(task)
        after_prev = at + 12 + tcb_size
        at += 12 + tcb_size + ((stack_len + 3) & ~3)
    if len(out.tasks) < task_num:
        lost = task_num - len(out.tasks)
        out.problems.append(f"{lost} of the {task_num} task records are missing (in the lost part)")
        if out.tasks and missing:
            out.tasks[-1].damaged = True
        return out
    for _ in range(segs_num or 0):
        if at + 8 > len(body):
            out.problems.append("memory segments after the tasks are missing")
            break
        start, size = struct.unpack_from("<2I", body, at)
        out.segments.append((start, body[at + 8:at + 8 + size]))
        at += 8 + size
    return out
