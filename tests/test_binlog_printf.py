"""The binary log formatter against the C library's own printf (ctypes snprintf on this machine).

Each case is a random conversion (flags, width, precision, `*`, length modifier) with a random value,
sent the way the device sends it (32 or 64 bits big-endian, doubles, inline strings) and formatted by
espwatch; the C library formats the same conversion with the same value. The device is 32-bit (long and
size_t are 32 bits): the host's format gets `ll` where the device has 64-bit lengths, nothing where the
device's `l`, `z`, `t` are 32 bits.
"""

from __future__ import annotations

import ctypes
import math
import random
import struct

import pytest
from binlog_build import c_printf, f64, ref, u32, u64

from espwatch.binlog.printf import ArgReader, ArgsShort, Conv, format_args, parse_format


def _inline_string(reader: ArgReader, size: int | None) -> bytes | None:
    data, p = reader.data, reader.pos
    n = 1 - int.from_bytes(data[p:p + 2], "big", signed=True)
    reader.pos = p + 2 + n
    return data[p + 2:p + 2 + n].split(b"\x00", 1)[0]


def ours(fmt: bytes, wire: bytes) -> bytes:
    reader = ArgReader(wire, _inline_string)
    out = format_args(parse_format(fmt), reader)
    assert reader.left == 0
    return out


INT_VALUES = [0, 1, -1, 7, 8, 42, -42, 255, 256, -128, 127, 32767, -32768, 65535, 65536, 2**31 - 1, -2**31,
              2**32 - 1, 2**40 + 5, -2**40, 2**63 - 1, -2**63, 1234567890, 123456789012345]
FLOAT_VALUES = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, 3.14159, -123.456789, 123456.789, 1e-10, 1e300, -1e-300,
                5e-324, 2.2250738585072014e-308, 1.6000000238418579, 0.1, 9.9999, 99999.5, 1e21,
                math.inf, -math.inf, math.nan]


def _spec(rng: random.Random) -> tuple[str, str, str, list]:
    """Random flags, width and precision: (flags, width text, precision text, star arguments)."""
    flags = "".join(rng.sample("-+ #0", rng.randint(0, 3)))
    stars: list[int] = []
    width = ""
    r = rng.random()
    if r < 0.4:
        width = str(rng.randint(1, 24))
    elif r < 0.5:
        width = "*"
        stars.append(rng.randint(-12, 24))
    prec = ""
    r = rng.random()
    if r < 0.35:
        prec = "." + str(rng.randint(0, 18))
    elif r < 0.42:
        prec = "."
    elif r < 0.5:
        prec = ".*"
        stars.append(rng.randint(-3, 18))
    return flags, width, prec, stars


