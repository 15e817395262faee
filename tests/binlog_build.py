"""Binary log frames built the way ESP-IDF's `esp_log_format_binary` sends them (test side, written from the
device's C code independently of espwatch.binlog), and the host C library's printf as an oracle."""

from __future__ import annotations

import ctypes
import ctypes.util
import struct

APP, BOOTLOADER = 2, 1
E, W, I, D, V = 1, 2, 3, 4, 5  # noqa: E741 - ESP-IDF's level letters


def crc8_bitwise(data: bytes) -> int:
    """update_crc8() of log_format_binary.c, bit by bit."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def ref(s: bytes | int | None) -> bytes:
    """output_pointer(): an ELF address (int), NULL (None), or an inline string (bytes, at least 2 bytes)."""
    if s is None:
        return bytes(4)
    if isinstance(s, int):
        return s.to_bytes(4, "big")
    n = max(len(s), 2)
    return (1 - n).to_bytes(2, "big", signed=True) + s + bytes(n - len(s))


def buffer_ref(data: bytes) -> bytes:
    """A buffer argument (ESP_LOG_BUFFER_*): inline with the buffer's length, not strlen."""
    return ref(data)


def u32(v: int) -> bytes:
    return (v & 0xFFFFFFFF).to_bytes(4, "big")


def u64(v: int) -> bytes:
    return (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")


def f64(x: float) -> bytes:
    return struct.pack(">d", x)


def frame(fmt: bytes | int | None, args: list[bytes] = (), *, tag: bytes | int | None = b"test",  # type: ignore[assignment]
          level: int = I, ts: int = 1234, source: int = APP) -> bytes:
    """One frame: source, control (length, level, 64-bit time flag, version 0), format, tag, time, args, CRC."""
    time64 = ts >> 32 != 0
    body = ref(fmt) + ref(tag) + ts.to_bytes(8 if time64 else 4, "big") + b"".join(args)
    length = 3 + len(body) + 1
    assert length <= 0x3FF, "a frame holds at most 1023 bytes"
    control = length | (level << 10) | (int(time64) << 13)
    head = bytes([source]) + control.to_bytes(2, "big") + body
    return head + bytes([crc8_bitwise(head)])


# -- the C library's printf, as an oracle for the formatting ------------------------------------------------
_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_snprintf = _libc.snprintf


def c_printf(fmt: bytes, *args: object) -> bytes:
    """snprintf() of this machine's C library with ctypes-typed arguments."""
    buf = ctypes.create_string_buffer(4096)
    n = _snprintf(buf, ctypes.c_size_t(len(buf)), fmt, *args)
    assert 0 <= n < len(buf)
    return buf.raw[:n]
