"""Records built by the test for each argument type a format can take, decoded back to ESP-IDF's text lines.

Frames come from tests/binlog_build.py (the device's layout, written from log_format_binary.c); the
expected message text comes from the C library's printf where it applies. Strings are inline (no ELF
needed) or addresses in the vendored app and bootloader ELF of the binlog fixture.
"""

from __future__ import annotations

import ctypes

import pytest
from binlog_build import APP, BOOTLOADER, D, E, I, V, W, buffer_ref, c_printf, f64, frame, ref, u32, u64
from conftest import small_fixture

from espwatch.binlog import BinlogDecoder, ElfStrings, decode_bytes
from espwatch.binlog.decoder import MARKER

FIX = small_fixture("esp32-binlog-app")
TAG_EXAMPLE = 0x3F40099C  # "example" in log.elf's flash rodata
STR_PTR = 0x3F400A44  # "str_ptr"
TEXT2 = 0x3F401E68  # the 79 bytes of "Text2:The way to get started is ..." (a static const array)
HEX_FMT, HEXDUMP_FMT, CHAR_FMT = 0x1D00, 0x1C8C, 0x1CC8  # __ESP_BUFFER_*_FORMAT__ in log.elf's .noload
BOOT_BANNER_FMT, BOOT_TAG = 0x1944, 0x19C7  # bootloader.elf: "ESP-IDF %s 2nd stage bootloader", "boot"


@pytest.fixture(scope="module")
def app_elf() -> ElfStrings:
    return ElfStrings(FIX / "log.elf")


@pytest.fixture(scope="module")
def boot_elf() -> ElfStrings:
    return ElfStrings(FIX / "bootloader.elf")


def decode(data: bytes, app: ElfStrings | None = None, boot: ElfStrings | None = None, **kw) -> bytes:
    return decode_bytes(data, BinlogDecoder(app, boot, armed=True, **kw))


def msg_of(data: bytes) -> bytes:
    """The message of one decoded line: after `tag: `, before the colour reset."""
    line = decode(data)
    assert line.startswith(b"\x1b[0;32mI (1234) test: ") and line.endswith(b"\x1b[0m\n"), line
    return line[len(b"\x1b[0;32mI (1234) test: "):-len(b"\x1b[0m\n")]


CASES = [
    # (format, wire arguments, the same arguments for the C library)
    (b"%d %i %u", [u32(-5), u32(2**31 - 1), u32(-1)], [ctypes.c_int(-5), ctypes.c_int(2**31 - 1), ctypes.c_uint(2**32 - 1)]),
    (b"%x %X %o %#x %#o", [u32(0xBEEF), u32(0xBEEF), u32(8), u32(42), u32(8)], [ctypes.c_uint(0xBEEF)] * 2 + [ctypes.c_uint(8), ctypes.c_uint(42), ctypes.c_uint(8)]),
    (b"%hhx %hhd %hx %hd", [u32(0xFF), u32(-120), u32(0xFF17), u32(-16954)], [ctypes.c_int(0xFF), ctypes.c_int(-120), ctypes.c_int(0xFF17), ctypes.c_int(-16954)]),
    (b"%ld %lu %zu", [u32(-123456789), u32(4000000000), u32(96843)], [ctypes.c_int(-123456789), ctypes.c_uint(4000000000), ctypes.c_uint(96843)]),
    (b"%lld %llu %llx", [u64(-1234567890123456789), u64(2**64 - 1), u64(0x1122334455667788)], [ctypes.c_longlong(-1234567890123456789), ctypes.c_ulonglong(2**64 - 1), ctypes.c_ulonglong(0x1122334455667788)]),
    (b"|%5d|%-5d|%05d|%.5d|%+d|% d|", [u32(42)] * 6, [ctypes.c_int(42)] * 6),
    (b"%c%c%c", [u32(ord("E")), u32(ord("S")), u32(ord("P"))], [ctypes.c_int(ord(c)) for c in "ESP"]),
    (b"%s|%10s|%-10s|%.5s|", [ref(b"Hello_world"), ref(b"ESP32"), ref(b"ESP32"), ref(b"Hello_world")], [ctypes.c_char_p(b"Hello_world"), ctypes.c_char_p(b"ESP32"), ctypes.c_char_p(b"ESP32"), ctypes.c_char_p(b"Hello_world")]),
    (b"[%s][%s]", [ref(b"x"), ref(b"")], [ctypes.c_char_p(b"x"), ctypes.c_char_p(b"")]),  # padded to 2 bytes
    (b"%f %.2f %10.3f %-10.1f|", [f64(1.6000000238418579), f64(-123.456), f64(3.14159), f64(2.5)], [ctypes.c_double(1.6000000238418579), ctypes.c_double(-123.456), ctypes.c_double(3.14159), ctypes.c_double(2.5)]),
    (b"%e %E %g %G %a", [f64(123456.789)] * 5, [ctypes.c_double(123456.789)] * 5),
    (b"%lf %F", [f64(-70.19999694824219), f64(float("inf"))], [ctypes.c_double(-70.19999694824219), ctypes.c_double(float("inf"))]),
    (b"%*d|%-*d|%.*s|", [u32(6), u32(42), u32(6), u32(42), u32(3), ref(b"abcdef")], [ctypes.c_int(6), ctypes.c_int(42), ctypes.c_int(6), ctypes.c_int(42), ctypes.c_int(3), ctypes.c_char_p(b"abcdef")]),
    (b"100%% %d%%", [u32(7)], [ctypes.c_int(7)]),
    (b"%s %d %lf %lu %f %f %c", [ref(b"int, double, var32, float, float, char"), u32(4095), f64(-70.19999694824219), u32(9000), f64(1.6000000238418579), f64(1.6000000238418579), u32(65)], [ctypes.c_char_p(b"int, double, var32, float, float, char"), ctypes.c_int(4095), ctypes.c_double(-70.19999694824219), ctypes.c_uint(9000), ctypes.c_double(1.6000000238418579), ctypes.c_double(1.6000000238418579), ctypes.c_int(65)]),
]


