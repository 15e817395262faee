"""The on-disk cache of symbol indexes: file format, loading (with validation), saving and pruning.

One file per ELF content, `<sha256>.idx`, in a folder private to the user (0700). It holds the index
columns as they are: complete after `load` (every unit parsed), or partial after a one-shot decode that
parsed only the units its addresses needed (`open_index` + `store`); a partial index parses more units
from the ELF when later lookups need them and is stored again.

A cache file is data only (no pickle) and is trusted only after its checksum, its layout and every
index it holds (into the strings, rows, functions, ranges and units) have been checked: anything else
is ignored and the index is built again from the ELF, never a traceback.
"""

from __future__ import annotations

import os
import struct
import zlib
from array import array
from collections.abc import Callable

from espwatch.errors import ElfError
from espwatch.symbols.build import open_index as _build_open
from espwatch.symbols.build import source_from_elf
from espwatch.symbols.query import IndexQuery

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (decode starts fast)
if TYPE_CHECKING:
    from concurrent.futures import Future
    from pathlib import Path

    from espwatch.symbols.digest import Identity

INDEX_VERSION = 7
CACHE_KEEP = 32  # indexes kept in the cache folder (about 2 MB each for a 4 MB ELF)
CACHE_MAGIC = b"ESPWATCH-SYMIDX\n"
_HEAD = struct.Struct("<II")  # version, CRC-32 of the payload
_META = struct.Struct("<32sIIII")  # sha256, machine, n_units, flags, number of columns
_FLAG_DWARF, _FLAG_SYMBOLS, _FLAG_VARS_SORTED = 1, 2, 4
_MACHINES = {94: "xtensa", 243: "riscv"}


def default_cache_dir() -> Path:
    """`ESPWATCH_CACHE_DIR`, else the platform cache folder for espwatch's `symbols/`."""
    from pathlib import Path

    from espwatch.cachedir import user_cache_dir

    env = os.environ.get("ESPWATCH_CACHE_DIR")
    return Path(env) if env else user_cache_dir() / "symbols"


# -- the file format ------------------------------------------------------------------------------------
def to_bytes(index: IndexQuery) -> bytes:
    """Cache file bytes: magic, version, CRC-32 of the payload, payload (meta, strings, columns)."""
    names = IndexQuery._ARRAYS
    flags = ((_FLAG_DWARF if index.has_dwarf else 0) | (_FLAG_SYMBOLS if index.has_symbols else 0)
             | (_FLAG_VARS_SORTED if index.vars_sorted else 0))
    strings_blob = "\0".join(index.strings).encode("utf-8", "surrogateescape")
    parts = [
        _META.pack(bytes.fromhex(index.sha256), index.machine, index.n_units, flags, len(names)),
        array("I", [len(getattr(index, n)) for n in names]).tobytes(),
        struct.pack("<I", len(strings_blob)),
        strings_blob,
    ]
    parts.extend(getattr(index, n).tobytes() for n in names)
    payload = b"".join(parts)
    return CACHE_MAGIC + _HEAD.pack(INDEX_VERSION, zlib.crc32(payload)) + payload


def from_bytes(blob: bytes, sha256: str, cls: type[IndexQuery] = IndexQuery) -> IndexQuery:
    """An index from cache file bytes; ValueError when it is stale, foreign, corrupt or inconsistent."""
    try:
        return _from_bytes(blob, sha256, cls)
    except ValueError:
        raise
    except Exception as exc:  # whatever the bytes are, one kind of failure
        raise ValueError(f"unreadable index: {type(exc).__name__}: {exc}") from exc


