"""`decode_coredump`: a core dump (log, base64, raw partition, ELF core) to a `CoreDumpReport`.

The steps: find the dump bytes (`extract`), check the header and checksum (`header`), read the ELF core
or the binary records (`elfcore` / `binfmt`, `layout` for damaged dumps), then per task read the TCB
(`freertos`), unwind its stack (`espwatch.unwind`) and decode the frames with the app's symbol index.
Everything that was lost or could not be trusted is said in `report.damage`, one sentence each.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from espwatch.coredump import binfmt
from espwatch.coredump.causes import riscv_cause, xtensa_cause
from espwatch.coredump.elfcore import (
    NT_ESP_EXTRA_INFO,
    NT_ESP_INFO,
    NT_ESP_PANIC_DETAILS,
    NT_PRSTATUS,
    ElfCore,
    note_registers,
    parse_elf_core,
    prstatus_tcb,
    stack_segment,
)
from espwatch.coredump.extract import DumpSource, find_dumps
from espwatch.coredump.freertos import read_tcb, safe_text
from espwatch.coredump.header import DumpHeader, parse_header, verify
from espwatch.coredump.layout import tcb_looks_valid
from espwatch.coredump.model import CoreDumpReport, ExceptionInfo, TaskReport
from espwatch.errors import CoreDumpError
from espwatch.symbols import Session, SymbolIndex
from espwatch.unwind.memory import Memory
from espwatch.unwind.model import STOP_NO_ELF, Unwind
from espwatch.unwind.program import ProgramInfo
from espwatch.unwind.riscv import ABI_NAMES, unwind_riscv
from espwatch.unwind.riscv import after_call as riscv_after_call
from espwatch.unwind.rom import in_rom
from espwatch.unwind.symbolize import decode_frames
from espwatch.unwind.xtensa import after_call as xtensa_after_call
from espwatch.unwind.xtensa import unwind_xtensa, window_pc

CURRENT_TASK_MARKER = 0xDEADBEEF
XTENSA_ISR_WORD = 37
RISCV_ISR_WORD = 1
# register numbers in the Xtensa extra-info note: the special register numbers the device writes (EXCCAUSE
# 232, EXCVADDR 238, EPC1-7, EPS2-7); esp-coredump's converter of binary dumps writes 0 and 1 for the first
# two
XTENSA_SPECIAL = {232: "EXCCAUSE", 238: "EXCVADDR", 0: "EXCCAUSE", 1: "EXCVADDR",
                  **{177 + i: f"EPC{i + 1}" for i in range(7)}, **{194 + i: f"EPS{i + 2}" for i in range(6)}}
RV_FRAME_EXTRA = ("MSTATUS", "MTVEC", "MCAUSE", "MTVAL", "MHARTID")  # RvExcFrame words 32-36


@dataclass
class _Snap:
    """One task as the dump has it: TCB address, registers, where its stack memory is."""

    tcb: int
    regs: dict[str, int]
    stack: tuple[int, int] | None = None
    damaged: list[str] = field(default_factory=list)


def load_elf(path: str | os.PathLike[str], use_cache: bool = True,
             cache_dir: str | os.PathLike[str] | None = None) -> tuple[SymbolIndex, ProgramInfo]:
    """The symbol index and program facts of an app ELF (cached); ElfError when it is unusable."""
    return (SymbolIndex.load(path, cache_dir=cache_dir, use_cache=use_cache),
            ProgramInfo.load(path, cache_dir=cache_dir, use_cache=use_cache))


def decode_coredumps(data: bytes, elf: str | os.PathLike[str] | None = None, *, name: str = "input",
                     index: SymbolIndex | None = None, program: ProgramInfo | None = None,
                     force_elf: bool = False, use_cache: bool = True) -> list[CoreDumpReport]:
    """Every core dump in `data`, decoded (with the app ELF when given). CoreDumpError when there is none."""
    sources = find_dumps(data, name)
    if elf is not None and (index is None or program is None):
        index, program = load_elf(elf, use_cache)
    return [decode_source(src, index, program, name=name, force_elf=force_elf) for src in sources]


def decode_coredump(data: bytes, elf: str | os.PathLike[str] | None = None, **kwargs) -> CoreDumpReport:
    """The first core dump in `data` (a log, base64 text, raw partition image or ELF core), decoded."""
    return decode_coredumps(data, elf, **kwargs)[0]


def decode_source(src: DumpSource, index: SymbolIndex | None, program: ProgramInfo | None, *,
                  name: str = "input", force_elf: bool = False) -> CoreDumpReport:
    rep = CoreDumpReport(src.kind, name, src.first_line, src.last_line, len(src.data))
    if src.bad_lines:
        shown = ", ".join(str(n) for n, _ in src.bad_lines[:8]) + (" ..." if len(src.bad_lines) > 8 else "")
        filled = sum(length for _, length in src.filled)
        rep.damage.append(f"{len(src.bad_lines)} line(s) of the dump are not valid base64 (line {shown}): "
                          + (f"{filled} bytes lost there" if filled else "their bytes are lost"))
    if src.kind == "log" and not src.ended:
        rep.damage.append("the log ends before `CORE DUMP END`: the end of the dump is missing")
    hdr: DumpHeader | None = None
    missing = 0
    holes: list[tuple[int, int]] = []
    if src.data.startswith(b"\x7fELF"):
        body = src.data
        rep.fmt = "elf"
        rep.notes.append("an ELF core file: no header, no checksum to verify")
    else:
        hdr = parse_header(src.data)
        rep.fmt, rep.version, rep.checksum_kind = hdr.fmt, hdr.version_text, hdr.checksum
        rep.chip, rep.chip_name, rep.chip_rev = hdr.chip_key, hdr.chip_name, hdr.chip_rev_text
        rep.arch = hdr.arch
        check = verify(src.data, hdr)
        rep.checksum_ok, rep.checksum_stored, rep.checksum_computed = check.ok, check.stored, check.computed
        body = src.data[hdr.size:min(len(src.data), hdr.data_end)]
        if len(src.data) < hdr.tot_len and src.ended and src.kind in ("log", "base64"):
            # lines lost on the way: the checksum still closes the data, the loss is somewhere inside
            body = src.data[hdr.size:max(hdr.size, len(src.data) - hdr.checksum_size)]
        missing = max(0, hdr.data_end - hdr.size - len(body))
        if len(src.data) < hdr.tot_len:
            what = {"log": "lines were lost on the serial port or the log was cut",
                    "raw": "the partition image is truncated"}.get(src.kind, "the data is cut short")
            rep.damage.append(f"the dump has {len(src.data)} of the {hdr.tot_len} bytes its header announces "
                              f"({hdr.tot_len - len(src.data)} missing: {what})")
        elif check.ok is False:
            rep.damage.append(f"{hdr.checksum.upper()} checksum mismatch (stored {check.stored[:16]}, "
                              f"computed {check.computed[:16]}): bytes of the dump were altered; values "
                              "read from the damaged part may be wrong")
        holes = [(off - hdr.size, off - hdr.size + length) for off, length in src.filled]
    if rep.fmt == "elf":
        core = parse_elf_core(body, missing, holes)
        snaps, memory = _elf_tasks(core, rep)
    else:
        assert hdr is not None
        snaps, memory = _binary_tasks(body, hdr, missing, holes, rep)
    index, program = _check_elf(rep, index, program, snaps, force_elf, memory)
    _tasks(rep, snaps, memory, index, program)
    if rep.fmt == "elf" and hdr is None and rep.arch is None:
        rep.arch = core.arch
    return rep


# -- ELF format -------------------------------------------------------------------------------------
def _elf_tasks(core: ElfCore, rep: CoreDumpReport) -> tuple[list[_Snap], Memory]:
    arch = core.arch
    if arch is None:
        raise CoreDumpError(f"the core dump ELF is for machine {core.machine}, not Xtensa or RISC-V")
    if rep.arch and rep.arch != arch:
        rep.damage.append(f"the header names a {rep.arch} chip but the ELF core is {arch}")
    rep.arch = arch
    memory = core.memory()
    snaps: list[_Snap] = []
    loads = core.loads
    spans = [(p.vaddr, p.size) for p in loads]
    tcbs = {prstatus_tcb(n) for n in core.notes_of(NT_PRSTATUS)}
    for note in core.notes_of(NT_PRSTATUS):
        if note.name != "CORE":
            continue
        regs = note_registers(note, arch)
        if "pc" not in regs:
            continue
        snap = _Snap(prstatus_tcb(note), regs)
        snaps.append(snap)
        tcb_seg = next((p for p in loads if p.vaddr == snap.tcb), None)
        start = stack_segment(spans, snap.tcb, regs.get("sp", regs.get("a1")), tcbs)
        seg = next((p for p in loads if p.vaddr == start), None)
        if seg is not None:
            snap.stack = (seg.vaddr, seg.vaddr + seg.size)
            if seg.lost:
                snap.damaged.append(f"{seg.lost} of the {seg.size} bytes of its stack are lost")
        else:
            snap.damaged.append("its stack is not in the dump")
        if tcb_seg is None:
            snap.damaged.append("its TCB is not in the dump")
        elif tcb_seg.lost:
            snap.damaged.append(f"{tcb_seg.lost} of the {tcb_seg.size} bytes of its TCB are lost")
    known = {snap.tcb for snap in snaps}
    for p in loads:  # a TCB without its register note: the task is listed, without a backtrace
        if p.vaddr not in known and tcb_looks_valid(p.data, p.vaddr):
            snaps.append(_Snap(p.vaddr, {}, damaged=["its registers were in the lost part: no backtrace"]))
            known.add(p.vaddr)
    if core.lost_headers:
        rep.damage.append(f"{core.lost_headers} program header(s) were in the lost part: the memory they "
                          "described (a task's TCB or stack) cannot be located")
    if not snaps:
        rep.damage.append("the dump holds no task registers (its register notes are lost)")
    for note in core.notes_of(NT_ESP_INFO):
        if len(note.desc) >= 8:
            sha = note.desc[4:4 + 64].split(b"\0", 1)[0]
            rep.app_sha256 = safe_text(sha).lower() or None
    info_lost = not core.notes_of(NT_ESP_INFO)
    extra = next((n for n in core.notes_of(NT_ESP_EXTRA_INFO)), None)
    if extra is not None:
        words = list(struct.unpack_from(f"<{len(extra.desc) // 4}I", extra.desc))
        _crash_info(rep, words, arch, memory, snaps)
    for note in core.notes_of(NT_ESP_PANIC_DETAILS):
        rep.panic_reason = safe_text(note.desc.rstrip(b"\0")).strip() or None
    layout = core.layout
    if layout is not None and layout.missing and info_lost:
        rep.damage.append("the dump's info notes (app ELF SHA-256, crashed task, panic reason) were in the "
                          "lost part")
    return snaps, memory


def _crash_info(rep: CoreDumpReport, words: list[int], arch: str, memory: Memory, snaps: list[_Snap]) -> None:
    if words and words[0] != CURRENT_TASK_MARKER:
        rep.crashed_tcb = words[0]
    elif words:
        rep.notes.append("the dump does not name the crashed task (it crashed outside a task, or its TCB "
                         "was corrupted)")
    isr_word = XTENSA_ISR_WORD if arch == "xtensa" else RISCV_ISR_WORD
    if len(words) > isr_word:
        rep.in_isr = bool(words[isr_word])
    if arch == "xtensa":
        special: dict[str, int] = {}
        for i in range(1, min(len(words), XTENSA_ISR_WORD) - 1, 2):
            name = XTENSA_SPECIAL.get(words[i])
            if name:
                special.setdefault(name, words[i + 1])  # the first pair wins (unused pairs are 0, 0)
        if "EXCCAUSE" in special:
            cause = special.pop("EXCCAUSE")
            label, meaning = xtensa_cause(cause)
            rep.exception = ExceptionInfo("EXCCAUSE", cause, label, meaning, "EXCVADDR",
                                          special.pop("EXCVADDR", None), special)


def _riscv_exception(rep: CoreDumpReport, snap: _Snap, memory: Memory) -> None:
    """MCAUSE & co. from the exception frame at the start of the crashed task's stack."""
    if snap.stack is None:
        return
    base = snap.stack[0]
    if [memory.u32(base + 4 * i) for i in range(3)] != [snap.regs.get(k) for k in ("pc", "ra", "sp")]:
        return
    extra = {name: memory.u32(base + 4 * (32 + i)) for i, name in enumerate(RV_FRAME_EXTRA)}
    if extra["MCAUSE"] is None:
        return
    cause = extra.pop("MCAUSE") or 0
    label, meaning = riscv_cause(cause)
    rep.exception = ExceptionInfo("MCAUSE", cause, label, meaning, "MTVAL", extra.pop("MTVAL"),
                                  {k: v for k, v in extra.items() if v is not None})


