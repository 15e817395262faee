"""C `printf` formatting over the arguments of a binary log record, as the device's libc would print them.

A format is parsed once into literal bytes and conversions (`parse_format`, cached by the caller). Each
conversion says how many argument bytes it takes on the wire (ESP-IDF sends every argument big-endian:
32 bits for `int`, `long`, `char`, pointers and `size_t`; 64 bits for `long long` and for `double`, to which
`float` is promoted; strings as an ELF address or inline, see `frames.py`). `format_args` renders the text
with C semantics: flags `-+ #0`, width and precision (also `*` from an argument), length modifiers
`hh h l ll j z t L q`, conversions `d i u o x X c s p f F e E g G a A n %`. Output is bytes: `%s` and `%c`
print the device's bytes unchanged.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

_FLAGS = frozenset(b"-+ #0")
_LENGTHS = (b"hh", b"ll", b"h", b"l", b"j", b"z", b"t", b"L", b"q")
_LONG64 = frozenset({"ll", "j", "q", "L"})
_INT_CONVS = frozenset("diuoxX")
_FLOAT_CONVS = frozenset("fFeEgGaA")
_KNOWN = _INT_CONVS | _FLOAT_CONVS | frozenset("cspn")


class ArgsShort(Exception):
    """The record has fewer argument bytes than its format needs."""


@dataclass(frozen=True, slots=True)
class Conv:
    """One `%` conversion: flags, width and precision (`-1` for `*`, None when absent), length, letter.

    `py` is a Python bytes %-format that prints exactly what C prints for this conversion (for finite
    floats), or None where the two differ (`#` with `x`/`o`, a precision on an integer, `*`): those take
    the slower path written after the C standard.
    """

    flags: str
    width: int | None
    precision: int | None
    length: str
    conv: str
    py: bytes | None = None

    @property
    def bits(self) -> int:
        return _int_bits(self.length)


def _python_format(flags: str, width: int | None, precision: int | None, conv: str) -> bytes | None:
    if width == -1 or precision == -1:
        return None
    w = str(width) if width is not None else ""
    prec = f".{precision}" if precision is not None else ""
    if conv in "di":
        return None if precision is not None else f"%{flags}{w}d".encode()
    if conv in "uxXo":
        if precision is not None or "#" in flags:
            return None
        signless = "".join(f for f in flags if f not in "+ ")  # C ignores + and space for unsigned
        return f"%{signless}{w}{'d' if conv == 'u' else conv}".encode()
    if conv in "fFeEgG":
        return f"%{flags}{w}{prec}{conv}".encode()
    if conv == "s":
        return f"%{'-' if '-' in flags else ''}{w}{prec}s".encode()
    if conv == "c":
        return f"%{'-' if '-' in flags else ''}{w}c".encode()
    return None


Piece = bytes | Conv


def parse_format(fmt: bytes) -> tuple[Piece, ...]:
    """Literal byte runs and conversions of a C format string (`%%` becomes a literal `%`).

    A conversion letter the C library does not know prints that letter (newlib's behaviour); a `%` at the
    very end prints nothing.
    """
    out: list[Piece] = []
    lit = bytearray()
    i, n = 0, len(fmt)
    while i < n:
        pct = fmt.find(b"%", i)
        if pct < 0:
            lit += fmt[i:]
            break
        lit += fmt[i:pct]
        j = pct + 1
        if j < n and fmt[j] == 0x25:  # "%%"
            lit.append(0x25)
            i = j + 1
            continue
        flags = bytearray()
        while j < n and fmt[j] in _FLAGS:
            flags.append(fmt[j])
            j += 1
        width: int | None = None
        if j < n and fmt[j] == 0x2A:  # "*"
            width, j = -1, j + 1
        else:
            k = j
            while j < n and 0x30 <= fmt[j] <= 0x39:
                j += 1
            if j > k:
                width = int(fmt[k:j])
        precision: int | None = None
        if j < n and fmt[j] == 0x2E:  # "."
            j += 1
            if j < n and fmt[j] == 0x2A:
                precision, j = -1, j + 1
            else:
                k = j
                while j < n and 0x30 <= fmt[j] <= 0x39:
                    j += 1
                precision = int(fmt[k:j]) if j > k else 0
        length = ""
        for cand in _LENGTHS:
            if fmt.startswith(cand, j):
                length = cand.decode()
                j += len(cand)
                break
        if j >= n:  # "%" (with flags...) at the end: nothing is printed
            i = n
            break
        letter = chr(fmt[j])
        j += 1
        if letter not in _KNOWN:
            lit.append(ord(letter) if ord(letter) < 0x80 else fmt[j - 1])
            i = j
            continue
        if lit:
            out.append(bytes(lit))
            lit = bytearray()
        fl = flags.decode()
        out.append(Conv(fl, width, precision, length, letter, _python_format(fl, width, precision, letter)))
        i = j
    if lit:
        out.append(bytes(lit))
    return tuple(out)


def conversions(pieces: tuple[Piece, ...]) -> int:
    """How many arguments the format takes (`*` widths and precisions count)."""
    total = 0
    for p in pieces:
        if isinstance(p, Conv):
            total += 1 + (p.width == -1) + (p.precision == -1)
    return total


# -- reading arguments -----------------------------------------------------------------------------------
class ArgReader:
    """Big-endian arguments of one record; `string` is given by the decoder (address or inline)."""

    __slots__ = ("data", "pos", "string")

    def __init__(self, data: bytes, string: Callable[[ArgReader, int | None], bytes | None]) -> None:
        self.data = data
        self.pos = 0
        self.string = string

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ArgsShort
        out = self.data[self.pos:end]
        self.pos = end
        return out

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def f64(self) -> float:
        return struct.unpack(">d", self.take(8))[0]

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _int_bits(length: str) -> int:
    return {"hh": 8, "h": 16}.get(length, 64 if length in _LONG64 else 32)


# -- formatting ----------------------------------------------------------------------------------------------
def _pad(body: bytes, width: int | None, left: bool) -> bytes:
    if width is None or len(body) >= width:
        return body
    fill = b" " * (width - len(body))
    return body + fill if left else fill + body


def format_int(value: int, conv: str, flags: str, width: int | None, precision: int | None,
               pointer: bool = False) -> bytes:
    """One integer conversion (`value` already cut to its C type; signed for `d`/`i`)."""
    neg = value < 0
    mag = -value if neg else value
    if conv in "xX":
        digits = format(mag, "x" if conv == "x" else "X")
    elif conv == "o":
        digits = format(mag, "o")
    else:
        digits = str(mag)
    if precision is not None:
        digits = "" if precision == 0 and mag == 0 else digits.rjust(precision, "0")
    prefix = ""
    if conv in "di":
        prefix = "-" if neg else "+" if "+" in flags else " " if " " in flags else ""
    if "#" in flags or pointer:
        if conv == "o" and not digits.startswith("0"):
            digits = "0" + digits
        elif conv in "xX" and (mag != 0 or pointer):
            prefix += "0x" if conv == "x" else "0X"
    left = "-" in flags
    if "0" in flags and not left and precision is None and width is not None:
        digits = digits.rjust(width - len(prefix), "0")
    return _pad((prefix + digits).encode(), width, left)


def _hex_float(value: float, upper: bool, flags: str, precision: int | None) -> str:
    """C's `%a`: hexadecimal significand and a binary exponent (normalised to a leading 1)."""
    if value == 0.0:
        mant, exp = "0", 0
        frac = ""
    else:
        text = float.hex(abs(value))  # '0x1.8000000000000p+1', subnormals as '0x0.0...p-1022'
        head, exp_s = text[2:].split("p")
        lead, _, frac = head.partition(".")
        exp = int(exp_s)
        mant = lead
        frac = frac.rstrip("0")
    if precision is not None:
        if precision < len(frac):
            bits = int(mant + frac, 16)
            shift = 4 * (len(frac) - precision)
            rounded = bits >> shift
            rest = bits & ((1 << shift) - 1)
            half = 1 << (shift - 1)
            if rest > half or (rest == half and rounded & 1):
                rounded += 1
            digits = format(rounded, "x").rjust(precision + 1, "0")
            if len(digits) > precision + 1:  # carried into a new leading digit
                rounded >>= 4
                exp += 4
                digits = format(rounded, "x").rjust(precision + 1, "0")
            mant, frac = digits[: len(digits) - precision], digits[len(digits) - precision:]
        else:
            frac = frac.ljust(precision, "0")
    point = "." if frac or "#" in flags else ""
    out = f"0x{mant}{point}{frac}p{exp:+d}"
    return out.upper() if upper else out


def format_float(value: float, conv: str, flags: str, width: int | None, precision: int | None) -> bytes:
    """One floating-point conversion with C semantics (also for inf and nan)."""
    left = "-" in flags
    sign = "-" if math.copysign(1.0, value) < 0 else "+" if "+" in flags else " " if " " in flags else ""
    if math.isinf(value) or math.isnan(value):
        word = "inf" if math.isinf(value) else "nan"
        body = sign + (word.upper() if conv in "FEGA" else word)
        return _pad(body.encode(), width, left)
    if conv in "aA":
        digits = _hex_float(value, conv == "A", flags, precision)
        prefix_len = 2
        body = sign + digits
        if "0" in flags and not left and width is not None and len(body) < width:
            body = sign + digits[:prefix_len] + digits[prefix_len:].rjust(width - len(sign) - prefix_len, "0")
        return _pad(body.encode(), width, left)
    spec = "%" + ("#" if "#" in flags else "") + ("." + str(precision) if precision is not None else "")
    digits = (spec + conv) % abs(value)
    body = sign + digits
    if "0" in flags and not left and width is not None and len(body) < width:
        body = sign + digits.rjust(width - len(sign), "0")
    return _pad(body.encode(), width, left)


_MASK = {8: 0xFF, 16: 0xFFFF, 32: 0xFFFFFFFF, 64: 0xFFFFFFFFFFFFFFFF}
_unpack_double = struct.Struct(">d").unpack_from


def format_args(pieces: tuple[Piece, ...], args: ArgReader) -> bytes:
    """The text of a record; ArgsShort when its arguments run out."""
    out: list[bytes] = []
    data = args.data
    end = len(data)
    for p in pieces:
        if p.__class__ is bytes:
            out.append(p)  # type: ignore[arg-type]
            continue
        assert isinstance(p, Conv)
        py = p.py
        if py is not None:  # the common case: a value and Python's %-format, which agrees with C here
            conv = p.conv
            pos = args.pos
            if conv == "s":
                text = args.string(args, None)
                out.append(py % (b"(null)" if text is None else text))
                continue
            if conv in "fFeEgG":
                if pos + 8 > end:
                    raise ArgsShort
                value = _unpack_double(data, pos)[0]
                if value - value == 0.0:  # finite (inf and nan pad with spaces in C, with zeros here)
                    args.pos = pos + 8
                    out.append(py % value)
                    continue
            else:
                bits = p.bits
                size = 8 if bits == 64 else 4
                if pos + size > end:
                    raise ArgsShort
                raw = int.from_bytes(data[pos:pos + size], "big")
                args.pos = pos + size
                if conv in "di":
                    raw &= _MASK[bits]
                    out.append(py % (raw - (1 << bits) if raw >> (bits - 1) else raw))
                else:
                    out.append(py % (raw & _MASK[bits] if conv != "c" else raw & 0xFF))
                continue
        flags, width, precision = p.flags, p.width, p.precision
        if width == -1:
            width = _signed(args.u32(), 32)
            if width < 0:
                flags += "-"
                width = -width
        if precision == -1:
            precision = _signed(args.u32(), 32)
            if precision < 0:
                precision = None
        conv = p.conv
        if conv in _INT_CONVS:
            bits = p.bits
            raw = args.u64() if bits == 64 else args.u32()
            value = _signed(raw, bits) if conv in "di" else raw & _MASK[bits]
            out.append(format_int(value, conv, flags, width, precision))
        elif conv == "s":
            text = args.string(args, None)
            if text is None:
                text = b"(null)"
            if precision is not None:
                text = text[:precision]
            out.append(_pad(text, width, "-" in flags))
        elif conv in _FLOAT_CONVS:
            out.append(format_float(args.f64(), conv, flags, width, precision))
        elif conv == "c":
            out.append(_pad(bytes([args.u32() & 0xFF]), width, "-" in flags))
        elif conv == "p":
            out.append(pointer_text(args, flags, width, precision))
        elif conv == "n":
            args.u32()
    return b"".join(out)


def pointer_text(args: ArgReader, flags: str, width: int | None, precision: int | None) -> bytes:
    """`%p`. A `char *` argument is sent as a string (the device types arguments by their C type): an inline
    string's header (first byte 0xFC-0xFF, no such address exists) is read as one and shown quoted."""
    if args.left >= 2 and args.data[args.pos] >= 0xFC:
        text = args.string(args, None)
        return _pad(b'(char *)"' + (text or b"") + b'"', width, "-" in flags)
    return format_int(args.u32(), "x", flags, width, precision, pointer=True)
