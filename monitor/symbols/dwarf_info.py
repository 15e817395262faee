"""A minimal, fast walker of `.debug_info` / `.debug_abbrev` (DWARF 2 to 5) on raw section bytes.

Only what an addr2line-style lookup needs is read: per compilation unit its language, `comp_dir`,
line-program offset, and every `DW_TAG_subprogram` / `DW_TAG_entry_point` / `DW_TAG_inlined_subroutine`
(name, linkage name, abstract origin / specification chain, address ranges, call site, nesting) and
every `DW_TAG_variable` with a static address (for GNU addr2line's data-symbol lookup). All other
DIEs are skipped by size. The semantics follow BFD's `dwarf2.c` (binutils 2.40), which GNU addr2line uses.
"""

from __future__ import annotations

import struct

# Tags
TAG_ENTRY_POINT = 0x03
TAG_INLINED = 0x1D
TAG_SUBPROGRAM = 0x2E
TAG_VARIABLE = 0x34
TAG_COMPILE_UNIT = 0x11
FUNC_TAGS = frozenset((TAG_ENTRY_POINT, TAG_INLINED, TAG_SUBPROGRAM))

# Attributes
AT_SIBLING = 0x01
AT_LOCATION = 0x02
AT_NAME = 0x03
AT_STMT_LIST = 0x10
AT_LOW_PC = 0x11
AT_HIGH_PC = 0x12
AT_LANGUAGE = 0x13
AT_COMP_DIR = 0x1B
AT_ABSTRACT_ORIGIN = 0x31
AT_DECL_FILE = 0x3A
AT_DECL_LINE = 0x3B
AT_EXTERNAL = 0x3F
AT_SPECIFICATION = 0x47
AT_RANGES = 0x55
AT_CALL_FILE = 0x58
AT_CALL_LINE = 0x59
AT_LINKAGE_NAME = 0x6E
AT_STR_OFFSETS_BASE = 0x72
AT_ADDR_BASE = 0x73
AT_MIPS_LINKAGE_NAME = 0x2007

# the root DIE's attributes a unit's entry uses (`DebugInfo._root_attr`)
_ROOT_ATTRS = frozenset((AT_STMT_LIST, AT_LOW_PC, AT_HIGH_PC, AT_RANGES, AT_COMP_DIR, AT_LANGUAGE,
                         AT_STR_OFFSETS_BASE, AT_ADDR_BASE))

# Forms
F_ADDR, F_BLOCK2, F_BLOCK4, F_DATA2, F_DATA4, F_DATA8, F_STRING, F_BLOCK = 1, 3, 4, 5, 6, 7, 8, 9
F_BLOCK1, F_DATA1, F_FLAG, F_SDATA, F_STRP, F_UDATA, F_REF_ADDR = 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10
F_REF1, F_REF2, F_REF4, F_REF8, F_REF_UDATA, F_INDIRECT = 0x11, 0x12, 0x13, 0x14, 0x15, 0x16
F_SEC_OFFSET, F_EXPRLOC, F_FLAG_PRESENT, F_STRX, F_ADDRX = 0x17, 0x18, 0x19, 0x1A, 0x1B
F_REF_SUP4, F_STRP_SUP, F_DATA16, F_LINE_STRP = 0x1C, 0x1D, 0x1E, 0x1F
F_REF_SIG8, F_IMPLICIT_CONST = 0x20, 0x21
F_LOCLISTX, F_RNGLISTX, F_REF_SUP8 = 0x22, 0x23, 0x24
F_STRX1, F_STRX2, F_STRX3, F_STRX4, F_ADDRX1, F_ADDRX2, F_ADDRX3, F_ADDRX4 = range(0x25, 0x2D)
F_GNU_ADDR_INDEX, F_GNU_STR_INDEX, F_GNU_REF_ALT, F_GNU_STRP_ALT = 0x1F01, 0x1F02, 0x1F20, 0x1F21

STR_FORMS = frozenset(
    (F_STRING, F_STRP, F_LINE_STRP, F_STRX, F_STRX1, F_STRX2, F_STRX3, F_STRX4, F_STRP_SUP, F_GNU_STRP_ALT,
     F_GNU_STR_INDEX)
)
CU_REF_FORMS = frozenset((F_REF1, F_REF2, F_REF4, F_REF8, F_REF_UDATA))
BLOCK_FORMS = frozenset((F_BLOCK, F_BLOCK1, F_BLOCK2, F_BLOCK4, F_EXPRLOC))

# Languages whose DW_AT_name is the linkage name (BFD's mangle_style() == 0).
NON_MANGLED_LANGS = frozenset(
    (0x1, 0x2, 0x5, 0x6, 0x7, 0x9, 0xC, 0xF, 0x12, 0x1D, 0x8001, 0x8004, 0x8006, 0x8007, 0x8765)
)

DW_OP_ADDR = 0x03

_u16 = struct.Struct("<H").unpack_from
_u32 = struct.Struct("<I").unpack_from
_u64 = struct.Struct("<Q").unpack_from
_PAIR32 = struct.Struct("<II")


class DwarfError(Exception):
    """Malformed DWARF data (the unit concerned is skipped, like BFD does)."""


def initial_length(data: bytes, pos: int) -> tuple[int, int, int]:
    """A unit's initial length (32-bit, or 0xffffffff then 64-bit): (length, next pos, offset size)."""
    length = _u32(data, pos)[0]
    if length == 0xFFFFFFFF:
        return _u64(data, pos + 4)[0], pos + 12, 8
    return length, pos + 4, 4


