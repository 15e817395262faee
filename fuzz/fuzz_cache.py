"""Fuzz the symbol cache loader: `python fuzz/fuzz_cache.py [--examples N]`.

A valid cache file of the demo ELF is damaged (bytes replaced, cut, inserted) and its CRC recomputed, so
that the layout and range checks behind the checksum are what is tested. `from_bytes` must reject it
with ValueError, or give an index whose lookups work and whose answers are printable.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SEED_ELF, examples_from_argv, seed_addresses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from espwatch.symbols import addr2line_lines
from espwatch.symbols.build import build_index
from espwatch.symbols.cache import CACHE_MAGIC, from_bytes, to_bytes

_INDEX = build_index(SEED_ELF)
SHA = _INDEX.sha256
BLOB = to_bytes(_INDEX)
HEAD = len(CACHE_MAGIC) + 8
ADDRS = seed_addresses()


def with_crc(payload: bytes) -> bytes:
    """A cache file around `payload` whose checksum is right."""
    return BLOB[:len(CACHE_MAGIC)] + struct.pack("<II", 7, zlib.crc32(payload)) + payload


def check_blob(blob: bytes) -> None:
    """The property: rejected with ValueError, or usable and printable."""
    try:
        index = from_bytes(blob, SHA)
    except ValueError:
        return
    for text in addr2line_lines(index, ADDRS):
        assert text.isprintable() or all(part.isprintable() for part in text.split("\n")), text


edits = st.lists(st.tuples(st.integers(0, len(BLOB) - HEAD - 1), st.integers(0, 255)),
                 min_size=1, max_size=12)


@st.composite
def damaged_payloads(draw) -> bytes:
    payload = bytearray(BLOB[HEAD:])
    kind = draw(st.sampled_from(["bytes", "words", "cut", "insert"]))
    if kind == "bytes":
        for pos, value in draw(edits):
            payload[pos % len(payload)] = value
    elif kind == "words":  # whole 32-bit values: counts, offsets and indexes change coherently
        for pos, value in draw(st.lists(st.tuples(st.integers(0, len(payload) // 4 - 1),
                                                  st.integers(-(2**31), 2**31 - 1)), min_size=1, max_size=6)):
            struct.pack_into("<i", payload, pos * 4, value)
    elif kind == "cut":
        del payload[draw(st.integers(0, len(payload) - 1)):]
    else:
        at = draw(st.integers(0, len(payload)))
        payload[at:at] = draw(st.binary(min_size=1, max_size=64))
    return bytes(payload)


def run(examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(damaged_payloads())
    def target(payload: bytes) -> None:
        check_blob(with_crc(payload))

    target()


if __name__ == "__main__":
    run(examples_from_argv())
    print("fuzz_cache: no failure")
