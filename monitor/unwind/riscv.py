"""RISC-V (ESP32-C2/C3/C5/C6/H2/P4) call stacks from a register set and stack memory, with DWARF CFI.

Each step evaluates the call frame information of the frame's function at its PC (frame 0) or at the
return address minus 1 (callers, as gdb does): the CFA (the caller's SP) from a register plus an offset,
and the return address from where the function saved it. Code without CFI (the chip's mask ROM, some
assembly) is passed by a guess: RISC-V functions keep the return address in the top word of a 16-byte
aligned frame, so the words at SP+12, SP+28, ... are tried, and one is taken only when it is a return
address (in app code: right after a call instruction; or in ROM) and the frame it leads to checks out.
Frames found that way are marked, and registers other than SP are unknown after them. (A variadic
function keeps `a1`-`a7` above the return address, so the word 36 bytes below the CFA is tried too.)

A function that ended with a tail call (`j other`) left no frame: its caller's call instruction names it,
not the function below. When the caller called F, the frame below is in another function G, and F's code
has exactly one jump to G, F is put back in between at the address after that jump (gdb does the same
from DWARF call-site information).
"""

from __future__ import annotations

from espwatch.unwind.cfi import (
    IN_REGISTER,
    NO_CFA,
    SAME,
    SAVED_AT,
    UNDEFINED,
    UNSUPPORTED,
    VALUE_AT,
    CfiRow,
)
from espwatch.unwind.memory import Memory
from espwatch.unwind.model import (
    BY_CFI,
    BY_GUESS,
    BY_RA,
    BY_REGISTERS,
    BY_TAILCALL,
    STOP_CORRUPT,
    STOP_DEPTH,
    STOP_END,
    STOP_NO_CFI,
    STOP_NO_ELF,
    STOP_NOT_CODE,
    STOP_STACK_END,
    STOP_UNSUPPORTED,
    RawFrame,
    Unwind,
)
from espwatch.unwind.program import ProgramInfo
from espwatch.unwind.rom import in_rom

RA, SP, GP, TP, FP = 1, 2, 3, 4, 8
MAX_FRAMES = 64
GUESS_WINDOW = 2048  # bytes above SP searched for the saved return address of a frame without CFI
RA_BELOW_CFA = (4, 36)  # where a frame keeps its return address: top word; below a1-a7 (variadic)
MAX_TAIL_SCAN = 16384  # bytes of a function searched for its tail-call jump
ABI_NAMES = ("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
             "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
             "t5", "t6")


def regs_from_list(values: list[int]) -> tuple[int, dict[int, int]]:
    """ESP-IDF's register order (PC, then x1..x31: RvExcFrame and the core dump note) -> (pc, {x: value})."""
    return values[0], {i: values[i] for i in range(1, min(32, len(values)))}


def after_call(program: ProgramInfo, addr: int) -> bool:
    """True when the instruction before `addr` in the app's code is a call that links `ra`."""
    four = program.code_bytes(addr - 4, 4)
    if four is not None:
        ins = int.from_bytes(four, "little")
        if ins & 3 == 3 and ins & 0x7F in (0x6F, 0x67) and (ins >> 7) & 0x1F == RA:  # jal / jalr ra
            return True
    two = program.code_bytes(addr - 2, 2)
    if two is not None:
        half = int.from_bytes(two, "little")
        if half & 0xE003 == 0x2001:  # c.jal (RV32)
            return True
        if half & 0xF07F == 0x9002 and half & 0x0F80:  # c.jalr rs1
            return True
    return False