@pytest.mark.parametrize(("fmt", "wire", "c_args"), CASES, ids=[c[0].decode() for c in CASES])
def test_argument_types_decode_like_printf(fmt: bytes, wire: list[bytes], c_args: list) -> None:
    assert msg_of(frame(fmt, wire)) == c_printf(fmt, *c_args)


def test_pointer_and_n() -> None:
    assert msg_of(frame(b"|%p|%n|", [u32(0x3FF26523), u32(0x3FFB0000)])) == b"|0x3ff26523||"


def test_line_shape_levels_colours_and_times() -> None:
    lines = [decode(frame(b"msg", level=lvl, ts=ts)) for lvl, ts in ((E, 5), (W, 6), (I, 7), (D, 8), (V, 9))]
    assert lines == [b"\x1b[0;31mE (5) test: msg\x1b[0m\n", b"\x1b[0;33mW (6) test: msg\x1b[0m\n",
                     b"\x1b[0;32mI (7) test: msg\x1b[0m\n", b"D (8) test: msg\n", b"V (9) test: msg\n"]
    assert decode(frame(b"msg", ts=1751987000123), colors=False) == b"I (1751987000123) test: msg\n"  # 64-bit
    assert decode(frame(b"no tag", tag=None), colors=False) == b"I (1234) no tag\n"
    # ESP_DRAM_LOGx (no time): text mode prints neither time nor colour
    assert decode(frame(b"in ISR %d", [u32(3)], level=E, ts=0)) == b"E test: in ISR 3\n"
    # esp_log_write(): no time and the format carries its own header and line break
    raw = frame(b"W (%lu) %s: raw %d\n", [u32(77), ref(b"wifi"), u32(1)], tag=b"wifi", level=W, ts=0)
    assert decode(raw) == b"W (77) wifi: raw 1\n"


def test_strings_from_the_elf(app_elf: ElfStrings) -> None:
    data = frame(b"%s %p|%s|", [u32(STR_PTR), u32(STR_PTR), u32(0)], tag=TAG_EXAMPLE)
    assert decode(data, app_elf, colors=False) == b"I (1234) example: str_ptr 0x3f400a44|(null)|\n"
    # a string address the ELF does not have: said in place, the line stays
    data = frame(b"%s", [u32(0x3F7FFFF0)], tag=b"t")
    assert decode(data, app_elf, colors=False) == b"I (1234) t: <0x3f7ffff0: not in log.elf>\n"


