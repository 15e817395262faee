"""The ELF core file inside an ELF-format core dump: memory segments and notes, read leniently.

ESP-IDF writes an `ET_CORE` ELF: `PT_LOAD` segments (each task's TCB and stack, optional memory regions)
and `PT_NOTE` segments holding
- `CORE` / NT_PRSTATUS (1): one per task, `pr_pid` = TCB address, then the registers (Xtensa: the
  `xtensa_gregset_t` PC, PS, ..., AR0-AR63; RISC-V: PC and x1-x31),
- `ESP_CORE_DUMP_INFO` (8266): format version and the app's ELF SHA-256 (hex text),
- `ESP_EXTRA_INFO` (677): the crashed task's TCB, then Xtensa exception register pairs / the ISR flag,
- `ESP_PANIC_DETAILS` (679): the panic reason text,
- `TASK_INFO` (678): per-task status flags (written by esp-coredump's converter, not by the device).
A segment or note that runs past the end of the data is kept as far as it goes (see `layout`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from espwatch.coredump.layout import PT_LOAD, PT_NOTE, Layout, Placed, frame_words, place, program_headers
from espwatch.errors import CoreDumpError
from espwatch.unwind.memory import Memory

ET_CORE = 4
EM_XTENSA, EM_RISCV = 94, 243
NT_PRSTATUS = 1
NT_ESP_INFO = 8266
NT_ESP_EXTRA_INFO = 677
NT_ESP_TASK_INFO = 678
NT_ESP_PANIC_DETAILS = 679
PRSTATUS_REGS_OFFSET = 72
XT_REG_WORDS = 129  # xtensa_gregset_t as ESP-IDF writes it
XT_AR = 64  # where AR0 is in it
RISCV_NAMES = ("pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
               "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
               "t5", "t6")


@dataclass(slots=True)
class Note:
    name: str
    type: int
    desc: bytes


@dataclass
class ElfCore:
    machine: int
    segments: list[Placed] = field(default_factory=list)  # every program header, in header order
    notes: list[Note] = field(default_factory=list)
    layout: Layout | None = None
    lost_headers: int = 0  # program headers in the lost part: their segments cannot be located

    @property
    def arch(self) -> str | None:
        return {EM_XTENSA: "xtensa", EM_RISCV: "riscv"}.get(self.machine)

    @property
    def loads(self) -> list[Placed]:
        return [p for p in self.segments if p.ptype == PT_LOAD]

    def notes_of(self, ntype: int) -> list[Note]:
        return [n for n in self.notes if n.type == ntype]

    def memory(self) -> Memory:
        """Every good byte of the load segments."""
        mem = Memory()
        for p in self.loads:
            for addr, data in p.parts:
                mem.add(addr, data)
        return mem


def parse_elf_core(body: bytes, missing: int = 0, holes: list[tuple[int, int]] = ()) -> ElfCore:
    """Segments and notes of an ELF core lacking `missing` bytes (and the `holes` ranges) somewhere."""
    headers, lost_headers = program_headers(body, missing)
    if body[4] != 1 or body[5] != 1:
        raise CoreDumpError("the core dump ELF is not 32-bit little-endian")
    e_type, machine = struct.unpack_from("<HH", body, 16)
    if e_type != ET_CORE:
        raise CoreDumpError(f"the core dump ELF has type {e_type}, not a core file")
    core = ElfCore(machine, lost_headers=lost_headers)
    tcbs: set[int] = set()
    frames: dict[int, list[dict[int, int]]] = {}
    if missing and core.arch:  # what the register notes found in place say about TCBs and stack frames
        loads = [(v, sz) for t, _o, v, sz in headers if t == PT_LOAD]
        for ptype, off, _vaddr, size in headers:
            if ptype != PT_NOTE:
                continue
            for note in _parse_notes(body[off:off + size]):
                if note.type != NT_PRSTATUS:
                    continue
                tcb = prstatus_tcb(note)
                tcbs.add(tcb)
                regs = note_registers(note, core.arch)
                stack = stack_segment(loads, tcb, regs.get("sp", regs.get("a1")))
                if stack is not None:
                    frames[stack] = frame_words(core.arch, regs)
    core.layout = place(body, headers, missing, tcbs, frames, holes)
    core.segments = core.layout.segments
    for p in core.segments:
        if p.ptype == PT_NOTE:
            for _addr, data in p.parts:
                core.notes.extend(_parse_notes(data))
    return core


def note_registers(note: Note, arch: str) -> dict[str, int]:
    """The registers of a `CORE` note by name (RISC-V: pc, ra, sp...; Xtensa: pc, ps, ..., a0-a15)."""
    if arch == "riscv":
        return dict(zip(RISCV_NAMES, prstatus_words(note, 32), strict=False))
    words = prstatus_words(note, XT_REG_WORDS)
    regs = dict(zip(("pc", "ps", "lbeg", "lend", "lcount", "sar"), words[:6], strict=False))
    regs.update({f"a{i}": v for i, v in enumerate(words[XT_AR:XT_AR + 16])})
    return regs


def stack_segment(loads: list[tuple[int, int]], tcb: int, sp: int | None, tcbs: set[int] = frozenset()
                  ) -> int | None:
    """The address of a task's stack segment: the one holding its SP; for a task that never ran (SP 0)
    the one after its TCB, unless that is another task's TCB."""
    for vaddr, size in loads:
        if sp is not None and vaddr <= sp < vaddr + size and vaddr != tcb:
            return vaddr
    if sp:
        return None
    for i, (vaddr, _size) in enumerate(loads):
        if vaddr == tcb and i + 1 < len(loads) and loads[i + 1][0] not in tcbs:
            return loads[i + 1][0]
    return None


def _parse_notes(chunk: bytes) -> list[Note]:
    out = []
    pos = 0
    while pos + 12 <= len(chunk):
        namesz, descsz, ntype = struct.unpack_from("<3I", chunk, pos)
        name_end = pos + 12 + namesz
        desc_start = pos + 12 + ((namesz + 3) & ~3)
        desc_end = desc_start + descsz
        if namesz > 64 or desc_end > len(chunk):
            break
        name = chunk[pos + 12:name_end].split(b"\0", 1)[0].decode("ascii", "replace")
        out.append(Note(name, ntype, chunk[desc_start:desc_end]))
        pos = (desc_end + 3) & ~3
    return out


def prstatus_tcb(note: Note) -> int:
    """The TCB address a register note belongs to (`pr_pid`)."""
    return struct.unpack_from("<I", note.desc, 24)[0] if len(note.desc) >= 28 else 0


def prstatus_words(note: Note, count: int) -> list[int]:
    """`count` register words after the prstatus header (fewer when the note is short)."""
    avail = max(0, (len(note.desc) - PRSTATUS_REGS_OFFSET) // 4)
    n = min(count, avail)
    return list(struct.unpack_from(f"<{n}I", note.desc, PRSTATUS_REGS_OFFSET)) if n else []