@pytest.mark.parametrize("seed", range(8))
def test_integers_like_libc(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(400):
        flags, width, prec, stars = _spec(rng)
        conv = rng.choice("diouxX")
        length = rng.choice(["", "", "hh", "h", "l", "ll", "j", "z", "t"])
        value = rng.choice(INT_VALUES) if rng.random() < 0.6 else rng.randint(-2**63, 2**64 - 1)
        wide = length in ("ll", "j")
        host_len = "ll" if wide else ("" if length in ("l", "z", "t") else length)
        fmt = f"%{flags}{width}{prec}{length}{conv}".encode()
        host_fmt = f"|%{flags}{width}{prec}{host_len}{conv}|".encode()
        wire = b"".join(u32(s) for s in stars) + (u64(value) if wide else u32(value))
        c_args = [ctypes.c_int(s) for s in stars]
        if wide:
            c_args.append(ctypes.c_ulonglong(value & (2**64 - 1)))
        else:
            c_args.append(ctypes.c_uint(value & (2**32 - 1)))
        expected = c_printf(host_fmt, *c_args)[1:-1]
        assert ours(fmt, wire) == expected, (fmt, value, stars)


@pytest.mark.parametrize("seed", range(6))
def test_floats_like_libc(seed: int) -> None:
    rng = random.Random(100 + seed)
    for _ in range(400):
        flags, width, prec, stars = _spec(rng)
        conv = rng.choice("fFeEgGaA")
        if rng.random() < 0.6:
            value = rng.choice(FLOAT_VALUES)
        else:
            value = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
        length = rng.choice(["", "", "l"])  # %lf is %f; the device sends a double either way
        fmt = f"%{flags}{width}{prec}{length}{conv}".encode()
        host_fmt = f"|%{flags}{width}{prec}{conv}|".encode()
        wire = b"".join(u32(s) for s in stars) + f64(value)
        expected = c_printf(host_fmt, *[ctypes.c_int(s) for s in stars], ctypes.c_double(value))[1:-1]
        assert ours(fmt, wire) == expected, (fmt, value, stars)


@pytest.mark.parametrize("seed", range(4))
def test_strings_and_chars_like_libc(seed: int) -> None:
    rng = random.Random(200 + seed)
    for _ in range(300):
        flags, width, prec, stars = _spec(rng)
        flags = flags.replace("0", "")  # undefined for %s and %c in C
        if rng.random() < 0.5:
            text = bytes(rng.choice(b"abcXYZ 019_-:/%\t") for _ in range(rng.randint(0, 30)))
            fmt = f"%{flags}{width}{prec}s".encode()
            wire = b"".join(u32(s) for s in stars) + ref(text)
            c_arg: object = ctypes.c_char_p(text)
        else:
            code = rng.randint(1, 255)
            fmt = f"%{flags}{width}c".encode()
            stars = stars[:1] if width == "*" else []
            wire = b"".join(u32(s) for s in stars) + u32(code)
            c_arg = ctypes.c_int(code)
        host = b"|" + fmt + b"|"
        expected = c_printf(host, *[ctypes.c_int(s) for s in stars], c_arg)[1:-1]
        assert ours(fmt, wire) == expected, (fmt, wire)


def test_mixed_format_like_libc() -> None:
    fmt = b"%s |%10s| |%-10s| |%.5s| %c%% %5.1f %-+6d %#o %#x %llu %n%hhd"
    wire = (ref(b"string width") + ref(b"ESP32") + ref(b"ESP32") + ref(b"ESP32 Test") + u32(65) + f64(3.14159)
            + u32(42) + u32(8) + u32(255) + u64(2**64 - 1) + u32(0x3FFB0000) + u32(0x1FF))
    n = ctypes.c_int(0)
    expected = c_printf(b"%s |%10s| |%-10s| |%.5s| %c%% %5.1f %-+6d %#o %#x %llu %n%hhd", b"string width",
                        b"ESP32", b"ESP32", b"ESP32 Test", ctypes.c_int(65), ctypes.c_double(3.14159),
                        ctypes.c_int(42), ctypes.c_int(8), ctypes.c_int(255), ctypes.c_ulonglong(2**64 - 1),
                        ctypes.byref(n), ctypes.c_int(0x1FF))
    assert ours(fmt, wire) == expected


def test_pointers_as_newlib_prints_them() -> None:
    # newlib: %p is 0x and lower-case hex, also for NULL (glibc would print "(nil)")
    assert ours(b"|%p|", u32(0x3FF26523)) == b"|0x3ff26523|"
    assert ours(b"|%p|", u32(0)) == b"|0x0|"
    assert ours(b"|%12p|%-12p|", u32(0x400D1234) + u32(0x3F400A44)) == b"|  0x400d1234|0x3f400a44  |"
    # a char* given to %p travels as a string (the device types arguments by their C type)
    assert ours(b"%s %p", ref(b"str_array") + ref(b"str_array")) == b'str_array (char *)"str_array"'


def test_format_edge_cases() -> None:
    assert parse_format(b"100%%") == (b"100%",)
    assert parse_format(b"ends with %") == (b"ends with ",)
    assert parse_format(b"%y?") == (b"y?",)  # unknown conversion: newlib prints the letter
    assert parse_format(b"%-08.3lld") == (Conv("-0", 8, 3, "ll", "d"),)
    assert ours(b"no arguments", b"") == b"no arguments"
    with pytest.raises(ArgsShort):
        ours(b"%d %d", u32(1))
    with pytest.raises(ArgsShort):
        ours(b"%lld", u32(1))
