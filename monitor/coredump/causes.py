"""Names and meanings of the exception causes a crashed task's registers carry (EXCCAUSE / MCAUSE)."""

from __future__ import annotations

# Xtensa EXCCAUSE (Xtensa ISA reference, exception causes), named as ESP-IDF's panic handler prints them.
XTENSA_CAUSES: dict[int, tuple[str, str]] = {
    0: ("IllegalInstruction", "the CPU fetched an invalid instruction (a jump into data, or corrupted code)"),
    1: ("Syscall", "a SYSCALL instruction"),
    2: ("InstructionFetchError", "an error while fetching an instruction (EXCVADDR is the address)"),
    3: ("LoadStoreError", "a load or store the memory cannot serve, e.g. a byte access to IRAM "
                          "(EXCVADDR is the address)"),
    4: ("Level1Interrupt", "a level-1 interrupt"),
    5: ("Alloca", "MOVSP while the caller's registers were not in the register file"),
    6: ("IntegerDivideByZero", "an integer division by zero"),
    8: ("Privileged", "a privileged instruction in user mode"),
    9: ("LoadStoreAlignment", "an unaligned load or store (EXCVADDR is the address)"),
    12: ("InstrPIFDataError", "a bus data error while fetching an instruction"),
    13: ("LoadStorePIFDataError", "a bus data error on a load or store"),
    14: ("InstrPIFAddrError", "a bus address error while fetching an instruction"),
    15: ("LoadStorePIFAddrError", "a bus address error on a load or store"),
    16: ("InstTLBMiss", "instruction TLB miss"),
    17: ("InstTLBMultiHit", "several instruction TLB entries matched"),
    18: ("InstFetchPrivilege", "instruction fetch from a privileged region"),
    20: ("InstFetchProhibited", "a jump to an address that holds no code: a bad function pointer or a "
                                "corrupted return address (EXCVADDR is the address)"),
    24: ("LoadStoreTLBMiss", "data TLB miss"),
    25: ("LoadStoreTLBMultiHit", "several data TLB entries matched"),
    26: ("LoadStorePrivilege", "a load or store to a privileged region"),
    28: ("LoadProhibited", "a read from an address where nothing can be read: EXCVADDR near 0 means a "
                           "NULL pointer (plus the member offset)"),
    29: ("StoreProhibited", "a write to an address where nothing can be written: EXCVADDR near 0 means a "
                            "NULL pointer (plus the member offset)"),
    **{32 + n: (f"Coprocessor{n}Disabled", f"a coprocessor {n} instruction while it is disabled")
       for n in range(8)},
    # ESP-IDF's pseudo causes (XCHAL_EXCCAUSE_NUM + n), set by the panic handler
    64: ("UnknownException", "an exception ESP-IDF does not know"),
    65: ("DebugException", "an unhandled debug exception (breakpoint or watchpoint, e.g. a stack canary)"),
    66: ("DoubleException", "an exception while handling an exception"),
    67: ("KernelException", "an unhandled kernel exception"),
    68: ("CoprocessorException", "a coprocessor exception"),
    69: ("InterruptWdtTimeoutCPU0", "the interrupt watchdog fired on CPU 0"),
    70: ("InterruptWdtTimeoutCPU1", "the interrupt watchdog fired on CPU 1"),
    71: ("CacheError", "cache disabled but cached memory region accessed"),
    0xFFFF: ("Invalid", "no valid cause (the crashed task's frame was not saved)"),
}

# RISC-V mcause exception codes (privileged architecture), named as ESP-IDF's panic handler prints them.
RISCV_CAUSES: dict[int, tuple[str, str]] = {
    0: ("Instruction address misaligned", "a jump to an odd address"),
    1: ("Instruction access fault", "a jump to an address that holds no code: a NULL or bad function "
                                    "pointer, or a corrupted return address (MTVAL is the address)"),
    2: ("Illegal instruction", "the CPU fetched an invalid instruction (MTVAL holds it, or 0): a jump into "
                               "data, corrupted code, or an abort through an illegal instruction"),
    3: ("Breakpoint", "an EBREAK instruction or a hardware breakpoint/watchpoint (e.g. a stack guard)"),
    4: ("Load address misaligned", "an unaligned load (MTVAL is the address)"),
    5: ("Load access fault", "a read from an address where nothing can be read: MTVAL near 0 means a NULL "
                             "pointer (plus the member offset)"),
    6: ("Store address misaligned", "an unaligned store (MTVAL is the address)"),
    7: ("Store access fault", "a write to an address where nothing can be written: MTVAL near 0 means a "
                              "NULL pointer (plus the member offset)"),
    8: ("Environment call from U-mode", "an ECALL from user mode"),
    11: ("Environment call from M-mode", "an ECALL from machine mode"),
    12: ("Instruction page fault", "instruction page fault"),
    13: ("Load page fault", "load page fault"),
    15: ("Store page fault", "store page fault"),
}


def xtensa_cause(value: int) -> tuple[str, str]:
    return XTENSA_CAUSES.get(value, (f"cause {value}", "an exception cause this tool does not know"))


def riscv_cause(value: int) -> tuple[str, str]:
    if value & 0x80000000:
        return f"Interrupt {value & 0x7FFFFFFF}", "an interrupt, not an exception"
    return RISCV_CAUSES.get(value, (f"cause {value}", "an exception cause this tool does not know"))