class _Walker:
    def __init__(self, memory: Memory, program: ProgramInfo, chip: str | None) -> None:
        self.mem = memory
        self.prog = program
        self.chip = chip

    # -- what a code address is ---------------------------------------------------------------
    def rom(self, addr: int) -> bool:
        return not self.prog.in_image(addr) and in_rom(addr, self.chip, "riscv")

    def code(self, addr: int) -> bool:
        return self.prog.in_app_code(addr) or self.rom(addr)

    def after_call(self, addr: int) -> bool:
        return after_call(self.prog, addr)

    def return_address(self, value: int) -> bool:
        """Could `value` be a saved return address?"""
        if value == 0 or value & 1:
            return False
        if self.prog.in_app_code(value):
            return self.after_call(value)
        return self.rom(value)

    # -- one step with CFI ---------------------------------------------------------------------
    def step_cfi(self, row: CfiRow, regs: dict[int, int | None]
                 ) -> tuple[str, int | None, dict[int, int | None], str]:
        """(status, return address, caller registers, detail); status "ok" or a STOP_ code."""
        if row.cfa_reg == NO_CFA:
            return STOP_UNSUPPORTED, None, regs, "the CFA is a DWARF expression"
        base = regs.get(row.cfa_reg)
        if base is None:
            name = ABI_NAMES[row.cfa_reg] if row.cfa_reg < 32 else f"r{row.cfa_reg}"
            return STOP_NO_CFI, None, regs, f"the frame is based on {name}, unknown past a guessed frame"
        cfa = (base + row.cfa_offset) & 0xFFFFFFFF
        caller: dict[int, int | None] = dict(regs)
        ra_reg = row.ra_reg if row.ra_reg >= 0 else RA
        ra_rule = row.rules.get(ra_reg)
        for reg, (kind, val) in row.rules.items():
            if kind == SAVED_AT:
                caller[reg] = self.mem.u32((cfa + val) & 0xFFFFFFFF)
                if caller[reg] is None and reg == ra_reg:
                    where = (cfa + val) & 0xFFFFFFFF
                    return STOP_STACK_END, None, regs, \
                        f"the return address is saved at 0x{where:08x}, outside the stack memory"
            elif kind == VALUE_AT:
                caller[reg] = (cfa + val) & 0xFFFFFFFF
            elif kind == UNDEFINED:
                caller[reg] = None
            elif kind == IN_REGISTER:
                caller[reg] = regs.get(val)
            elif kind == UNSUPPORTED:
                if reg == ra_reg:
                    return STOP_UNSUPPORTED, None, regs, "the return address rule is a DWARF expression"
                caller[reg] = None
            elif kind == SAME:
                pass
        if ra_rule is not None and ra_rule[0] == UNDEFINED:
            return STOP_END, None, regs, "outermost frame (its CFI marks the return address undefined)"
        ra = caller.get(ra_reg)
        caller[SP] = cfa
        caller[ra_reg] = None  # the caller's own return address register is not known
        if ra is None:
            return STOP_NO_CFI, None, regs, "the return address was not saved (a noreturn function?)"
        return "ok", ra, caller, ""

    # -- guessing past code without CFI ---------------------------------------------------------
    def guess(self, sp: int, budget: int = 2) -> tuple[str, int | None, int | None]:
        """(status, return address, CFA) of a frame without CFI whose SP is `sp`."""
        for off in range(12, GUESS_WINDOW, 16):
            slot = (sp + off) & 0xFFFFFFFF
            value = self.mem.u32(slot)
            if value is None:
                return STOP_STACK_END, None, None
            if not self.return_address(value):
                continue
            for below in RA_BELOW_CFA:
                if self.check(value, slot + below, budget):
                    return "ok", value, slot + below
        return STOP_NO_CFI, None, None

    def check(self, pc: int, sp: int, budget: int) -> bool:
        """Does the frame at (pc, sp) lead on sensibly for `budget` more frames?

        Sensible: return addresses that follow calls, up to the outermost frame (undefined return address).
        Not: a return address of 0 (task stacks end with an undefined one, stale zeros are common), and
        not running out of stack memory before the check is done (a guess must be confirmed)."""
        row = self.prog.cfi.row_at(pc - 1)
        if row is None:
            if budget <= 0:
                return True
            return self.guess(sp, budget - 1)[0] == "ok"
        if row.cfa_reg != SP:
            return True  # cannot be checked without the other registers
        status, ra, caller, _detail = self.step_cfi(row, {SP: sp})
        if status == STOP_END:
            return True
        if status != "ok" or not ra:
            return False
        cfa = caller[SP]
        if cfa is None or cfa <= sp or not self.return_address(ra):
            return False
        return budget <= 0 or self.check(ra, cfa, budget - 1)

    # -- tail calls ------------------------------------------------------------------------------
    def call_target(self, ret: int) -> int | None:
        """The target of the direct call just before return address `ret` (None: indirect or unknown)."""
        four = self.prog.code_bytes(ret - 4, 4)
        if four is not None:
            ins = int.from_bytes(four, "little")
            if ins & 3 == 3 and (ins >> 7) & 0x1F == RA:
                if ins & 0x7F == 0x6F:  # jal ra, target
                    return (ret - 4 + _imm_j(ins)) & 0xFFFFFFFF
                if ins & 0x7F == 0x67 and (ins >> 15) & 0x1F == RA:  # auipc ra, hi; jalr ra, lo(ra)
                    prev = self.prog.code_bytes(ret - 8, 4)
                    if prev is not None:
                        up = int.from_bytes(prev, "little")
                        if up & 0x7F == 0x17 and (up >> 7) & 0x1F == RA:
                            return (ret - 8 + _imm_u(up) + _imm_i(ins)) & 0xFFFFFFFF
                    return None
        two = self.prog.code_bytes(ret - 2, 2)
        if two is not None:
            half = int.from_bytes(two, "little")
            if half & 0xE003 == 0x2001:  # c.jal
                return (ret - 2 + _imm_cj(half)) & 0xFFFFFFFF
        return None

    def tail_site(self, caller_fn: tuple[int, int], callee_entry: int) -> int | None:
        """The address after the only jump in `caller_fn` to `callee_entry`, else None."""
        lo, hi = caller_fn
        code = self.prog.code_bytes(lo, min(hi - lo, MAX_TAIL_SCAN))
        if code is None:
            return None
        sites = []
        pos = 0
        prev_auipc: tuple[int, int] | None = None  # (rd, target base)
        while pos + 2 <= len(code):
            half = int.from_bytes(code[pos:pos + 2], "little")
            addr = lo + pos
            if half & 3 == 3:
                if pos + 4 > len(code):
                    break
                ins = int.from_bytes(code[pos:pos + 4], "little")
                op, rd = ins & 0x7F, (ins >> 7) & 0x1F
                target = None
                if op == 0x6F and rd == 0:
                    target = addr + _imm_j(ins)
                elif op == 0x67 and rd == 0 and prev_auipc and prev_auipc[0] == (ins >> 15) & 0x1F:
                    target = prev_auipc[1] + _imm_i(ins)
                prev_auipc = (rd, addr + _imm_u(ins)) if op == 0x17 and rd else None
                if target is not None and target & 0xFFFFFFFF == callee_entry:
                    sites.append(addr + 4)
                pos += 4
            else:
                if half & 0xE003 == 0xA001 and (addr + _imm_cj(half)) & 0xFFFFFFFF == callee_entry:  # c.j
                    sites.append(addr + 2)
                prev_auipc = None
                pos += 2
        return sites[0] if len(sites) == 1 else None

    def tail_frame(self, callee_pc: int, callee_first: bool, ret: int) -> int | None:
        """The PC of a function between the frame at `callee_pc` and its caller at `ret` (a tail call)."""
        target = self.call_target(ret)
        if target is None:
            return None
        callee_fn = self.prog.cfi.function_range(callee_pc if callee_first else callee_pc - 1)
        target_fn = self.prog.cfi.function_range(target)
        if callee_fn is None or target_fn is None or target_fn == callee_fn or target != target_fn[0]:
            return None
        return self.tail_site(target_fn, callee_fn[0])