# -- binary format ------------------------------------------------------------------------------------
def _binary_tasks(body: bytes, hdr: DumpHeader, missing: int, holes: list[tuple[int, int]],
                  rep: CoreDumpReport) -> tuple[list[_Snap], Memory]:
    arch = rep.arch or "xtensa"
    core = binfmt.parse_binary(body, hdr.task_num or 0, hdr.tcb_size or 0, hdr.segs_num, missing, holes)
    rep.damage.extend(core.problems)
    memory = Memory()
    snaps = []
    for t in core.tasks:
        memory.add(t.tcb, t.tcb_bytes)
        memory.add(t.stack_start, t.stack)
        words = list(struct.unpack_from(f"<{min(len(t.stack), 37 * 4) // 4}I", t.stack))
        if arch == "riscv":
            regs = dict(zip(("pc", *ABI_NAMES[1:]), words[:32], strict=False))
        elif words and words[0] != 0:  # XtExcFrame: exit, pc, ps, a0-a15, sar, exccause, excvaddr, lbeg...
            regs = {"pc": words[1], "ps": words[2], **{f"a{i}": words[3 + i] for i in range(16)},
                    "sar": words[19], "lbeg": words[22], "lend": words[23], "lcount": words[24]} \
                if len(words) >= 25 else {}
        else:  # XtSolFrame: exit 0, pc, ps, next, a0-a3
            regs = {"pc": words[1], "ps": words[2], **{f"a{i}": words[4 + i] for i in range(4)}} \
                if len(words) >= 8 else {}
        snap = _Snap(t.tcb, regs, (t.stack_start, t.stack_start + len(t.stack)))
        if t.damaged:
            snap.damaged.append("its record is damaged (lost bytes)")
        if regs:
            snaps.append(snap)
    for start, data in core.segments:
        memory.add(start, data)
    if core.tasks:
        rep.crashed_tcb = core.tasks[0].tcb
        first = core.tasks[0].stack
        if arch == "xtensa" and len(first) >= 22 * 4 and struct.unpack_from("<I", first)[0] != 0:
            cause, vaddr = struct.unpack_from("<2I", first, 20 * 4)
            label, meaning = xtensa_cause(cause)
            rep.exception = ExceptionInfo("EXCCAUSE", cause, label, meaning, "EXCVADDR", vaddr)
    rep.notes.append("binary format: the dump carries no app ELF SHA-256 and no panic reason")
    return snaps, memory


