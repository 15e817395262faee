"""DWARF call frame information as a compact table: which rule gives the CFA and the saved registers at a PC.

Built once per ELF from `.debug_frame` (and `.eh_frame` for the ranges it does not cover) with
pyelftools' CFI decoder, then kept as flat `array` columns (cached with the rest of `ProgramInfo`), so a
lookup is two bisections and needs no pyelftools at all.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass

# kinds of register rules kept in the table (DWARF 5 section 6.4.1)
SAVED_AT = 0  # saved at CFA + N
VALUE_AT = 1  # the value is CFA + N
UNDEFINED = 2  # not recoverable (used to mark the outermost frame)
SAME = 3  # unchanged
IN_REGISTER = 4  # in register N
UNSUPPORTED = 5  # a DWARF expression: not evaluated

NO_CFA = -1  # the CFA is a DWARF expression


@dataclass(frozen=True, slots=True)
class CfiRow:
    """The unwinding rules valid at one PC."""

    cfa_reg: int  # NO_CFA when the CFA is given by an expression
    cfa_offset: int
    rules: dict[int, tuple[int, int]]  # register -> (kind, value)
    ra_reg: int  # the return address column of the frame's CIE
    start: int  # first PC the row applies to
    fde_start: int  # start of the function's FDE range


class CfiTable:
    """Rows of every FDE, sorted by address; `row_at(pc)` finds the one in force."""

    COLUMNS = ("fde_lo", "fde_hi", "fde_row", "fde_ra", "row_pc", "row_reg", "row_off", "row_sv",
               "sv_reg", "sv_kind", "sv_val")
    TYPECODES = {"fde_lo": "q", "fde_hi": "q", "row_pc": "q", "row_off": "q", "sv_val": "q"}

    def __init__(self) -> None:
        for name in self.COLUMNS:
            setattr(self, name, array(self.TYPECODES.get(name, "i")))

    def __len__(self) -> int:
        return len(self.fde_lo)

    @property
    def rows(self) -> int:
        return len(self.row_pc)

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def from_dwarf(cls, dwarf) -> CfiTable:
        """The table of a pyelftools DWARFInfo (`.debug_frame` first, `.eh_frame` for the rest)."""
        fdes: list[tuple[int, int, int, list]] = []
        covered: list[tuple[int, int]] = []
        sources = []
        if dwarf.has_CFI():
            sources.append(dwarf.CFI_entries)
        if dwarf.has_EH_CFI():
            sources.append(dwarf.EH_CFI_entries)
        for k, entries in enumerate(sources):
            mine = []
            for entry in entries():
                if type(entry).__name__ != "FDE":
                    continue
                lo = entry["initial_location"]
                hi = lo + entry["address_range"]
                if lo == 0 or hi <= lo:
                    continue  # the FDE of a function the linker dropped is relocated to 0
                if k and _overlaps(covered, lo, hi):
                    continue
                ra = entry.cie.header.get("return_address_register")
                fdes.append((lo, hi, -1 if ra is None else int(ra), entry.get_decoded().table))
                mine.append((lo, hi))
            covered.extend(mine)
            covered.sort()
        fdes.sort(key=lambda f: (f[0], f[1]))
        out = cls()
        for lo, hi, ra, rows in fdes:
            if out.fde_lo and lo < out.fde_hi[-1]:
                continue  # overlapping FDEs: keep the first
            out.fde_lo.append(lo)
            out.fde_hi.append(hi)
            out.fde_ra.append(ra)
            out.fde_row.append(len(out.row_pc))
            for row in rows:
                out._add_row(row)
        out.fde_row.append(len(out.row_pc))
        out.row_sv.append(len(out.sv_reg))
        return out

    def _add_row(self, row: dict) -> None:
        cfa = row["cfa"]
        self.row_pc.append(row["pc"])
        if cfa.expr is not None or cfa.reg is None:
            self.row_reg.append(NO_CFA)
            self.row_off.append(0)
        else:
            self.row_reg.append(cfa.reg)
            self.row_off.append(cfa.offset or 0)
        self.row_sv.append(len(self.sv_reg))
        for reg, rule in row.items():
            if reg in ("pc", "cfa"):
                continue
            kind, val = _rule(rule)
            self.sv_reg.append(int(reg))
            self.sv_kind.append(kind)
            self.sv_val.append(val)

    # -- queries ----------------------------------------------------------------------------------
    def row_at(self, pc: int) -> CfiRow | None:
        """The rules in force at `pc`, or None when no FDE covers it."""
        i = bisect_right(self.fde_lo, pc) - 1
        if i < 0 or pc >= self.fde_hi[i]:
            return None
        lo, hi = self.fde_row[i], self.fde_row[i + 1]
        if lo == hi:
            return None
        r = bisect_right(self.row_pc, pc, lo, hi) - 1
        if r < lo:
            r = lo
        rules = {}
        for s in range(self.row_sv[r], self.row_sv[r + 1]):
            rules[self.sv_reg[s]] = (self.sv_kind[s], self.sv_val[s])
        return CfiRow(self.row_reg[r], self.row_off[r], rules, self.fde_ra[i], self.row_pc[r], self.fde_lo[i])

    def function_range(self, pc: int) -> tuple[int, int] | None:
        """[start, end) of the FDE (the function) holding `pc`."""
        i = bisect_right(self.fde_lo, pc) - 1
        if i < 0 or pc >= self.fde_hi[i]:
            return None
        return self.fde_lo[i], self.fde_hi[i]

    def covers(self, pc: int) -> bool:
        i = bisect_right(self.fde_lo, pc) - 1
        return i >= 0 and pc < self.fde_hi[i]


def _overlaps(spans: list[tuple[int, int]], lo: int, hi: int) -> bool:
    i = bisect_right(spans, (lo, 1 << 64)) - 1
    if i >= 0 and spans[i][1] > lo:
        return True
    return i + 1 < len(spans) and spans[i + 1][0] < hi


def _rule(rule) -> tuple[int, int]:
    kind = rule.type
    if kind == "OFFSET":
        return SAVED_AT, int(rule.arg)
    if kind == "VAL_OFFSET":
        return VALUE_AT, int(rule.arg)
    if kind == "UNDEFINED":
        return UNDEFINED, 0
    if kind == "SAME_VALUE":
        return SAME, 0
    if kind == "REGISTER":
        return IN_REGISTER, int(rule.arg)
    return UNSUPPORTED, 0