def _from_bytes(blob: bytes, sha256: str, cls: type[IndexQuery]) -> IndexQuery:
    head = len(CACHE_MAGIC)
    if len(blob) < head + _HEAD.size + _META.size or blob[:head] != CACHE_MAGIC:
        raise ValueError("not an espwatch index")
    version, crc = _HEAD.unpack_from(blob, head)
    if version != INDEX_VERSION:
        raise ValueError("index version mismatch")
    payload = memoryview(blob)[head + _HEAD.size:]
    if zlib.crc32(payload) != crc:
        raise ValueError("index checksum mismatch")
    sha, machine, n_units, flags, n_cols = _META.unpack_from(payload, 0)
    names = IndexQuery._ARRAYS
    if sha.hex() != sha256:
        raise ValueError("index is for another ELF")
    if machine not in _MACHINES or n_cols != len(names):
        raise ValueError("index layout mismatch")
    pos = _META.size
    counts = array("I")
    counts.frombytes(payload[pos:pos + 4 * n_cols])
    pos += 4 * n_cols
    (str_len,) = struct.unpack_from("<I", payload, pos)
    pos += 4
    index = cls()
    typecodes = [IndexQuery._TYPECODES.get(name, "i") for name in names]
    sizes = [count * array(code).itemsize for code, count in zip(typecodes, counts, strict=True)]
    if pos + str_len + sum(sizes) != len(payload):
        raise ValueError("index size mismatch")
    strings_blob = bytes(payload[pos:pos + str_len]).decode("utf-8", "surrogateescape")
    pos += str_len
    for name, code, size in zip(names, typecodes, sizes, strict=True):
        arr = array(code)
        arr.frombytes(payload[pos:pos + size])
        pos += size
        setattr(index, name, arr)
    index.sha256 = sha256
    index.machine = machine
    index.arch = _MACHINES[machine]
    index.n_units = n_units
    index.has_dwarf = bool(flags & _FLAG_DWARF)
    index.has_symbols = bool(flags & _FLAG_SYMBOLS)
    index.vars_sorted = bool(flags & _FLAG_VARS_SORTED)
    index.strings = strings_blob.split("\0") if strings_blob else []
    check_index(index)
    return index


def _in(col: array, lo: int, hi: int, what: str) -> None:
    if col and (min(col) < lo or max(col) >= hi):
        raise ValueError(f"index column {what} out of range")


def _same_length(index: IndexQuery, *names: str) -> int:
    n = len(getattr(index, names[0]))
    if any(len(getattr(index, name)) != n for name in names[1:]):
        raise ValueError(f"index columns {names[0]}... differ in length")
    return n


def _spans(lo: array, hi: array, limit: int, what: str) -> None:
    """Every [lo[i], hi[i]) must be a slice of a column of `limit` items."""
    if any(a < 0 or a > b or b > limit for a, b in zip(lo, hi, strict=True)):
        raise ValueError(f"index spans {what} out of range")


def check_index(index: IndexQuery) -> None:
    """Raise ValueError unless every column has its partner's length and every index held in a column
    points inside the column it refers to (what the lookups rely on not to fail)."""
    n_str = len(index.strings)
    n_units = index.n_units
    _same_length(index, "sec_start", "sec_end", "sec_code", "sec_index")
    n_seg = _same_length(index, "seg_start")
    if len(index.seg_off) != n_seg + 1 or index.seg_off[0] != 0 or index.seg_off[-1] != len(index.seg_units):
        raise ValueError("index segments inconsistent")
    if any(a > b for a, b in zip(index.seg_off, index.seg_off[1:], strict=False)):
        raise ValueError("index segments inconsistent")
    _in(index.seg_units, 0, n_units, "seg_units")
    _in(index.ungated, 0, n_units, "ungated")
    if _same_length(index, "unit_off", "unit_state", "unit_gate_lo", "unit_gate_hi", "unit_row_lo",
                    "unit_row_hi", "unit_fn_lo", "unit_fn_hi") != n_units:
        raise ValueError("index unit table inconsistent")
    _in(index.unit_state, 0, 3, "unit_state")
    n_gate = _same_length(index, "gate_low", "gate_high")
    _spans(index.unit_gate_lo, index.unit_gate_hi, n_gate, "gates")
    n_rows = _same_length(index, "row_addr", "row_file", "row_line", "row_disc")
    _spans(index.unit_row_lo, index.unit_row_hi, n_rows, "rows")
    _in(index.row_file, -2, n_str, "row_file")
    n_fe = _same_length(index, "fe_low", "fe_wm", "fe_fn")
    _spans(index.unit_fn_lo, index.unit_fn_hi, n_fe, "function entries")
    n_fn = _same_length(index, "fn_name", "fn_flags", "fn_caller", "fn_call_file", "fn_call_line", "fn_low0",
                        "fn_rng_lo", "fn_rng_hi")
    _in(index.fe_fn, 0, n_fn, "fe_fn")
    n_rng = _same_length(index, "rng_low", "rng_high")
    _spans(index.fn_rng_lo, index.fn_rng_hi, n_rng, "function ranges")
    _in(index.fn_name, -1, n_str, "fn_name")
    _in(index.fn_call_file, -1, n_str, "fn_call_file")
    _in(index.fn_caller, -1, n_fn, "fn_caller")
    if any(c >= g for g, c in enumerate(index.fn_caller) if c >= 0):
        raise ValueError("index function callers out of order")  # a caller chain must end
    _same_length(index, "var_addr", "var_unit", "var_name", "var_file", "var_line")
    _in(index.var_unit, 0, n_units, "var_unit")
    _in(index.var_name, 0, n_str, "var_name")
    _in(index.var_file, -1, n_str, "var_file")
    _same_length(index, "cand_sec", "cand_off", "cand_key", "cand_size", "cand_flags", "cand_name",
                 "cand_file", "cand_group")
    _in(index.cand_name, -1, n_str, "cand_name")
    _in(index.cand_file, -1, n_str, "cand_file")
    _same_length(index, "ds_sec", "ds_addr", "ds_name", "ds_flags")
    _in(index.ds_name, 0, n_str, "ds_name")


