"""What a decoded core dump says: the `CoreDumpReport` and its parts, with their JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from espwatch.unwind.symbolize import BacktraceFrame


def hex32(v: int | None) -> str | None:
    return None if v is None else f"0x{v & 0xFFFFFFFF:08x}"


@dataclass
class ExceptionInfo:
    """The crashed task's exception: cause register, its name and meaning, and the faulting address."""

    register: str  # "EXCCAUSE" or "MCAUSE"
    cause: int
    name: str
    meaning: str
    address_register: str  # "EXCVADDR" or "MTVAL"
    address: int | None
    registers: dict[str, int] = field(default_factory=dict)  # EPC1.., EPS2.. / MSTATUS, MTVEC, MHARTID

    def to_json(self) -> dict[str, Any]:
        return {
            "register": self.register, "cause": hex32(self.cause), "name": self.name, "meaning": self.meaning,
            "address_register": self.address_register, "address": hex32(self.address),
            "registers": {k: hex32(v) for k, v in self.registers.items()},
        }


@dataclass
class TaskReport:
    """One task: its TCB facts, registers and unwound, decoded backtrace."""

    index: int
    tcb: int
    name: str | None = None
    state: str = "unknown"
    state_detail: str = ""
    priority: int | None = None
    base_priority: int | None = None
    stack_base: int | None = None
    stack_top: int | None = None
    stack_end: int | None = None
    stack_used: int | None = None
    stack_free: int | None = None
    stack_overflowed: bool = False
    crashed: bool = False
    pc: int | None = None
    registers: dict[str, int] = field(default_factory=dict)
    frames: list[BacktraceFrame] = field(default_factory=list)
    stop: str = ""
    stop_reason: str = ""
    damaged: str | None = None  # what of this task was lost

    @property
    def guessed(self) -> bool:
        return any(f.how == "guess" for f in self.frames)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index, "tcb": hex32(self.tcb), "name": self.name, "crashed": self.crashed,
            "state": self.state, "state_detail": self.state_detail,
            "priority": self.priority, "base_priority": self.base_priority,
            "stack": {"base": hex32(self.stack_base), "top": hex32(self.stack_top),
                      "end": hex32(self.stack_end), "used": self.stack_used, "free": self.stack_free,
                      "overflowed": self.stack_overflowed},
            "pc": hex32(self.pc),
            "registers": {k: hex32(v) for k, v in self.registers.items()},
            "backtrace": {"frames": [f.to_json() for f in self.frames], "stop": self.stop,
                          "stop_reason": self.stop_reason, "guessed": self.guessed},
            "damaged": self.damaged,
        }


@dataclass
class CoreDumpReport:
    """Everything decoded from one core dump (`decode_coredump`)."""

    source: str  # "log", "base64", "raw", "elf"
    name: str = ""
    first_line: int | None = None
    last_line: int | None = None
    size: int = 0
    fmt: str = ""  # "elf" or "binary"
    version: str | None = None  # "1.2"
    checksum_kind: str | None = None
    checksum_ok: bool | None = None
    checksum_stored: str | None = None
    checksum_computed: str | None = None
    chip: str | None = None  # "esp32c3"
    chip_name: str | None = None  # "ESP32-C3"
    chip_rev: str | None = None
    arch: str | None = None
    app_sha256: str | None = None  # as the dump has it (a prefix)
    elf_path: str | None = None
    elf_sha256: str | None = None
    elf_matches: bool | None = None
    elf_note: str = ""
    panic_reason: str | None = None
    crashed_tcb: int | None = None
    in_isr: bool | None = None
    exception: ExceptionInfo | None = None
    tasks: list[TaskReport] = field(default_factory=list)
    damage: list[str] = field(default_factory=list)  # what was lost, one sentence each
    notes: list[str] = field(default_factory=list)  # other remarks (no ELF, guessed frames...)

    @property
    def crashed_task(self) -> TaskReport | None:
        return next((t for t in self.tasks if t.crashed), None)

    @property
    def damaged(self) -> bool:
        return bool(self.damage)

    @property
    def summary(self) -> str:
        """One line: chip, panic reason or exception, crashed task and where."""
        parts = [self.chip_name or "core dump"]
        if self.panic_reason:
            parts.append(self.panic_reason)
        elif self.exception is not None:
            parts.append(self.exception.name)
        task = self.crashed_task
        if task is not None:
            where = next((f.function for f in task.frames if f.function), None)
            parts.append(f"in task '{task.name}'" + (f" at {where}" if where else ""))
        return ": ".join(parts[:2]) + (" " + " ".join(parts[2:]) if len(parts) > 2 else "")

    def to_json(self) -> dict[str, Any]:
        crashed = self.crashed_task
        return {
            "source": self.source, "name": self.name,
            "first_line": self.first_line, "last_line": self.last_line,
            "size": self.size, "format": self.fmt, "version": self.version,
            "checksum": {"type": self.checksum_kind, "ok": self.checksum_ok, "stored": self.checksum_stored,
                         "computed": self.checksum_computed},
            "chip": self.chip, "chip_name": self.chip_name, "chip_rev": self.chip_rev, "arch": self.arch,
            "app_elf_sha256": self.app_sha256,
            "elf": {"path": self.elf_path, "sha256": self.elf_sha256, "matches": self.elf_matches,
                    "note": self.elf_note},
            "panic_reason": self.panic_reason,
            "crashed_task": None if crashed is None else {"name": crashed.name, "tcb": hex32(crashed.tcb),
                                                          "in_isr": self.in_isr},
            "exception": None if self.exception is None else self.exception.to_json(),
            "tasks": [t.to_json() for t in self.tasks],
            "damage": self.damage,
            "notes": self.notes,
        }