def test_buffers_inline_and_from_the_elf(app_elf: ElfStrings) -> None:
    buf = bytes(range(20)) + b"ABC"
    addr = 0x3FFB320A
    args = [u32(len(buf)), buffer_ref(buf), u32(addr)]
    hexed = decode(frame(HEX_FMT, args, tag=TAG_EXAMPLE), app_elf, colors=False).splitlines()
    assert hexed == [b"I (1234) example: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
                     b"I (1234) example: 10 11 12 13 41 42 43"]
    dump = decode(frame(HEXDUMP_FMT, args, tag=TAG_EXAMPLE), app_elf, colors=False).splitlines()
    assert dump == [
        b"I (1234) example: 0x3ffb320a   00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|",
        b"I (1234) example: 0x3ffb321a   10 11 12 13 41 42 43                              |....ABC|"]
    text = b"line one\x00hidden after NUL"
    chars = decode(frame(CHAR_FMT, [u32(len(text)), buffer_ref(text), u32(addr)], tag=TAG_EXAMPLE), app_elf,
                   colors=False).splitlines()
    assert chars == [b"I (1234) example: line one", b"I (1234) example: after NUL"]  # printf("%s") stops at NUL
    # a const buffer in flash is sent as its address: the bytes come from the ELF
    from_elf = decode(frame(CHAR_FMT, [u32(79), u32(TEXT2), u32(TEXT2)], tag=TAG_EXAMPLE), app_elf,
                      colors=False).splitlines()
    assert from_elf[0] == b"I (1234) example: Text2:The way to" and from_elf[-1] == b"I (1234) example:  - Walt Disney"
    assert decode(frame(HEX_FMT, [u32(0), buffer_ref(b""), u32(addr)], tag=TAG_EXAMPLE), app_elf) == b""


def test_bootloader_records_use_the_bootloader_elf(app_elf: ElfStrings, boot_elf: ElfStrings) -> None:
    data = frame(BOOT_BANNER_FMT, [ref(b"v6.0-test")], tag=BOOT_TAG, ts=31, source=BOOTLOADER)
    assert decode(data, app_elf, boot_elf, colors=False) == b"I (31) boot: ESP-IDF v6.0-test 2nd stage bootloader\n"
    # the same frame sent as an app record would need the app ELF, where that address is something else
    app_rec = frame(BOOT_BANNER_FMT, [ref(b"v6.0-test")], tag=BOOT_TAG, ts=31, source=APP)
    assert decode(app_rec, app_elf, boot_elf).startswith(MARKER + b"app record I (31) not decoded: ")


def test_records_that_cannot_be_decoded_say_why(app_elf: ElfStrings) -> None:
    no_elf = decode(frame(0x1D00, [], tag=TAG_EXAMPLE))
    assert no_elf == (MARKER + b"app record I (1234) not decoded: no app ELF to look up its format "
                      b"(give --elf APP.elf)\n")
    not_in = decode(frame(0x00FFFFF0, [], tag=TAG_EXAMPLE), app_elf)
    assert b"format address 0x00fffff0 is not in log.elf (wrong ELF or another build?)" in not_in
    inside = decode(frame(HEX_FMT + 3, [], tag=TAG_EXAMPLE), app_elf)
    assert b"format address 0x00001d03 does not start a string in log.elf" in inside
    short = decode(frame(b"%d and %s", [u32(1)]))
    assert short == (MARKER + b'app record I (1234) not decoded: its 4 argument bytes do not fit the format '
                     b'"%d and %s" (wrong ELF, another build, or a format/argument mismatch in the code)\n')
    extra = decode(frame(b"%d", [u32(1), u32(2)]))
    assert extra.startswith(MARKER) and b"its 8 argument bytes do not fit" in extra
    bad_tag = decode(frame(b"x", [], tag=0x3F7FFFF0), app_elf)
    assert b"tag address 0x3f7ffff0 is not in log.elf" in bad_tag


def test_inline_format_and_tag_need_no_elf() -> None:
    dec = BinlogDecoder()  # not armed, no ELF: two frames back to back show it is binary logging
    data = b"boot text\r\n" + frame(b"first %d", [u32(1)]) + frame(b"second %s", [ref(b"two")]) + b"tail\r\n"
    assert decode_bytes(data, dec) == (b"boot text\r\n\x1b[0;32mI (1234) test: first 1\x1b[0m\n"
                                       b"\x1b[0;32mI (1234) test: second two\x1b[0m\ntail\r\n")
    assert dec.active and dec.stats.records == 2