# -- the ELF, tasks, backtraces ------------------------------------------------------------------------
def _code_fits(snap: _Snap, rep: CoreDumpReport, program: ProgramInfo, memory: Memory) -> bool:
    """Without a SHA-256 to compare: is the crashed task's PC code in this ELF, and does each return
    address found without the ELF come right after a call instruction in it?"""
    pc = snap.regs.get("pc")
    if pc is None:
        return True
    arch = rep.arch or ""
    if arch == "xtensa":
        pc = window_pc(pc)
        returns = [f.pc for f in unwind_xtensa(snap.regs["pc"], snap.regs.get("a0", 0),
                                               snap.regs.get("a1", 0), memory).frames[1:]]
    else:
        returns = [snap.regs["ra"]] if snap.regs.get("ra") else []
    if not program.in_app_code(pc) and not in_rom(pc, rep.chip, arch):
        return False
    for ret in returns:
        if not program.in_app_code(ret):
            continue
        if arch == "xtensa":
            if not xtensa_after_call(program.code_bytes(ret - 3, 3) or b""):
                return False
        elif not riscv_after_call(program, ret):
            return False
    return True


def _check_elf(rep: CoreDumpReport, index: SymbolIndex | None, program: ProgramInfo | None,
               snaps: list[_Snap], force: bool, memory: Memory
               ) -> tuple[SymbolIndex | None, ProgramInfo | None]:
    if program is None or index is None:
        rep.elf_note = "no ELF: function names, file and line need the app's ELF (--elf)"
        if rep.arch == "riscv":
            rep.elf_note += "; RISC-V backtraces need its call frame information too"
        return None, None
    rep.elf_path, rep.elf_sha256 = program.path, program.sha256
    if rep.arch and program.arch != rep.arch:
        rep.elf_matches = False
        rep.elf_note = (f"{os.path.basename(program.path)} is a {program.arch} ELF but the core dump is from "
                        f"a {rep.arch} chip: decoded without it")
        return None, None
    if rep.app_sha256:
        rep.elf_matches = program.sha256.startswith(rep.app_sha256)
    else:
        crashed = next((s for s in snaps if s.tcb == rep.crashed_tcb), snaps[0] if snaps else None)
        if crashed is not None and not _code_fits(crashed, rep, program, memory):
            rep.elf_matches = False
    if rep.elf_matches is False and not force:
        why = (f"the dump was written by the app with ELF SHA256 {rep.app_sha256}, "
               f"{os.path.basename(program.path)} is {program.sha256[:16]}" if rep.app_sha256 else
               f"the crashed task's return addresses do not follow calls in {os.path.basename(program.path)}")
        rep.elf_note = (f"WRONG ELF: {why}; decoded without it (names would be wrong). "
                        "Use the ELF of the build that crashed, or --force-elf")
        return None, None
    if rep.elf_matches:
        rep.elf_note = f"{os.path.basename(program.path)} matches the dump (app ELF SHA256 {rep.app_sha256})"
    elif rep.elf_matches is False:
        rep.elf_note = f"{os.path.basename(program.path)} does not match the dump; used anyway (--force-elf)"
    else:
        rep.elf_note = f"{os.path.basename(program.path)} (the dump carries no SHA-256 to compare)"
    return index, program


