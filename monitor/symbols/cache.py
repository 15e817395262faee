"""The on-disk cache of symbol indexes: file format, loading (with validation), saving and pruning."""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from espwatch.symbols.elf_locate import elf_sha256
from espwatch.symbols.errors import DecodeError
from espwatch.symbols.query import SymbolIndex

if TYPE_CHECKING:
    from concurrent.futures import Future

INDEX_VERSION = 6
CACHE_KEEP = 32  # indexes kept in the cache folder (about 2 MB each for a 4 MB ELF)
CACHE_MAGIC = b"ESPWATCH-SYMIDX\n"


def default_cache_dir() -> Path:
    """`ESPWATCH_CACHE_DIR`, else the platform cache folder for espwatch."""
    env = os.environ.get("ESPWATCH_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("espwatch")) / "symbols"


# -- cache ----------------------------------------------------------------------------------------
def to_bytes(index: SymbolIndex) -> bytes:
    """Cache file bytes: magic, version, CRC-32 of the payload, payload (JSON meta, strings, columns).

    No pickle: a cache file is data only, so a tampered cache cannot run code.
    """
    meta = {
        "version": INDEX_VERSION, "sha256": index.sha256, "arch": index.arch, "machine": index.machine,
        "has_dwarf": index.has_dwarf, "has_symbols": index.has_symbols, "n_units": index.n_units,
        "columns": [[n, getattr(index, n).typecode, len(getattr(index, n))] for n in SymbolIndex._ARRAYS],
    }
    meta_blob = json.dumps(meta).encode()
    strings_blob = "\0".join(index.strings).encode("utf-8", "surrogateescape")
    parts = [struct.pack("<II", len(meta_blob), len(strings_blob)), meta_blob, strings_blob]
    parts.extend(getattr(index, n).tobytes() for n in SymbolIndex._ARRAYS)
    payload = b"".join(parts)
    return CACHE_MAGIC + struct.pack("<II", INDEX_VERSION, zlib.crc32(payload)) + payload

def from_bytes(blob: bytes, sha256: str) -> SymbolIndex:
    """Rebuild from a cache blob; raises ValueError when it is stale, foreign or corrupt."""
    head = len(CACHE_MAGIC)
    if len(blob) < head + 16 or blob[:head] != CACHE_MAGIC:
        raise ValueError("not an espwatch index")
    version, crc = struct.unpack_from("<II", blob, head)
    if version != INDEX_VERSION:
        raise ValueError("index version mismatch")
    payload = memoryview(blob)[head + 8:]
    if zlib.crc32(payload) != crc:
        raise ValueError("index checksum mismatch")
    try:
        meta_len, str_len = struct.unpack_from("<II", payload, 0)
        pos = 8
        meta = json.loads(bytes(payload[pos:pos + meta_len]))
        pos += meta_len
        strings_blob = bytes(payload[pos:pos + str_len]).decode("utf-8", "surrogateescape")
        pos += str_len
        if meta.get("version") != INDEX_VERSION or meta.get("sha256") != sha256:
            raise ValueError("index is for another ELF")
        columns = meta["columns"]
        if [c[0] for c in columns] != list(SymbolIndex._ARRAYS):
            raise ValueError("index layout mismatch")
        index = SymbolIndex()
        for name, typecode, count in columns:
            if typecode != SymbolIndex._TYPECODES.get(name, "i"):
                raise ValueError("index layout mismatch")
            arr = array(typecode)
            size = count * arr.itemsize
            arr.frombytes(payload[pos:pos + size])
            if len(arr) != count:
                raise ValueError("truncated index")
            pos += size
            setattr(index, name, arr)
    except (KeyError, TypeError, struct.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable index: {exc}") from exc
    index.sha256 = sha256
    index.arch = meta["arch"]
    index.machine = meta["machine"]
    index.has_dwarf = meta["has_dwarf"]
    index.has_symbols = meta["has_symbols"]
    index.n_units = meta["n_units"]
    index.strings = strings_blob.split("\0") if strings_blob else []
    return index

def load(
    path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> SymbolIndex:
    """The index for the ELF at `path`: from the cache when valid, else built and cached."""
    path = os.fspath(path)
    try:
        sha = elf_sha256(path)
    except OSError as exc:
        raise DecodeError(f"cannot read ELF file {path}: {exc.strerror or exc}") from exc
    cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cfile = cdir / f"{sha}.idx"
    if use_cache:
        try:
            blob = cfile.read_bytes()
        except OSError:
            blob = None
        if blob is not None:
            try:
                index = from_bytes(blob, sha)
            except ValueError:
                index = None
            if index is not None:
                index.path = path
                index.from_cache = True
                return index
    from espwatch.symbols.build import build_index

    index = build_index(path, sha)
    if use_cache:
        try:
            cdir.mkdir(parents=True, exist_ok=True)
            tmp = cfile.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(to_bytes(index))
            os.replace(tmp, cfile)
            _prune(cdir, keep=CACHE_KEEP)
        except OSError:
            pass  # a read-only cache folder only costs speed
    return index

def load_async(
    path: str | os.PathLike[str], on_ready: Callable[[Future[SymbolIndex]], None] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Future[SymbolIndex]:
    """Load (or build) in a daemon thread; `on_ready(future)` runs in that thread when done."""
    from concurrent.futures import Future

    fut: Future[SymbolIndex] = Future()

    def work() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(load(path, cache_dir))
        except BaseException as exc:  # delivered through the future
            fut.set_exception(exc)

    if on_ready is not None:
        fut.add_done_callback(on_ready)
    threading.Thread(target=work, name="espwatch-symbols", daemon=True).start()
    return fut


def _prune(cdir: Path, keep: int) -> None:
    """Keep the `keep` most recently written indexes of the cache folder."""
    files = sorted(cdir.glob("*.idx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        try:
            old.unlink()
        except OSError:
            pass
