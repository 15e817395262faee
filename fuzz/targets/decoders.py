"""Fuzz targets for the decoders: the symbol index and its cache (the properties of fuzz/fuzz_elf.py and
fuzz/fuzz_cache.py), core dumps (log blocks, base64, raw and ELF cores), and binary logs."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from espwatch.errors import CoreDumpError, InputError
from fuzz.harness import Target

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared" / "fixtures"
DEMO_ELF = DATA / "fixtures" / "rv32-inline-demo" / "demo.elf"
BINLOG = DATA / "fixtures" / "esp32-binlog-app"
UART_DUMP_LOG = DATA / "corpus" / "b-esp32-storeprohibited-coredump-uart.log"


# -- symbol index and cache --------------------------------------------------------------------------
def _elf_seeds() -> list[bytes]:
    return [DEMO_ELF.read_bytes()]


def run_elf(data: bytes) -> None:
    """A damaged ELF: ElfError with one line, or an index whose lazy and full answers agree."""
    import sys

    sys.path.insert(0, str(ROOT / "fuzz"))
    from fuzz_elf import check_elf

    with tempfile.TemporaryDirectory(prefix="fuzz-elf-") as tmp:
        check_elf(data, Path(tmp))


def _cache_seeds() -> list[bytes]:
    from espwatch.symbols.build import build_index
    from espwatch.symbols.cache import to_bytes

    return [to_bytes(build_index(DEMO_ELF))]


def run_cache(data: bytes) -> None:
    """Any bytes as a cache file: rejected (ValueError), or an index that answers with printable text."""
    import sys

    sys.path.insert(0, str(ROOT / "fuzz"))
    from fuzz_cache import check_blob

    check_blob(data)


# -- core dumps ------------------------------------------------------------------------------------------
def _coredump_seeds() -> list[bytes]:
    out = [UART_DUMP_LOG.read_bytes()]
    for b64 in sorted(SHARED.glob("*coredump*/*.b64"))[:4]:
        text = b64.read_bytes()
        out.append(text)
        try:
            out.append(base64.b64decode(b"".join(text.split())))
        except ValueError:
            pass
    return out


def run_coredump(data: bytes) -> None:
    """A log, base64 text or binary: a report (JSON-able, renderable) or one CoreDumpError line."""
    from espwatch.coredump import decode_coredumps
    from espwatch.render.coredump import render_text

    try:
        reports = decode_coredumps(data, name="fuzz")
    except (CoreDumpError, InputError) as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for rep in reports:
        json.dumps(rep.to_json())
        render_text(rep)


# -- binary logs -----------------------------------------------------------------------------------------
_DECODER = None


def _binlog_seeds() -> list[bytes]:
    return [(BINLOG / "binlog").read_bytes()]


def run_binlog(data: bytes) -> None:
    """Any bytes through the decoder with the fixture's ELFs, in two different splits: the same text."""
    global _DECODER
    from espwatch.binlog.setup import decode_stream, open_decoder

    if _DECODER is None:
        _DECODER = (BINLOG / "log.elf", BINLOG / "bootloader.elf")
    whole = b"".join(decode_stream([data], open_decoder(*_DECODER)))
    half = len(data) // 2
    split = b"".join(decode_stream([data[:half], data[half:]], open_decoder(*_DECODER)))
    assert whole == split
    try:
        whole.decode("utf-8")
    except UnicodeDecodeError:
        pass  # device text may be any bytes; the decoder's own lines are ASCII


TARGETS = [
    Target("elf_index", run_elf, _elf_seeds, "the ELF reader and symbol index: lazy answers = full answers",
           max_len=1 << 16),
    Target("symbol_cache", run_cache, _cache_seeds, "the symbol cache loader: reject, or answer printably",
           max_len=1 << 17),
    Target("coredump", run_coredump, _coredump_seeds, "core dumps: UART blocks, base64, raw and ELF cores",
           max_len=1 << 17, tokens=(b"CORE DUMP START", b"CORE DUMP END", b"\x7fELF")),
    Target("binlog", run_binlog, _binlog_seeds, "the binary log decoder: any split gives the same text",
           max_len=1 << 14),
]