def uleb(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 at `pos`; return (value, next position)."""
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def sleb(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a signed LEB128 at `pos`; return (value, next position)."""
    result = 0
    shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos


def cstr(data: bytes, pos: int) -> tuple[str, int]:
    """Read a NUL-terminated string; return (text, position after the NUL)."""
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8", "surrogateescape"), end + 1


# what `scan_unit` does with a DIE, by its abbreviation (`Abbrev.kind`)
_K_FIXED, _K_PLAN, _K_SLOW, _K_FUNC, _K_VAR, _K_BLOCKS = range(6)


class Abbrev:
    """One abbreviation: tag, children flag, (attribute, form, implicit_const) list; skip data."""

    __slots__ = (
        "attrs", "fixed_size", "func_plan", "has_children", "kind", "loc_plan", "plan", "root_plan",
        "sibling_at", "sibling_size", "tag", "walk",
    )

    def __init__(
        self, tag: int, has_children: bool, attrs: tuple[tuple[int, int, int], ...],
        fixed_size: int | None = None, plan: tuple[int, ...] | None = None, sibling_at: int = -1,
        sibling_size: int = 0,
    ) -> None:
        self.tag = tag
        self.has_children = has_children
        self.attrs = attrs
        self.fixed_size = fixed_size  # byte size of the attribute data if every form has a fixed size
        self.plan = plan  # how to skip the attribute data (`skip_plan`); None: form by form
        # offset of a fixed-size DW_AT_sibling (CU-relative reference) in the data, or -1
        self.sibling_at = sibling_at
        self.sibling_size = sibling_size
        self.func_plan: tuple[tuple[int, int, int], ...] | None = None  # `_func_plan`, made on first use
        self.kind = _K_SLOW  # what `scan_unit` does with such a DIE (set by `_prepare`)
        # a variable's: (skip plan of the attributes before its DW_AT_location block, the block's form)
        self.loc_plan: tuple[tuple[int, ...], int] | None = None
        self.walk: tuple | None = None  # what `has_function_ranges` does with such a DIE (`_walk_step`)
        self.root_plan: tuple | None = None  # how `_read_root` reads a unit's root DIE (`_root_plan`)


# steps of a skip plan besides "n fixed bytes"
_S_STRING, _S_LEB, _S_BLOCK, _S_BLOCK1, _S_BLOCK2, _S_BLOCK4 = -1, -2, -3, -4, -5, -6


def parse_abbrevs(data: bytes, offset: int, memo: dict[bytes, Abbrev] | None = None) -> dict[int, Abbrev]:
    """The abbreviation table at `offset` in `.debug_abbrev`.

    With `memo` (entry bytes -> Abbrev), an entry whose bytes were seen before (in another unit's table:
    most entries repeat from unit to unit) is the same Abbrev object, not parsed again."""
    table: dict[int, Abbrev] = {}
    pos = offset
    n = len(data)
    while pos < n:
        code = data[pos]
        pos += 1
        if code >= 0x80:
            code, pos = uleb(data, pos - 1)
        if code == 0:
            break
        start = pos
        # the entry's end: tag, children flag, (name, form) pairs up to (0, 0); one-byte values usual
        while data[pos] & 0x80:
            pos += 1
        pos += 2
        while True:
            name = data[pos]
            form = data[pos + 1]
            if name < 0x80 and form < 0x80:
                pos += 2
            else:
                name, pos = uleb(data, pos)
                form, pos = uleb(data, pos)
            if form == F_IMPLICIT_CONST:
                _, pos = sleb(data, pos)
            elif name == 0 and form == 0:
                break
        if memo is None:
            table[code] = _parse_entry(data, start)
            continue
        key = data[start:pos]
        ab = memo.get(key)
        if ab is None:
            ab = memo[key] = _parse_entry(data, start)
        table[code] = ab
    return table


def _parse_entry(data: bytes, pos: int) -> Abbrev:
    """The abbreviation entry whose tag starts at `pos`."""
    tag, pos = uleb(data, pos)
    has_children = data[pos] != 0
    pos += 1
    attrs = []
    while True:
        name, pos = uleb(data, pos)
        form, pos = uleb(data, pos)
        if name == 0 and form == 0:
            break
        const = 0
        if form == F_IMPLICIT_CONST:
            const, pos = sleb(data, pos)
        attrs.append((name, form, const))
    return Abbrev(tag, has_children, tuple(attrs))


def _entry_span(data: bytes, offset: int, wanted: int) -> tuple[int, int] | None:
    """(start, end) of the bytes of entry `wanted` of the abbreviation table at `offset`, from its tag up
    to its closing (0, 0) (the bytes `parse_abbrevs` keys its memo on); None when the table lacks it."""
    pos = offset
    n = len(data)
    while pos < n:
        code = data[pos]
        pos += 1
        if code >= 0x80:
            code, pos = uleb(data, pos - 1)
        if code == 0:
            return None
        start = pos
        while data[pos] & 0x80:
            pos += 1
        pos += 2
        while True:
            name = data[pos]
            form = data[pos + 1]
            if name < 0x80 and form < 0x80:
                pos += 2
            else:
                name, pos = uleb(data, pos)
                form, pos = uleb(data, pos)
            if form == F_IMPLICIT_CONST:
                _, pos = sleb(data, pos)
            elif name == 0 and form == 0:
                break
        if code == wanted:
            return start, pos
    return None


_LEB_FORMS = frozenset((F_UDATA, F_SDATA, F_REF_UDATA, F_STRX, F_ADDRX, F_LOCLISTX, F_RNGLISTX,
                        F_GNU_ADDR_INDEX, F_GNU_STR_INDEX))
_VAR_STEPS = {F_STRING: _S_STRING, F_EXPRLOC: _S_BLOCK, F_BLOCK: _S_BLOCK, F_BLOCK1: _S_BLOCK1,
              F_BLOCK2: _S_BLOCK2, F_BLOCK4: _S_BLOCK4, **dict.fromkeys(_LEB_FORMS, _S_LEB)}


def _prepare(ab: Abbrev, fixed: dict[int, int]) -> None:
    """Precompute how to skip an abbreviation's attribute data: its fixed size when every form has
    one, else a plan of fixed runs and variable-size steps; and where a fixed DW_AT_sibling lies."""
    plan: list[int] = []
    run = 0
    at = 0  # offset while every attribute so far is fixed-size
    fixed_prefix = True
    loc_plan = None
    for name, form, _c in ab.attrs:
        if name == AT_LOCATION and plan is not None and loc_plan is None:
            loc_plan = (tuple([*plan, run] if run else plan), form)
        size = fixed.get(form)
        if name == AT_SIBLING and fixed_prefix and size is not None and form in CU_REF_FORMS:
            ab.sibling_at = at
            ab.sibling_size = size
        if size is not None:
            run += size
            at += size
            continue
        fixed_prefix = False
        step = _VAR_STEPS.get(form)
        if step is None:  # DW_FORM_indirect and unknown forms: skip form by form
            plan = None
            break
        if run:
            plan.append(run)
            run = 0
        plan.append(step)
    if plan is not None and run:
        plan.append(run)
    ab.plan = tuple(plan) if plan is not None else None
    ab.fixed_size = at if fixed_prefix else None
    if ab.tag in FUNC_TAGS:
        ab.kind = _K_FUNC
    elif ab.tag == TAG_VARIABLE and any(n == AT_LOCATION and f in BLOCK_FORMS for n, f, _c in ab.attrs):
        ab.kind = _K_VAR  # only a DW_OP_addr location block gives a variable an address
        locations = sum(n == AT_LOCATION for n, _f, _c in ab.attrs)
        if ab.plan is not None and locations == 1 and loc_plan is not None and loc_plan[1] in BLOCK_FORMS:
            ab.loc_plan = loc_plan
    else:
        ab.kind = _K_FIXED if ab.fixed_size is not None else _K_PLAN if ab.plan is not None else _K_SLOW
        if ab.kind == _K_PLAN and all(step == _S_BLOCK for step in ab.plan):
            ab.kind = _K_BLOCKS  # exprloc blocks only (call-site parameters: location and value)


# fixed-size forms whose value `read_value` gives as an unsigned little-endian integer
_INT_FORMS = frozenset((
    F_DATA1, F_REF1, F_FLAG, F_DATA2, F_REF2, F_DATA4, F_REF4, F_REF_SUP4, F_DATA8, F_REF8, F_REF_SIG8,
    F_REF_SUP8, F_ADDR, F_SEC_OFFSET, F_GNU_REF_ALT, F_GNU_STRP_ALT, F_STRP_SUP, F_REF_ADDR,
))

# steps of a function DIE's attribute plan (`_func_plan`)
_P_SKIP, _P_SKIP_FORM, _P_NAME, _P_LINKAGE, _P_REF = range(5)
_P_LOW, _P_HIGH, _P_RANGES, _P_CALL_FILE, _P_CALL_LINE = range(5, 10)
_FUNC_ATTR_STEPS = {
    AT_NAME: _P_NAME, AT_LINKAGE_NAME: _P_LINKAGE, AT_MIPS_LINKAGE_NAME: _P_LINKAGE,
    AT_ABSTRACT_ORIGIN: _P_REF, AT_SPECIFICATION: _P_REF, AT_LOW_PC: _P_LOW, AT_HIGH_PC: _P_HIGH,
    AT_RANGES: _P_RANGES, AT_CALL_FILE: _P_CALL_FILE, AT_CALL_LINE: _P_CALL_LINE,
}


def _func_plan(attrs: tuple[tuple[int, int, int], ...], fixed: dict[int, int],
               steps: dict[int, int] = _FUNC_ATTR_STEPS, names_in_place: bool = True) -> tuple:
    """How `scan_unit` reads a function DIE of this abbreviation: (step, form or byte count, const, size)
    per attribute it keeps (those `steps` names), runs of fixed-size attributes it does not keep merged
    into one skip. `size` is the byte size of a fixed-size integer form (read in place), -2 for
    DW_FORM_implicit_const, -1 for the others (`read_value`); with `names_in_place`, a name in .debug_str
    is marked to be read in place."""
    plan: list[tuple[int, int, int, int]] = []
    run = 0
    for name, form, const in attrs:
        step = steps.get(name)
        if step is None:
            size = fixed.get(form)
            if size is not None:
                run += size
                continue
            step = _P_SKIP_FORM
        if run:
            plan.append((_P_SKIP, run, 0, 0))
            run = 0
        size = -2 if form == F_IMPLICIT_CONST else fixed[form] if form in _INT_FORMS else -1
        if names_in_place and form == F_STRP and step <= _P_LINKAGE:
            size = -10 - fixed[F_STRP]  # a name in .debug_str, read in place
        plan.append((step, form, const, size))
    if run:
        plan.append((_P_SKIP, run, 0, 0))
    return tuple(plan)


# steps of a root DIE's plan (`_root_plan`)
_R_SKIP, _R_SKIP_FORM, _R_LATER, _R_READ = range(4)
_INDEXED_FORMS = frozenset((F_STRX, F_STRX1, F_STRX2, F_STRX3, F_STRX4, F_ADDRX, F_ADDRX1, F_ADDRX2, F_ADDRX3,
                            F_ADDRX4))


def _root_plan(attrs: tuple[tuple[int, int, int], ...], fixed: dict[int, int]) -> tuple:
    """How `_read_root` reads a root DIE: (step, name or byte count, form, const) per attribute it uses
    (_R_READ; _R_LATER for values indexed through str_offsets_base / addr_base, read after them), runs
    of fixed-size attributes it does not use merged into one skip (_R_SKIP), others skipped by form."""
    plan: list[tuple[int, int, int, int]] = []
    run = 0
    for name, form, const in attrs:
        if name not in _ROOT_ATTRS:  # DW_AT_producer, DW_AT_name...: not read
            size = fixed.get(form)
            if size is not None:
                run += size
                continue
            step = _R_SKIP_FORM
        else:
            step = _R_LATER if form in _INDEXED_FORMS else _R_READ
        if run:
            plan.append((_R_SKIP, run, 0, 0))
            run = 0
        plan.append((step, name, form, const))
    if run:
        plan.append((_R_SKIP, run, 0, 0))
    return tuple(plan)


def skip_plan(d: bytes, pos: int, plan: tuple[int, ...]) -> int:
    """Skip attribute data by a plan from `_prepare`; returns the position after it."""
    for step in plan:
        if step >= 0:
            pos += step
        elif step == _S_BLOCK:  # exprloc: the usual variable-size attribute (locations, call values)
            n = d[pos]
            if n < 0x80:
                pos += 1 + n
            else:
                n, pos = uleb(d, pos)
                pos += n
        elif step == _S_STRING:
            pos = d.index(b"\0", pos) + 1
        elif step == _S_LEB:
            while d[pos] & 0x80:
                pos += 1
            pos += 1
        elif step == _S_BLOCK1:
            pos += 1 + d[pos]
        elif step == _S_BLOCK2:
            pos += 2 + _u16(d, pos)[0]
        else:
            pos += 4 + _u32(d, pos)[0]
    return pos


# steps of the walk of `has_function_ranges` (`Abbrev.walk`)
_W_LEAF, _W_LEAF_PLAN, _W_JUMP, _W_FUNC, _W_DESCEND, _W_OTHER = range(6)
_RANGE_ATTR_STEPS = {AT_LOW_PC: _P_LOW, AT_HIGH_PC: _P_HIGH, AT_RANGES: _P_RANGES}


def _walk_step(ab: Abbrev, fixed: dict[int, int]) -> tuple:
    """How `has_function_ranges` steps over a DIE of this abbreviation, decided once:
    (_W_LEAF, size) a leaf of fixed size; (_W_LEAF_PLAN, plan) a leaf skipped by its plan;
    (_W_JUMP, size, sibling offset, sibling size) a fixed-size DIE with children and a fixed DW_AT_sibling
    (its children are jumped over); (_W_DESCEND, size) a fixed-size DIE whose children must be walked;
    (_W_FUNC, plan) a function DIE with pc attributes: its plan keeps only those (the rest merged into skips);
    (_W_OTHER,) anything else (read attribute by attribute)."""
    if ab.tag in FUNC_TAGS:
        plan = _func_plan(ab.attrs, fixed, _RANGE_ATTR_STEPS, names_in_place=False)
        if any(step >= _P_LOW for step, _f, _c, _s in plan):
            return (_W_FUNC, plan)
        # no pc attribute: stepped over like any DIE, but its children are walked (nested functions)
        if ab.fixed_size is not None:
            return (_W_DESCEND, ab.fixed_size) if ab.has_children else (_W_LEAF, ab.fixed_size)
        return (_W_OTHER,)
    if not ab.has_children:
        if ab.fixed_size is not None:
            return (_W_LEAF, ab.fixed_size)
        if ab.plan is not None:
            return (_W_LEAF_PLAN, ab.plan)
        return (_W_OTHER,)
    if ab.fixed_size is not None:
        if ab.sibling_at >= 0:
            return (_W_JUMP, ab.fixed_size, ab.sibling_at, ab.sibling_size)
        return (_W_DESCEND, ab.fixed_size)
    return (_W_OTHER,)


def _addr_location(d: bytes, pos: int, loc_plan: tuple[tuple[int, ...], int]) -> bool:
    """Whether the DW_AT_location block of the variable DIE whose attribute data starts at `pos` begins
    with DW_OP_addr (what `scan_unit` reads such a variable for; any other is a local, never kept)."""
    prefix, form = loc_plan
    if prefix:
        pos = skip_plan(d, pos, prefix)
    if form == F_BLOCK1:
        n = d[pos]
        pos += 1
    elif form in (F_EXPRLOC, F_BLOCK):
        n, pos = uleb(d, pos)
    elif form == F_BLOCK2:
        n = _u16(d, pos)[0]
        pos += 2
    else:
        n = _u32(d, pos)[0]
        pos += 4
    return n > 0 and pos < len(d) and d[pos] == DW_OP_ADDR


_FIXED_SIZES: dict[tuple[int, int, int], dict[int, int]] = {}


def _fixed_sizes(addr_size: int, offset_size: int, version: int) -> dict[int, int]:
    """Byte sizes of the fixed-size forms for units of this address size, offset size and version
    (one shared dict per combination: callers only read it)."""
    key = (addr_size, offset_size, version)
    sizes = _FIXED_SIZES.get(key)
    if sizes is None:
        sizes = _FIXED_SIZES[key] = _make_fixed_sizes(addr_size, offset_size, version)
    return sizes


def _make_fixed_sizes(addr_size: int, offset_size: int, version: int) -> dict[int, int]:
    return {
        F_ADDR: addr_size, F_DATA1: 1, F_DATA2: 2, F_DATA4: 4, F_DATA8: 8, F_DATA16: 16,
        F_FLAG: 1, F_FLAG_PRESENT: 0, F_IMPLICIT_CONST: 0, F_REF1: 1, F_REF2: 2, F_REF4: 4, F_REF8: 8,
        F_REF_SIG8: 8, F_REF_SUP4: 4, F_REF_SUP8: 8, F_STRP: offset_size, F_LINE_STRP: offset_size,
        F_STRP_SUP: offset_size, F_SEC_OFFSET: offset_size, F_GNU_REF_ALT: offset_size,
        F_GNU_STRP_ALT: offset_size, F_REF_ADDR: addr_size if version <= 2 else offset_size,
        F_STRX1: 1, F_STRX2: 2, F_STRX3: 3, F_STRX4: 4, F_ADDRX1: 1, F_ADDRX2: 2, F_ADDRX3: 3, F_ADDRX4: 4,
    }


class FuncDie:
    """One subprogram / entry point / inlined subroutine DIE (BFD's `struct funcinfo`)."""

    __slots__ = (
        "call_file", "call_line", "caller", "is_linkage", "name", "name_ops", "offset", "ranges", "tag",
    )

    def __init__(
        self, offset: int, tag: int, caller: int, name_ops: list, ranges: list,
        call_file: int | None = None, call_line: int = 0, name: str | None = None,
        is_linkage: bool = False,
    ) -> None:
        self.offset = offset  # absolute .debug_info offset (DIE order)
        self.tag = tag
        self.caller = caller  # index of the enclosing FuncDie in the unit, -1 if none (inlined only)
        # [(kind, value)]: "n" DW_AT_name, "l" linkage name, "r" reference (abs offset)
        self.name_ops = name_ops
        self.ranges = ranges  # [[low, high], ...] after BFD's arange_add merging; ranges[0] is `arange.low`
        self.call_file = call_file  # None: no DW_AT_call_file (BFD prints ??)
        self.call_line = call_line
        self.name = name
        self.is_linkage = is_linkage


class VarDie:
    """A DW_TAG_variable with a static address (BFD's `struct varinfo`, stack == false)."""

    __slots__ = ("addr", "decl_file", "decl_line", "external", "has_addr", "name", "name_ops")

    def __init__(
        self, addr: int, name_ops: list, decl_file: int | None, decl_line: int, external: bool,
        has_addr: bool, name: str | None = None,
    ) -> None:
        self.addr = addr
        self.name_ops = name_ops
        self.decl_file = decl_file
        self.decl_line = decl_line
        self.external = external
        self.has_addr = has_addr
        self.name = name


class UnitInfo:
    """One compilation unit."""

    __slots__ = (
        "abbrev_off", "abbrevs", "addr_base", "addr_size", "comp_dir", "end", "error", "first_die",
        "funcs", "gate", "lang", "low_pc", "offset", "offset_size", "stmt_list", "str_offsets_base",
        "variables", "version",
    )

    def __init__(
        self, offset: int, end: int, version: int, addr_size: int, offset_size: int, abbrev_off: int,
        abbrevs: dict[int, Abbrev] | None = None, lang: int = 0, comp_dir: str | None = None,
        stmt_list: int | None = None, low_pc: int = 0, str_offsets_base: int = 0, addr_base: int = 0,
        first_die: int = 0, error: bool = False,
    ) -> None:
        self.offset = offset  # offset of the unit header in .debug_info
        self.end = end
        self.version = version
        self.addr_size = addr_size
        self.offset_size = offset_size
        self.abbrev_off = abbrev_off
        self.abbrevs = abbrevs  # parsed on first use (`DebugInfo.load_abbrevs`)
        self.lang = lang
        self.comp_dir = comp_dir
        self.stmt_list = stmt_list
        self.low_pc = low_pc  # base address for range lists
        self.str_offsets_base = str_offsets_base
        self.addr_base = addr_base
        self.first_die = first_die
        self.gate: list = []  # the root DIE's pc ranges (BFD's unit->arange); [] if none
        self.error = error
        self.funcs: list[FuncDie] = []
        self.variables: list[VarDie] = []


def add_range(ranges: list, low: int, high: int) -> None:
    """BFD's arange_add: ignore empty ranges, extend a touching range, else insert after the first."""
    if low == high:
        return
    if not ranges:
        ranges.append([low, high])
        return
    for r in ranges:
        if low == r[1]:
            r[1] = high
            return
        if high == r[0]:
            r[0] = low
            return
    ranges.insert(1, [low, high])


class _Ends:
    """`add_range` on one long list, with the ranges' ends counted so that a range touching none of
    them (the usual case) is inserted at once instead of after a scan of the list (same result)."""

    __slots__ = ("highs", "lows", "out")

    def __init__(self, out: list) -> None:
        self.out = out
        self.lows: dict[int, int] = {}
        self.highs: dict[int, int] = {}
        for low, high in out:
            self.lows[low] = self.lows.get(low, 0) + 1
            self.highs[high] = self.highs.get(high, 0) + 1

    def add(self, low: int, high: int) -> None:
        if low == high:
            return
        lows = self.lows
        highs = self.highs
        out = self.out
        if out and (low in highs or high in lows):
            for r in out:
                if low == r[1]:
                    old = r[1]
                    r[1] = high
                elif high == r[0]:
                    old = r[0]
                    r[0] = low
                    lows[old] -= 1
                    if not lows[old]:
                        del lows[old]
                    lows[low] = lows.get(low, 0) + 1
                    return
                else:
                    continue
                highs[old] -= 1
                if not highs[old]:
                    del highs[old]
                highs[high] = highs.get(high, 0) + 1
                return
        if out:
            out.insert(1, [low, high])
        else:
            out.append([low, high])
        lows[low] = lows.get(low, 0) + 1
        highs[high] = highs.get(high, 0) + 1


class DebugInfo:
    """Raw DWARF sections plus the per-unit walk."""

    def __init__(self, sections: dict[str, bytes]):
        self.info = sections.get(".debug_info", b"")
        self.abbrev = sections.get(".debug_abbrev", b"")
        self.str = sections.get(".debug_str", b"")
        self.line_str = sections.get(".debug_line_str", b"")
        self.ranges = sections.get(".debug_ranges", b"")
        self.rnglists = sections.get(".debug_rnglists", b"")
        self.str_offsets = sections.get(".debug_str_offsets", b"")
        self.addr = sections.get(".debug_addr", b"")
        self._abbrev_cache: dict[int, dict[int, Abbrev]] = {}
        self._abbrev_memo: dict[tuple[int, int, int], dict[bytes, Abbrev]] = {}  # by (addr, offset size, v)
        self.units: list[UnitInfo] = []
        self._unit_starts: list[int] = []
        self._ref_cache: dict[int, tuple[list, int]] = {}

    # -- strings and attribute values -------------------------------------------------------------
    def _strp(self, sec: bytes, off: int) -> str | None:
        if off >= len(sec):
            return None
        return cstr(sec, off)[0]

    def _strx(self, unit: UnitInfo, index: int) -> str | None:
        pos = unit.str_offsets_base + index * unit.offset_size
        if pos + unit.offset_size > len(self.str_offsets):
            return None
        off = _u32(self.str_offsets, pos)[0] if unit.offset_size == 4 else _u64(self.str_offsets, pos)[0]
        return self._strp(self.str, off)

    def read_value(self, unit: UnitInfo, form: int, const: int, pos: int):
        """Read one attribute value; return (value, next position). Strings are decoded, blocks are bytes."""
        d = self.info
        if form == F_STRP:
            off = _u32(d, pos)[0] if unit.offset_size == 4 else _u64(d, pos)[0]
            return self._strp(self.str, off), pos + unit.offset_size
        if form == F_LINE_STRP:
            off = _u32(d, pos)[0] if unit.offset_size == 4 else _u64(d, pos)[0]
            return self._strp(self.line_str, off), pos + unit.offset_size
        if form == F_STRING:
            return cstr(d, pos)
        if form in (F_DATA1, F_REF1, F_FLAG):
            return d[pos], pos + 1
        if form in (F_DATA2, F_REF2):
            return _u16(d, pos)[0], pos + 2
        if form in (F_DATA4, F_REF4, F_REF_SUP4):
            return _u32(d, pos)[0], pos + 4
        if form in (F_DATA8, F_REF8, F_REF_SIG8, F_REF_SUP8):
            return _u64(d, pos)[0], pos + 8
        if form == F_ADDR:
            if unit.addr_size == 4:
                return _u32(d, pos)[0], pos + 4
            if unit.addr_size == 8:
                return _u64(d, pos)[0], pos + 8
            return _u16(d, pos)[0], pos + 2
        if form in (F_UDATA, F_REF_UDATA, F_LOCLISTX, F_RNGLISTX, F_GNU_ADDR_INDEX):
            return uleb(d, pos)
        if form == F_SDATA:
            return sleb(d, pos)
        if form in (F_SEC_OFFSET, F_GNU_REF_ALT, F_GNU_STRP_ALT, F_STRP_SUP) or (
            form == F_REF_ADDR and unit.version >= 3
        ):
            if unit.offset_size == 4:
                return _u32(d, pos)[0], pos + 4
            return _u64(d, pos)[0], pos + 8
        if form == F_REF_ADDR:
            return self.read_value(unit, F_ADDR, 0, pos)
        if form == F_FLAG_PRESENT:
            return 1, pos
        if form == F_IMPLICIT_CONST:
            return const, pos
        if form in (F_EXPRLOC, F_BLOCK):
            n, pos = uleb(d, pos)
            return d[pos:pos + n], pos + n
        if form == F_BLOCK1:
            n = d[pos]
            return d[pos + 1:pos + 1 + n], pos + 1 + n
        if form == F_BLOCK2:
            n = _u16(d, pos)[0]
            return d[pos + 2:pos + 2 + n], pos + 2 + n
        if form == F_BLOCK4:
            n = _u32(d, pos)[0]
            return d[pos + 4:pos + 4 + n], pos + 4 + n
        if form == F_DATA16:
            return d[pos:pos + 16], pos + 16
        if form in (F_STRX, F_GNU_STR_INDEX):
            idx, pos = uleb(d, pos)
            return self._strx(unit, idx), pos
        if F_STRX1 <= form <= F_STRX4:
            size = form - F_STRX1 + 1
            idx = int.from_bytes(d[pos:pos + size], "little")
            return self._strx(unit, idx), pos + size
        if form == F_ADDRX:
            idx, pos = uleb(d, pos)
            return self._addrx(unit, idx), pos
        if F_ADDRX1 <= form <= F_ADDRX4:
            size = form - F_ADDRX1 + 1
            return self._addrx(unit, int.from_bytes(d[pos:pos + size], "little")), pos + size
        if form == F_INDIRECT:
            real, pos = uleb(d, pos)
            return self.read_value(unit, real, const, pos)
        raise DwarfError(f"unknown DW_FORM 0x{form:x}")

    def _addrx(self, unit: UnitInfo, index: int) -> int:
        pos = unit.addr_base + index * unit.addr_size
        if pos + unit.addr_size > len(self.addr):
            return 0
        return int.from_bytes(self.addr[pos:pos + unit.addr_size], "little")

    def _skip(self, unit: UnitInfo, form: int, pos: int, fixed: dict[int, int]) -> int:
        size = fixed.get(form)
        if size is not None:
            return pos + size
        d = self.info
        if form == F_STRING:
            return d.index(b"\0", pos) + 1
        if form in (F_UDATA, F_SDATA, F_REF_UDATA, F_STRX, F_ADDRX, F_LOCLISTX, F_RNGLISTX,
                    F_GNU_ADDR_INDEX, F_GNU_STR_INDEX):
            while d[pos] & 0x80:
                pos += 1
            return pos + 1
        if form in (F_EXPRLOC, F_BLOCK):
            n, pos = uleb(d, pos)
            return pos + n
        if form == F_BLOCK1:
            return pos + 1 + d[pos]
        if form == F_BLOCK2:
            return pos + 2 + _u16(d, pos)[0]
        if form == F_BLOCK4:
            return pos + 4 + _u32(d, pos)[0]
        if form == F_INDIRECT:
            real, pos = uleb(d, pos)
            return self._skip(unit, real, pos, fixed)
        raise DwarfError(f"unknown DW_FORM 0x{form:x}")

    # -- units --------------------------------------------------------------------------------------
    def load_abbrevs(self, unit: UnitInfo) -> dict[int, Abbrev]:
        """The unit's abbreviation table (parsed once, shared by units that share it; entries seen in
        another table of units with the same address size, offset size and version are reused)."""
        if unit.abbrevs is None:
            table = self._abbrev_cache.get(unit.abbrev_off)
            if table is None:
                key = (unit.addr_size, unit.offset_size, unit.version)
                memo = self._abbrev_memo.setdefault(key, {})
                known = len(memo)
                table = parse_abbrevs(self.abbrev, unit.abbrev_off, memo)
                if len(memo) > known:
                    fixed = _fixed_sizes(*key)
                    for ab in table.values():
                        if ab.plan is None and ab.fixed_size is None:
                            _prepare(ab, fixed)
                self._abbrev_cache[unit.abbrev_off] = table
            unit.abbrevs = table
        return unit.abbrevs

    def read_units(self) -> list[UnitInfo]:
        """Parse every unit header and its root DIE (like BFD's parse_comp_unit); the abbreviation
        tables are left for `load_abbrevs`, so this costs little even for hundreds of units."""
        d = self.info
        pos = 0
        n = len(d)
        while pos + 4 <= n:
            start = pos
            length, pos, offset_size = initial_length(d, pos)
            if length == 0 or length > n - pos:
                break  # BFD: don't trust anything after a corrupted length
            end = pos + length
            version = _u16(d, pos)[0]
            pos += 2
            if version < 2 or version > 5:
                break
            if version >= 5:
                unit_type = d[pos]
                addr_size = d[pos + 1]
                pos += 2
                abbrev_off = _u32(d, pos)[0] if offset_size == 4 else _u64(d, pos)[0]
                pos += offset_size
                if unit_type == 2:  # DW_UT_type
                    pos += 8 + offset_size
                elif unit_type in (4, 5):  # skeleton / split_compile
                    pos += 8
            else:
                abbrev_off = _u32(d, pos)[0] if offset_size == 4 else _u64(d, pos)[0]
                pos += offset_size
                addr_size = d[pos]
                pos += 1
            if addr_size not in (2, 4, 8):
                break
            fixed = _fixed_sizes(addr_size, offset_size, version)
            unit = UnitInfo(start, end, version, addr_size, offset_size, abbrev_off)
            try:
                self._read_root(unit, pos, fixed)
            except (DwarfError, IndexError, KeyError, struct.error, ValueError):
                break
            self.units.append(unit)
            self._unit_starts.append(start)
            pos = end
        return self.units

    def _root_abbrev(self, unit: UnitInfo, code: int, fixed: dict[int, int]) -> Abbrev | None:
        """The entry `code` of the unit's abbreviation table (the table itself is parsed later, when the
        unit is): the same Abbrev as for other units whose entry has the same bytes (its root plan made
        once), found in the memo `load_abbrevs` uses."""
        span = _entry_span(self.abbrev, unit.abbrev_off, code)
        if span is None:
            return None
        memo = self._abbrev_memo.setdefault((unit.addr_size, unit.offset_size, unit.version), {})
        key = self.abbrev[span[0]:span[1]]
        ab = memo.get(key)
        if ab is None:
            ab = memo[key] = _parse_entry(self.abbrev, span[0])
            _prepare(ab, fixed)
        return ab

    def _read_root(self, unit: UnitInfo, pos: int, fixed: dict[int, int]) -> None:
        code, pos = uleb(self.info, pos)
        if code == 0:
            raise DwarfError("empty unit")
        if unit.abbrev_off in self._abbrev_cache:
            ab = self._abbrev_cache[unit.abbrev_off].get(code)
        else:
            ab = self._root_abbrev(unit, code, fixed)
        if ab is None:
            raise DwarfError("unknown abbreviation code")
        plan = ab.root_plan
        if plan is None:
            plan = ab.root_plan = _root_plan(ab.attrs, fixed)
        deferred = []
        gate: list = [0, 0, False, None]  # low_pc, high_pc, high_pc relative, ranges offset
        for step, name, form, const in plan:
            if step == _R_SKIP:
                pos += name
            elif step == _R_SKIP_FORM:
                pos = self._skip(unit, form, pos, fixed)
            elif step == _R_LATER:
                deferred.append((name, form, const, pos))
                pos = self._skip(unit, form, pos, fixed)
            else:
                value, pos = self.read_value(unit, form, const, pos)
                self._root_attr(unit, ab.tag, name, form, value, gate)
        for name, form, const, at in deferred:  # need str_offsets_base / addr_base first
            value, _ = self.read_value(unit, form, const, at)
            self._root_attr(unit, ab.tag, name, form, value, gate)
        unit.first_die = pos
        # BFD parse_comp_unit: the unit's own address ranges (DW_AT_ranges, then low_pc..high_pc)
        low, high, high_rel, ranges = gate
        if ranges is not None:
            self.read_rangelist(unit, ranges, unit.gate)
        if high:
            add_range(unit.gate, low, high + low if high_rel else high)

    @staticmethod
    def _root_attr(unit: UnitInfo, tag: int, name: int, form: int, value, gate: list) -> None:
        if name == AT_STMT_LIST and isinstance(value, int) and form not in STR_FORMS:
            unit.stmt_list = value
        elif name == AT_LOW_PC and isinstance(value, int):
            gate[0] = value
            if tag == TAG_COMPILE_UNIT:
                unit.low_pc = value
        elif name == AT_HIGH_PC and isinstance(value, int):
            gate[1] = value
            gate[2] = form != F_ADDR
        elif name == AT_RANGES and isinstance(value, int) and form not in BLOCK_FORMS:
            gate[3] = value
        elif name == AT_COMP_DIR:
            if isinstance(value, str):
                cp = value.find(":")
                if cp > 0 and value[cp - 1] == "." and value[cp + 1:cp + 2] == "/":
                    value = value[cp + 1:]
                unit.comp_dir = value
        elif name == AT_LANGUAGE and isinstance(value, int):
            unit.lang = value
        elif name == AT_STR_OFFSETS_BASE:
            unit.str_offsets_base = value
        elif name == AT_ADDR_BASE:
            unit.addr_base = value

    # -- range lists --------------------------------------------------------------------------------
    def read_rangelist(self, unit: UnitInfo, offset: int, out: list) -> None:
        """Append the ranges at `offset` to `out` with arange_add semantics (BFD read_rangelist)."""
        ends: _Ends | None = None  # made when the list grows long (a unit's own ranges)
        if unit.version <= 4:
            d = self.ranges
            base = unit.low_pc
            size = unit.addr_size
            pos = offset
            if offset > len(d):
                raise DwarfError("bad range list offset")
            if size == 4:  # 32-bit targets: the pairs unpacked in C, up to the (0, 0) end
                tail = len(d) - (len(d) - pos) % 8
                for low, high in _PAIR32.iter_unpack(memoryview(d)[pos:tail]):
                    if low == 0 and high == 0:
                        return
                    if ends is None and len(out) < 8:
                        add_range(out, base + low, base + high)
                    else:
                        if ends is None:
                            ends = _Ends(out)
                        ends.add(base + low, base + high)
                raise DwarfError("truncated range list")
            while True:
                if pos + 2 * size > len(d):
                    raise DwarfError("truncated range list")
                low = int.from_bytes(d[pos:pos + size], "little")
                high = int.from_bytes(d[pos + size:pos + 2 * size], "little")
                pos += 2 * size
                if low == 0 and high == 0:
                    return
                # On a 64-bit host BFD compares with -1UL, so 32-bit base selection entries are not
                # recognised; we do the same to give the same answers.
                if size == 8 and low == 0xFFFFFFFFFFFFFFFF and high != low:
                    base = high
                    continue
                if ends is None and len(out) < 8:
                    add_range(out, base + low, base + high)
                else:
                    if ends is None:
                        ends = _Ends(out)
                    ends.add(base + low, base + high)
        d = self.rnglists
        base = unit.low_pc
        size = unit.addr_size
        pos = offset
        n = len(d)
        while True:
            if pos >= n:
                raise DwarfError("truncated rnglist")
            kind = d[pos]
            pos += 1
            if kind == 0:
                return
            if kind == 5:  # base_address
                base = int.from_bytes(d[pos:pos + size], "little")
                pos += size
                continue
            if kind == 7:  # start_length
                low = int.from_bytes(d[pos:pos + size], "little")
                length, pos = uleb(d, pos + size)
                high = low + length
            elif kind == 4:  # offset_pair (two ULEB128, read here: the usual entry)
                a = d[pos]
                pos += 1
                if a >= 0x80:
                    a, pos = uleb(d, pos - 1)
                b = d[pos]
                pos += 1
                if b >= 0x80:
                    b, pos = uleb(d, pos - 1)
                low, high = base + a, base + b
            elif kind == 6:  # start_end
                low = int.from_bytes(d[pos:pos + size], "little")
                high = int.from_bytes(d[pos + size:pos + 2 * size], "little")
                pos += 2 * size
            else:
                raise DwarfError("unsupported rnglist entry")
            if ends is None and len(out) < 8:
                add_range(out, low, high)
            else:
                if ends is None:
                    ends = _Ends(out)
                ends.add(low, high)

    # -- DIE walk -----------------------------------------------------------------------------------
    def scan_unit(self, unit: UnitInfo) -> None:
        """Collect functions and static variables of `unit` (BFD scan_unit_for_symbols)."""
        d = self.info
        abbrevs = self.load_abbrevs(unit)
        fixed = _fixed_sizes(unit.addr_size, unit.offset_size, unit.version)
        skip = self._skip
        read_value = self.read_value
        funcs = unit.funcs
        variables = unit.variables
        pos = unit.first_die
        end = unit.end
        strs = self.str
        n_strs = len(strs)
        # enclosing[-1] = innermost function DIE enclosing the current nesting level (-1 if none)
        enclosing = [-1]
        while pos < end:
            # inline uleb for the abbreviation code
            code = d[pos]
            pos += 1
            if code >= 0x80:
                code &= 0x7F
                shift = 7
                while True:
                    b = d[pos]
                    pos += 1
                    code |= (b & 0x7F) << shift
                    if b < 0x80:
                        break
                    shift += 7
            if code == 0:
                enclosing.pop()
                if not enclosing:
                    return
                continue
            ab = abbrevs[code]
            kind = ab.kind
            if kind == _K_FIXED:  # most DIEs: skipped by size
                pos += ab.fixed_size
                if ab.has_children:
                    enclosing.append(enclosing[-1])
                continue
            if kind == _K_BLOCKS:
                for _step in ab.plan:
                    n = d[pos]
                    if n < 0x80:
                        pos += 1 + n
                    else:
                        n, pos = uleb(d, pos)
                        pos += n
                if ab.has_children:
                    enclosing.append(enclosing[-1])
                continue
            if kind == _K_FUNC:
                tag = ab.tag
                die_off = pos
                caller = enclosing[-1] if tag == TAG_INLINED else -1
                fn = FuncDie(die_off, tag, caller, [], [])
                low = high = 0
                high_rel = False
                plan = ab.func_plan
                if plan is None:
                    plan = ab.func_plan = _func_plan(ab.attrs, fixed)
                for step, form, const, size in plan:
                    if step == _P_SKIP:
                        pos += form
                        continue
                    if step == _P_SKIP_FORM:
                        if form == F_EXPRLOC and d[pos] < 0x80:  # DW_AT_frame_base: a short block
                            pos += 1 + d[pos]
                        else:
                            pos = skip(unit, form, pos, fixed)
                        continue
                    if size > 0:
                        value = int.from_bytes(d[pos:pos + size], "little")
                        pos += size
                    elif size <= -10:  # DW_FORM_strp (what `read_value` does)
                        size = -10 - size
                        off = int.from_bytes(d[pos:pos + size], "little")
                        pos += size
                        value = strs[off:strs.index(b"\0", off)].decode("utf-8", "surrogateescape") \
                            if off < n_strs else None
                    elif size == -2:
                        value = const
                    else:
                        value, pos = read_value(unit, form, const, pos)
                    if step <= _P_LINKAGE:  # _P_NAME, _P_LINKAGE
                        if isinstance(value, str):
                            fn.name_ops.append(("n" if step == _P_NAME else "l", value))
                    elif step == _P_REF:
                        ref = self._ref_target(unit, form, value)
                        if ref is not None:
                            fn.name_ops.append(("r", ref))
                    elif step == _P_LOW:
                        if isinstance(value, int):
                            low = value
                    elif step == _P_HIGH:
                        if isinstance(value, int):
                            high = value
                            high_rel = form != F_ADDR
                    elif step == _P_RANGES:
                        if isinstance(value, int) and form not in BLOCK_FORMS:
                            self.read_rangelist(unit, value, fn.ranges)
                    elif step == _P_CALL_FILE:
                        if isinstance(value, int):
                            fn.call_file = value
                    elif isinstance(value, int):  # _P_CALL_LINE
                        fn.call_line = value
                if high_rel:
                    high += low
                if high != 0:
                    add_range(fn.ranges, low, high)
                funcs.append(fn)
                if ab.has_children:
                    enclosing.append(len(funcs) - 1)
                continue
            if kind == _K_VAR and ab.loc_plan is not None and not _addr_location(d, pos, ab.loc_plan):
                pos = skip_plan(d, pos, ab.plan)  # a local (no DW_OP_addr): never kept, stepped over
            elif kind == _K_VAR:
                var = VarDie(0, [], None, 0, False, False)
                for name, form, const in ab.attrs:
                    if name == AT_NAME:
                        value, pos = read_value(unit, form, const, pos)
                        if isinstance(value, str):
                            var.name_ops.append(("v", value))
                    elif name == AT_SPECIFICATION:
                        value, pos = read_value(unit, form, const, pos)
                        ref = self._ref_target(unit, form, value)
                        if ref:
                            var.name_ops.append(("r", ref))
                    elif name == AT_DECL_FILE:
                        value, pos = read_value(unit, form, const, pos)
                        if isinstance(value, int):
                            var.decl_file = value
                            var.name_ops.append(("f", None))
                    elif name == AT_DECL_LINE:
                        value, pos = read_value(unit, form, const, pos)
                        if isinstance(value, int):
                            var.decl_line = value
                            var.name_ops.append(("d", value))
                    elif name == AT_EXTERNAL:
                        value, pos = read_value(unit, form, const, pos)
                        if value:
                            var.external = True
                    elif name == AT_LOCATION:
                        value, pos = read_value(unit, form, const, pos)
                        if form in BLOCK_FORMS and value and value[0] == DW_OP_ADDR:
                            var.external = True  # stack = false
                            if len(value) == unit.addr_size + 1:
                                var.addr = int.from_bytes(value[1:], "little")
                                var.has_addr = True
                    else:
                        pos = skip(unit, form, pos, fixed)
                if var.external and var.addr:
                    variables.append(var)
            elif kind == _K_PLAN:
                pos = skip_plan(d, pos, ab.plan)
            else:
                for _name, form, _const in ab.attrs:
                    pos = skip(unit, form, pos, fixed)
            if ab.has_children:
                enclosing.append(enclosing[-1])

    def has_function_ranges(self, unit: UnitInfo) -> bool:
        """True when some function DIE of `unit` has a non-empty address range (what `scan_unit` would
        put in a FuncDie's ranges). Reads only function DIEs' pc attributes and jumps over the children
        of other DIEs with DW_AT_sibling, so a unit of types and variables costs little. Each DIE is
        handled by its abbreviation's `walk` step, decided once (`_walk_step`)."""
        d = self.info
        abbrevs = self.load_abbrevs(unit)
        fixed = _fixed_sizes(unit.addr_size, unit.offset_size, unit.version)
        read_value = self.read_value
        skip = self._skip
        pos = unit.first_die
        end = unit.end
        base = unit.offset
        depth = 1
        while pos < end:
            code = d[pos]
            pos += 1
            if code >= 0x80:
                code, pos = uleb(d, pos - 1)
            if code == 0:
                depth -= 1
                if depth == 0:
                    return False
                continue
            ab = abbrevs[code]
            walk = ab.walk
            if walk is None:
                walk = ab.walk = _walk_step(ab, fixed)
            op = walk[0]
            if op == _W_LEAF:
                pos += walk[1]
                continue
            if op == _W_JUMP:
                at = pos + walk[2]
                sibling = int.from_bytes(d[at:at + walk[3]], "little")
                pos += walk[1]
                target = base + sibling if sibling else 0
                if pos < target <= end:
                    pos = target  # the children end with a null entry just before the sibling
                else:
                    depth += 1
                continue
            if op == _W_LEAF_PLAN:
                pos = skip_plan(d, pos, walk[1])
                continue
            if op == _W_DESCEND:
                pos += walk[1]
                depth += 1
                continue
            if op == _W_FUNC:
                low = high = 0
                high_rel = False
                ranges: list = []
                for step, form, const, size in walk[1]:
                    if step == _P_SKIP:
                        pos += form
                        continue
                    if step == _P_SKIP_FORM:
                        pos = skip(unit, form, pos, fixed)
                        continue
                    if size > 0:
                        value = int.from_bytes(d[pos:pos + size], "little")
                        pos += size
                    elif size == -2:
                        value = const
                    else:
                        value, pos = read_value(unit, form, const, pos)
                    if not isinstance(value, int):
                        continue
                    if step == _P_LOW:
                        low = value
                    elif step == _P_HIGH:
                        high = value
                        high_rel = form != F_ADDR
                    elif form not in BLOCK_FORMS:
                        self.read_rangelist(unit, value, ranges)
                if high_rel:
                    high += low
                if high != 0:
                    add_range(ranges, low, high)
                if ranges:
                    return True
                if ab.has_children:
                    depth += 1
                continue
            # _W_OTHER: a DIE of variable size
            sibling = None
            if ab.has_children and ab.sibling_at >= 0:
                at = pos + ab.sibling_at
                sibling = int.from_bytes(d[at:at + ab.sibling_size], "little")
            if ab.plan is not None:
                pos = skip_plan(d, pos, ab.plan)
            else:
                for name, form, const in ab.attrs:
                    if name == AT_SIBLING and form in CU_REF_FORMS:
                        value, pos = read_value(unit, form, const, pos)
                        sibling = value
                    else:
                        pos = skip(unit, form, pos, fixed)
            if ab.has_children:
                if ab.tag in FUNC_TAGS:
                    depth += 1  # a function without pc attributes: its children are walked
                    continue
                target = base + sibling if sibling else 0
                if pos < target <= end:
                    pos = target
                else:
                    depth += 1
        return False

    def _ref_target(self, unit: UnitInfo, form: int, value) -> int | None:
        if not isinstance(value, int):
            return None
        if form in CU_REF_FORMS:
            if value == 0 or value >= unit.end - unit.offset:
                return None
            return unit.offset + value
        if form == F_REF_ADDR:
            if value == 0 or value >= len(self.info):
                return None
            return value
        return None

    def unit_at(self, offset: int) -> UnitInfo | None:
        """The unit containing the .debug_info offset."""
        from bisect import bisect_right

        i = bisect_right(self._unit_starts, offset) - 1
        if i < 0:
            return None
        unit = self.units[i]
        return unit if offset < unit.end else None

    def die_name_ops(self, offset: int) -> tuple[list, UnitInfo | None]:
        """Name-related attributes of the DIE at `offset`, for BFD's find_abstract_instance."""
        hit = self._ref_cache.get(offset)
        if hit is not None:
            return hit
        unit = self.unit_at(offset)
        ops: list = []
        if unit is not None:
            fixed = _fixed_sizes(unit.addr_size, unit.offset_size, unit.version)
            try:
                code, pos = uleb(self.info, offset)
                ab = self.load_abbrevs(unit).get(code) if code else None
                if ab is not None:
                    for name, form, const in ab.attrs:
                        if name in (AT_NAME, AT_LINKAGE_NAME, AT_MIPS_LINKAGE_NAME, AT_SPECIFICATION,
                                    AT_DECL_FILE, AT_DECL_LINE):
                            value, pos = self.read_value(unit, form, const, pos)
                            if name == AT_NAME and isinstance(value, str):
                                ops.append(("n", value))
                            elif name in (AT_LINKAGE_NAME, AT_MIPS_LINKAGE_NAME) and isinstance(value, str):
                                ops.append(("l", value))
                            elif name == AT_SPECIFICATION:
                                ref = self._ref_target(unit, form, value)
                                if ref:
                                    ops.append(("r", ref))
                            elif name == AT_DECL_FILE and isinstance(value, int):
                                ops.append(("F", value))
                            elif name == AT_DECL_LINE and isinstance(value, int):
                                ops.append(("d", value))
                        else:
                            pos = self._skip(unit, form, pos, fixed)
            except (DwarfError, IndexError, struct.error, ValueError):
                pass
        result = (ops, unit)
        self._ref_cache[offset] = result
        return result

    def resolve_func_name(self, unit: UnitInfo, fn: FuncDie) -> None:
        """Set fn.name / fn.is_linkage from its attributes in order (BFD semantics)."""
        state = [None, False]
        self._apply_ops(fn.name_ops, unit, state, 0)
        fn.name, fn.is_linkage = state

    def resolve_var(self, unit: UnitInfo, var: VarDie) -> tuple[str | None, UnitInfo | None, int | None, int]:
        """(name, unit of decl_file, decl_file, decl_line) of a variable, in BFD's attribute order."""
        state: list = [None, None, None, 0]
        for kind, value in var.name_ops:
            if kind == "v":
                state[0] = value
            elif kind == "f":
                state[1], state[2] = unit, var.decl_file
            elif kind == "d":
                state[3] = value
            elif kind == "r":
                self._apply_var_ops(value, state, 0)
        return state[0], state[1], state[2], state[3]

    def _apply_var_ops(self, offset: int, state: list, depth: int) -> None:
        ops, target_unit = self.die_name_ops(offset)
        for kind, value in ops:
            if kind == "n":
                if state[0] is None:
                    state[0] = value
            elif kind == "l":
                state[0] = value
            elif kind == "F":
                state[1], state[2] = target_unit, value
            elif kind == "d":
                state[3] = value
            elif kind == "r" and depth < 100:
                self._apply_var_ops(value, state, depth + 1)

    def _apply_ops(self, ops: list, unit: UnitInfo | None, state: list, depth: int) -> None:
        for kind, value in ops:
            if kind == "n":
                if state[0] is None:
                    state[0] = value
                    if unit is not None and unit.lang in NON_MANGLED_LANGS:
                        state[1] = True
            elif kind == "l":
                state[0] = value
                state[1] = True
            elif kind == "r" and depth < 100:
                target_ops, target_unit = self.die_name_ops(value)
                self._apply_ops(target_ops, target_unit, state, depth + 1)