# -- reading and writing cache files --------------------------------------------------------------------
def _read_elf_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise ElfError(f"{path} is a directory, not an ELF file") from None
    except OSError as exc:
        raise ElfError(f"cannot read ELF file {path}: {exc.strerror or exc}") from exc


def _cache_file(cache_dir: str | os.PathLike[str] | None, sha: str) -> str:
    cdir = os.fspath(cache_dir) if cache_dir is not None else os.fspath(default_cache_dir())
    return os.path.join(cdir, f"{sha}.idx")


def _from_cache(cfile: str, sha: str, path: str, data: bytes | Callable[[], bytes],
                cls: type[IndexQuery]) -> IndexQuery | None:
    try:
        with open(cfile, "rb") as f:
            blob = f.read()
        index = from_bytes(blob, sha, cls)
    except (OSError, ValueError):
        return None
    index.path = path
    index.from_cache = True
    if not index.is_complete:
        _attach_elf(index, path, data)
    return index


def _attach_elf(index: IndexQuery, path: str, data: bytes | Callable[[], bytes]) -> None:
    """Let a partial index parse further units from the ELF's bytes (read once, already hashed; or, as a
    callable, read when a lookup first needs a unit the cache does not hold)."""
    offsets = index.unit_off

    def source():
        return source_from_elf(path, data if isinstance(data, bytes) else data(), offsets)

    index.source_factory = source


def _make_private_dirs(cdir: str) -> None:
    """Create the cache folder (and missing parents) readable by the user only."""
    missing = []
    d = os.path.abspath(cdir)
    while not os.path.isdir(d):
        missing.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            if not os.path.isdir(d):
                raise
        os.chmod(d, 0o700)  # mkdir's mode is masked by the umask