def _unwind(snap: _Snap, rep: CoreDumpReport, memory: Memory, program: ProgramInfo | None) -> Unwind | None:
    """The task's call stack from its registers (None when the dump lost them)."""
    regs = snap.regs
    if "pc" not in regs:
        return None
    if rep.arch == "xtensa":
        code = None
        if program is not None:
            def code(a: int, p: ProgramInfo = program) -> bool:
                return p.in_app_code(a) or in_rom(a, rep.chip, "xtensa")
        return unwind_xtensa(regs["pc"], regs.get("a0", 0), regs.get("a1", 0), memory, code)
    xregs = {n: regs[name] for n, name in enumerate(ABI_NAMES) if n and name in regs}
    return unwind_riscv(regs["pc"], xregs, memory, program, rep.chip)


def _tasks(rep: CoreDumpReport, snaps: list[_Snap], memory: Memory, index: SymbolIndex | None,
           program: ProgramInfo | None) -> None:
    session = Session()
    crashed_seen = False
    for i, snap in enumerate(snaps):
        task = TaskReport(i + 1, snap.tcb, registers=dict(snap.regs))
        tcb = read_tcb(memory, snap.tcb, program)
        task.name = tcb.name
        task.priority, task.base_priority = tcb.priority, tcb.base_priority
        task.stack_base, task.stack_top, task.stack_end = tcb.stack_base, tcb.top, tcb.end
        task.stack_used, task.stack_free, task.stack_overflowed = tcb.used, tcb.free, tcb.overflowed
        task.state, task.state_detail = tcb.state, tcb.state_detail
        if not tcb.readable:
            snap.damaged.append("its TCB is not readable")
        task.crashed = snap.tcb == rep.crashed_tcb
        if task.crashed:
            crashed_seen = True
            task.state, task.state_detail = "running", "crashed"
            if rep.arch == "riscv" and rep.exception is None:
                _riscv_exception(rep, snap, memory)
        unwound = _unwind(snap, rep, memory, program)
        if unwound is None:
            task.stop, task.stop_reason = "no_registers", "no registers for this task"
        else:
            task.pc = unwound.frames[0].pc
            task.frames = decode_frames(unwound.frames, index, program, session)
            task.stop, task.stop_reason = unwound.stop, unwound.reason
        if snap.damaged:
            task.damaged = "; ".join(snap.damaged)
            rep.damage.append(f"task '{task.name or '?'}' (TCB 0x{snap.tcb:08x}): {task.damaged}")
        rep.tasks.append(task)
    if rep.crashed_tcb is not None and not crashed_seen:
        rep.damage.append(f"the crashed task (TCB 0x{rep.crashed_tcb:08x}) has no registers in the dump")
    if rep.exception is not None and rep.panic_reason and rep.panic_reason.startswith("abort()"):
        rep.exception.meaning = ("raised on purpose by panic_abort() after abort() was called; the panic "
                                 "reason and the backtrace say why")
    if any(t.stop == STOP_NO_ELF for t in rep.tasks):
        rep.notes.append("RISC-V backtraces need the app's ELF (its call frame information): pass --elf")
    if any(t.guessed for t in rep.tasks):
        rep.notes.append("frames marked `guess` were found by scanning the stack past code without call "
                         "frame information (ROM): they are probably right, not certainly")
    if not rep.tasks and not rep.damage:
        raise CoreDumpError("the core dump holds no task")