def _sext(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _imm_j(ins: int) -> int:
    v = ((ins >> 31) & 1) << 20 | ((ins >> 12) & 0xFF) << 12 | ((ins >> 20) & 1) << 11 \
        | ((ins >> 21) & 0x3FF) << 1
    return _sext(v, 21)


def _imm_i(ins: int) -> int:
    return _sext(ins >> 20, 12)


def _imm_u(ins: int) -> int:
    return _sext(ins & 0xFFFFF000, 32)


def _imm_cj(half: int) -> int:
    b = [(half >> i) & 1 for i in range(16)]
    v = (b[12] << 11 | b[8] << 10 | b[10] << 9 | b[9] << 8 | b[6] << 7 | b[7] << 6 | b[2] << 5 | b[11] << 4
         | b[5] << 3 | b[4] << 2 | b[3] << 1)
    return _sext(v, 12)


def unwind_riscv(pc: int, regs: dict[int, int], memory: Memory, program: ProgramInfo | None,
                 chip: str | None = None, max_frames: int = MAX_FRAMES) -> Unwind:
    """The call stack from `pc` and registers `regs` ({x-number: value}, at least SP) over `memory`."""
    sp0 = regs.get(SP)
    out = Unwind()
    region = memory.region_of(sp0) if sp0 is not None else None
    out.memory_end = region[1] if region else None
    out.frames.append(RawFrame(pc, sp0, BY_REGISTERS))
    if program is None:
        out.stop = STOP_NO_ELF
        out.reason = "RISC-V unwinding needs the app's ELF (its call frame information)"
        return out
    walk = _Walker(memory, program, chip)
    cur: dict[int, int | None] = dict(regs)
    cur_pc = pc
    while True:
        if len(out.frames) >= max_frames:
            out.stop, out.reason = STOP_DEPTH, f"stopped after {max_frames} frames"
            return out
        first = len(out.frames) == 1
        sp = cur.get(SP)
        lookup = cur_pc if first else cur_pc - 1
        row = program.cfi.row_at(lookup)
        if row is not None:
            status, ra, caller, detail = walk.step_cfi(row, cur)
            how = BY_CFI
        elif first and not walk.code(cur_pc):
            # a jump to a bad address (a NULL or corrupted function pointer): RA still holds the caller
            ra, caller, how = cur.get(RA), {**cur, RA: None}, BY_RA
            status, detail = ("ok", "") if ra else \
                (STOP_NOT_CODE, f"PC 0x{cur_pc:08x} is not code and RA is 0")
        elif first and cur.get(RA) and program.in_app_code(cur[RA] or 0) and walk.after_call(cur[RA] or 0) \
                and walk.check(cur[RA] or 0, sp or 0, 1):
            # a leaf without CFI (a ROM function such as memcpy): it has not touched RA or SP
            ra, caller, how, status, detail = cur.get(RA), {**cur, RA: None}, BY_RA, "ok", ""
        else:
            if sp is None:
                out.stop, out.reason = STOP_NO_CFI, f"no call frame information for 0x{cur_pc:08x}"
                return out
            status, ra, cfa = walk.guess(sp)
            how = BY_GUESS
            caller = {SP: cfa, GP: cur.get(GP), TP: cur.get(TP)}
            detail = {
                STOP_STACK_END: f"no call frame information for 0x{cur_pc:08x} (ROM?) and the stack memory "
                                "ends before a return address above it could be confirmed",
                STOP_NO_CFI: f"no call frame information for 0x{cur_pc:08x} (ROM?) and no return address "
                             "found on the stack above it",
            }.get(status, "")
        if status != "ok" or ra is None:
            out.stop, out.reason = status, detail
            return out
        new_sp = caller.get(SP)
        if ra == 0:
            out.stop, out.reason = STOP_END, "outermost frame (return address 0)"
            return out
        if sp is not None and new_sp is not None and (new_sp < sp or (new_sp == sp and ra == cur_pc)):
            out.stop, out.reason = STOP_CORRUPT, f"the stack pointer does not move up at 0x{cur_pc:08x}"
            return out
        if not walk.code(ra):
            out.stop, out.reason = STOP_NOT_CODE, f"return address 0x{ra:08x} is not code (corrupted stack?)"
            return out
        if how != BY_GUESS and program.in_app_code(ra):
            tail = walk.tail_frame(cur_pc, first, ra)
            if tail is not None:
                out.frames.append(RawFrame(tail, new_sp, BY_TAILCALL))
        out.frames.append(RawFrame(ra, new_sp, how))
        cur, cur_pc = caller, ra
