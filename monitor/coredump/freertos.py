"""FreeRTOS task control blocks in core dump memory: name, priority, stack bounds and scheduler state.

Member offsets come from the app ELF's DWARF (`struct tskTaskControlBlock` in tasks.c) when it has them;
otherwise from the layout every ESP-IDF FreeRTOS shares at the start of the TCB (top of stack 0, state and
event list items 4 and 24, priority 44, stack base 48, name 52), moved by one word when the TCB holds
an MPU settings word after the top of stack (ESP-IDF v4 on Xtensa): the state list item's owner is the
TCB's own address, which says where the item is. The end of the stack is found among the next words.
The state comes from the list the task's state item is in (the scheduler's lists are named in the ELF's
symbol table); a task is "blocked" when it waits with a timeout (delayed list) or
without one (suspended list while waiting for an event or a notification).
"""

from __future__ import annotations

from dataclasses import dataclass

from espwatch.unwind.memory import Memory
from espwatch.unwind.program import ProgramInfo

BASE_LAYOUT = {"pxTopOfStack": 0, "xStateListItem": 4, "xEventListItem": 24, "uxPriority": 44, "pxStack": 48,
               "pcTaskName": 52}
END_OF_STACK_CANDIDATES = (72, 68, 76)  # ESP-IDF v4/v5: after the name and xCoreID
LIST_ITEM_CONTAINER = 16  # ListItem_t.pvContainer
LIST_T_SIZE = 20
NAME_LEN = 16
MAX_STACK = 1 << 20
WAITING_NOTIFICATION = 1  # taskWAITING_NOTIFICATION


@dataclass
class TaskControlBlock:
    tcb: int
    name: str | None = None
    priority: int | None = None
    base_priority: int | None = None
    stack_base: int | None = None  # pxStack: the lowest address of the stack
    top: int | None = None  # pxTopOfStack: saved at the task's last context switch
    end: int | None = None  # pxEndOfStack: the highest address
    state: str = "unknown"
    state_detail: str = ""
    layout: str = "default"  # "dwarf" when the offsets came from the ELF
    readable: bool = True

    @property
    def used(self) -> int | None:
        """Bytes in use at the last context switch (esp-coredump's `STACK USED`)."""
        return abs(self.end - self.top) if self.end is not None and self.top is not None else None

    @property
    def free(self) -> int | None:
        """Bytes left below the saved top of stack (esp-coredump's `FREE`)."""
        if self.top is None or self.stack_base is None:
            return None
        return abs(self.top - self.stack_base)

    @property
    def size(self) -> int | None:
        if self.end is None or self.stack_base is None:
            return None
        return self.end - self.stack_base + 4

    @property
    def overflowed(self) -> bool:
        return self.top is not None and self.stack_base is not None and self.top < self.stack_base


def safe_text(raw: bytes) -> str:
    """Device bytes as printable text: never a control character (so never an escape sequence)."""
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in raw)


def read_tcb(memory: Memory, tcb: int, program: ProgramInfo | None) -> TaskControlBlock:
    """What the TCB at `tcb` says (fields stay None where the memory does not hold them)."""
    out = TaskControlBlock(tcb)
    offsets = dict(BASE_LAYOUT)
    shift = 0
    if program is not None and program.tcb_offsets:
        offsets.update(program.tcb_offsets)
        out.layout = "dwarf"
    else:
        shift = _layout_shift(memory, tcb)
        offsets = {k: v + shift if v else v for k, v in offsets.items()}

    def word(name: str) -> int | None:
        off = offsets.get(name)
        return memory.u32(tcb + off) if off is not None else None

    raw_name = memory.read(tcb + offsets["pcTaskName"], NAME_LEN)
    if raw_name is None:
        out.readable = False
        return out
    out.name = safe_text(raw_name.split(b"\0", 1)[0])
    out.priority = word("uxPriority")
    out.base_priority = word("uxBasePriority") if "uxBasePriority" in offsets else None
    out.stack_base = word("pxStack")
    out.top = word("pxTopOfStack")
    if "pxEndOfStack" in offsets:
        out.end = word("pxEndOfStack")
    else:
        out.end = _guess_end(memory, tcb + shift, out.stack_base, out.top)
    if program is not None and program.task_lists:
        _state(memory, tcb, offsets, program, out)
    return out


def _layout_shift(memory: Memory, tcb: int) -> int:
    """Bytes the TCB's list items sit after where BASE_LAYOUT has them (0, or 4 with an MPU word)."""
    owner = BASE_LAYOUT["xStateListItem"] + 12  # ListItem_t.pvOwner
    for shift in (0, 4, 8):
        if memory.u32(tcb + owner + shift) == tcb:
            return shift
    return 0


def _guess_end(memory: Memory, tcb: int, base: int | None, top: int | None) -> int | None:
    if base is None or top is None:
        return None
    for off in END_OF_STACK_CANDIDATES:
        end = memory.u32(tcb + off)
        if end is not None and base < end < base + MAX_STACK and end >= top:
            return end
    return None


def _in(lists: dict[str, tuple[int, int]], name: str, addr: int) -> bool:
    spot = lists.get(name)
    if spot is None:
        return False
    start, size = spot
    return start <= addr < start + max(size, LIST_T_SIZE)


def _state(memory: Memory, tcb: int, offsets: dict[str, int], program: ProgramInfo,
           out: TaskControlBlock) -> None:
    container = memory.u32(tcb + offsets["xStateListItem"] + LIST_ITEM_CONTAINER)
    waits_event = bool(memory.u32(tcb + offsets["xEventListItem"] + LIST_ITEM_CONTAINER))
    notify = None
    if "ucNotifyState" in offsets:
        raw = memory.read(tcb + offsets["ucNotifyState"], 1)
        notify = raw[0] if raw else None
    waits_notify = notify == WAITING_NOTIFICATION
    on = "on an event (queue, semaphore, mutex or event group)" if waits_event else \
        "on a task notification" if waits_notify else ""
    lists = program.task_lists
    if container is None:
        return
    if _in(lists, "pxReadyTasksLists", container):
        out.state = "ready"
    elif _in(lists, "xDelayedTaskList1", container) or _in(lists, "xDelayedTaskList2", container):
        out.state = "blocked"
        out.state_detail = f"{on}, with a timeout" if on else "in a delay"
    elif _in(lists, "xSuspendedTaskList", container):
        if on:
            out.state, out.state_detail = "blocked", f"{on}, without timeout"
        else:
            out.state = "suspended"
    elif _in(lists, "xPendingReadyList", container):
        out.state, out.state_detail = "ready", "pending (made ready while the scheduler was suspended)"
    elif _in(lists, "xTasksWaitingTermination", container):
        out.state = "deleted"
    elif container == 0:
        out.state = "unknown"
        out.state_detail = "in no scheduler list"