def save(index: IndexQuery, cfile: str) -> bool:
    """Write the index to `cfile` (atomically; no temp file is left behind); False when it cannot be."""
    cdir = os.path.dirname(cfile)
    tmp = None
    try:
        _make_private_dirs(cdir)
        blob = to_bytes(index)
        tmp = os.path.join(cdir, f".{os.path.basename(cfile)}.{os.getpid()}.{id(index):x}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, cfile)
        tmp = None
        _prune(cdir, keep=CACHE_KEEP)
        return True
    except OSError:
        return False  # a read-only or odd cache folder only costs speed
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def store(index: IndexQuery) -> bool:
    """Save an index opened with a cache (`open_index`) when lookups parsed new units since."""
    cfile = getattr(index, "cache_file", None)
    if not cfile or not index.dirty:
        return False
    if save(index, cfile):
        index.dirty = False
        return True
    return False


def open_index(
    path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None, use_cache: bool = True,
    cls: type[IndexQuery] = IndexQuery,
) -> IndexQuery:
    """The index for one-shot decoding: the cached one when valid (complete or partial), else one that
    reads only the units its lookups need. Call `store(index)` afterwards to keep what was parsed."""
    from espwatch.symbols.digest import identity, remembered

    path = os.fspath(path)
    before = identity(path)
    if use_cache and before is not None:
        # digest remembered and index cached: the ELF is read only if a lookup needs a unit not cached
        sha, _ = remembered(path, None, before, use_cache)
        cfile = _cache_file(cache_dir, sha) if sha is not None else None
        index = _from_cache(cfile, sha, path, _read_later(path, before), cls) if cfile else None
        if index is not None:
            index.cache_file = cfile
            return index
    data = _read_elf_bytes(path)
    sha, memo = remembered(path, data, before, use_cache)  # remembered by the file's identity: no hash
    if sha is None:
        return _open_hashing(path, data, memo, cache_dir, use_cache, cls)
    cfile = _cache_file(cache_dir, sha) if use_cache else None
    index = _from_cache(cfile, sha, path, data, cls) if cfile else None
    if index is None:
        index = _build_open(path, sha, data, cls)
        index.dirty = True
    index.cache_file = cfile
    return index


def _read_later(path: str, before: Identity) -> Callable[[], bytes]:
    """The ELF's bytes, read on the first call: ElfError when the file is not the one whose remembered
    digest chose the cached index (it changed since)."""
    from espwatch.symbols.digest import identity

    read: list[bytes] = []

    def bytes_now() -> bytes:
        if not read:
            data = _read_elf_bytes(path)
            if identity(path) != before or len(data) != before[2]:
                raise ElfError(f"{path} changed while it was being decoded: run the command again")
            read.append(data)
        return read[0]

    return bytes_now


def _open_hashing(
    path: str, data: bytes, memo: tuple, cache_dir: str | os.PathLike[str] | None, use_cache: bool,
    cls: type[IndexQuery],
) -> IndexQuery:
    """`open_index` for an ELF whose digest must be computed: hashed in a thread (hashlib runs without
    the interpreter lock) while the sections, symbols and unit table are read; then the cached index
    for that digest when there is one, else the one just read. The thread runs only the hashing (no
    import, no file writing): Python work there would take the interpreter lock from the reading."""
    import _thread

    from espwatch.symbols.digest import keep

    try:  # OpenSSL's SHA-256 without the rest of hashlib (its module and BLAKE2: ~0.7 ms of the start)
        from _hashlib import openssl_sha256 as sha256
    except ImportError:
        from hashlib import sha256

    done: list = []
    finished = _thread.allocate_lock()  # held until the hash is done (a join without `threading`)
    finished.acquire()

    def work() -> None:
        try:
            done.append(sha256(data))
        except BaseException as exc:  # raised again by the caller
            done.append(exc)
        finally:
            finished.release()

    _thread.start_new_thread(work, ())
    index: IndexQuery | None = None
    failure: ElfError | None = None
    try:
        index = _build_open(path, "", data, cls)
    except ElfError as exc:  # a valid cached index (same bytes) would still answer
        failure = exc
    finally:
        finished.acquire()
    if isinstance(done[0], BaseException):
        raise done[0]
    sha = done[0].hexdigest()
    keep(memo, sha)
    cfile = _cache_file(cache_dir, sha) if use_cache else None
    cached = _from_cache(cfile, sha, path, data, cls) if cfile else None
    if cached is not None:
        index = cached
    elif failure is not None or index is None:
        raise failure or ElfError(f"{path}: cannot be read")
    else:
        index.sha256 = sha
        index.dirty = True
    index.cache_file = cfile
    return index


def load(
    path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None, use_cache: bool = True,
    cls: type[IndexQuery] = IndexQuery,
) -> IndexQuery:
    """The complete index for the ELF at `path`: from the cache when valid, else built and cached."""
    index = open_index(path, cache_dir, use_cache, cls)
    if not index.is_complete:
        index.complete()
    if index.n_units:
        index.has_dwarf = 1 in index.unit_state
    store(index)
    return index


def load_async(
    path: str | os.PathLike[str], on_ready: Callable[[Future[IndexQuery]], None] | None = None,
    cache_dir: str | os.PathLike[str] | None = None, cls: type[IndexQuery] = IndexQuery,
) -> Future[IndexQuery]:
    """Load (or build) in a daemon thread; `on_ready(future)` runs in that thread when done."""
    import threading
    from concurrent.futures import Future

    fut: Future[IndexQuery] = Future()

    def work() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(load(path, cache_dir, cls=cls))
        except BaseException as exc:  # delivered through the future
            fut.set_exception(exc)

    if on_ready is not None:
        fut.add_done_callback(on_ready)
    threading.Thread(target=work, name="espwatch-symbols", daemon=True).start()
    return fut


def _prune(cdir: str, keep: int) -> None:
    """Keep the `keep` most recently written indexes of the cache folder."""
    files = []
    with os.scandir(cdir) as it:
        for entry in it:
            if entry.name.endswith(".idx") and entry.is_file(follow_symlinks=False):
                files.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
    files.sort(reverse=True)
    for _mtime, old in files[keep:]:
        try:
            os.unlink(old)
        except OSError:
            pass
