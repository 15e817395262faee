"""The logs of a triage: paths, folders and globs expanded to files; plain, `.gz` and `.zst` logs opened.

A `LogInput` says where one log's bytes are (a path, or the bytes themselves) with what the scan needs to
place it in time: the file's modification time and its arrival-time sidecar (`<log>.times`, written by the
monitor; for `x.log.gz` also `x.log.times`). It is small and picklable: a process pool or a Dask worker
gets the `LogInput` and reads the file itself.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from espwatch.errors import InputError, TimesFileError, unreadable
from espwatch.pipeline import CHUNK, sniff_binary

COMPRESSED = (".gz", ".zst")
LOG_SUFFIXES = (".log", ".txt", ".out")
"""What a folder contributes: files ending in one of these, or in one of these plus `.gz` / `.zst`."""
ZSTD_MISSING = ("reading .zst logs needs the optional package zstandard "
                "(pip install 'espwatch[fleet]' or pip install zstandard)")


@dataclass(frozen=True, slots=True)
class LogInput:
    """One log to scan: its name in results, where to read it, and its file time and arrival times."""

    name: str
    path: str | None = None
    """Absolute path to read (None when `data` is given)."""
    data: bytes | None = None
    mtime: float | None = None
    """Modification time of the file (Unix seconds); None for bytes."""
    times: bytes | None = None
    """The arrival-time sidecar's content (`espwatch.device.times` format), when it is given as bytes."""
    source: str | None = None
    """A label for where the log came from (a port name when several are merged)."""

    @classmethod
    def from_bytes(cls, name: str, data: bytes, times: bytes | None = None, mtime: float | None = None,
                   source: str | None = None) -> LogInput:
        return cls(name, None, bytes(data), mtime, times, source)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], name: str | None = None) -> LogInput:
        p = Path(path)
        try:
            mtime: float | None = p.stat().st_mtime
        except OSError:
            mtime = None  # reported when the scan opens it
        return cls(name if name is not None else str(path), str(p.absolute()), None, mtime)

    @property
    def compression(self) -> str | None:
        """"gz", "zst" or None, from the file name."""
        for suffix in COMPRESSED:
            if self.name.endswith(suffix) or (self.path or "").endswith(suffix):
                return suffix[1:]
        return None

    def open(self) -> BinaryIO:
        """A fresh binary stream of the (decompressed) log; InputError with one line when it cannot be."""
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return open_log(self.path)

    def open_at(self, offset: int) -> BinaryIO:
        """A fresh stream positioned `offset` bytes into the (decompressed) log."""
        if self.data is not None:
            return io.BytesIO(self.data[offset:])
        if self.compression is None and self.path is not None:
            try:
                fh = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
                fh.seek(offset)
            except OSError as exc:
                raise unreadable(self.name, exc) from None
            return fh
        fh = self.open()
        pos = 0
        while pos < offset:  # a compressed stream cannot seek: read up to the offset
            skip = read_some(fh, self.name, min(offset - pos, CHUNK))
            if not skip:
                break
            pos += len(skip)
        return fh

    def times_sidecar(self) -> bytes | None:
        """The arrival-time sidecar's bytes: given, or read from beside the file (None when it has none)."""
        if self.times is not None or self.path is None:
            return self.times
        from espwatch.device.times import times_path

        candidates = [times_path(self.path)]
        if self.compression:
            candidates.append(times_path(self.path.rsplit(".", 1)[0]))
        for side in candidates:
            if side.is_file():
                try:
                    return side.read_bytes()
                except OSError as exc:
                    raise TimesFileError(f"{side}: cannot read ({exc.strerror or exc})") from None
        return None


def open_log(path: str) -> BinaryIO:
    """Open a log file, decompressing `.gz` and `.zst`; refuses ELF files, app images, partition tables."""
    name = path
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned (wrapped) to the caller
    except IsADirectoryError:
        raise InputError(f"{name} is a directory, not a log file") from None
    except OSError as exc:
        raise unreadable(name, exc) from None
    fh: BinaryIO
    if path.endswith(".gz"):
        fh = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    elif path.endswith(".zst"):
        try:
            import zstandard
        except ImportError:
            raw.close()
            raise InputError(f"{name}: {ZSTD_MISSING}") from None
        fh = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
    else:
        fh = raw
    try:
        head = read_some(fh, name, 4096)
    except InputError:
        fh.close()
        raw.close()
        raise
    try:
        sniff_binary(head, name)
    except InputError:
        fh.close()
        raw.close()
        raise
    return _Prefixed(head, fh, raw)  # type: ignore[return-value]


class _Prefixed:
    """A stream that first gives back the bytes already read from it (compressed streams cannot seek back)."""

    def __init__(self, head: bytes, rest: BinaryIO, raw: BinaryIO) -> None:
        self._head = head
        self._rest = rest
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                head, self._head = self._head, b""
                return head + (self._rest.read() or b"")
            head, self._head = self._head[:size], self._head[size:]
            return head
        return self._rest.read(size) or b""

    def close(self) -> None:
        try:
            self._rest.close()
        finally:
            self._raw.close()

    def __enter__(self) -> _Prefixed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_some(fh: BinaryIO, name: str, size: int = CHUNK) -> bytes:
    """Read up to `size` bytes; a damaged compressed file or a read error is an InputError."""
    try:
        return fh.read(size) or b""
    except (OSError, EOFError) as exc:
        what = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"{name}: cannot read: {what}") from None
    except Exception as exc:  # zstandard.ZstdError and friends: the data is not what its name says
        if type(exc).__module__.startswith("zstandard"):
            raise InputError(f"{name}: not a valid .zst file ({exc})") from None
        raise


def read_chunks(fh: BinaryIO, name: str, size: int = CHUNK) -> Iterator[bytes]:
    while True:
        chunk = read_some(fh, name, size)
        if not chunk:
            return
        yield chunk


def _is_log_name(name: str, suffixes: tuple[str, ...]) -> bool:
    base = name
    for c in COMPRESSED:
        if base.endswith(c):
            base = base[: -len(c)]
            break
    return base.endswith(suffixes)


def expand_paths(args: Iterable[str], suffixes: tuple[str, ...] = LOG_SUFFIXES) -> list[LogInput]:
    """Files as given, folders searched recursively for logs (`suffixes`, plain or compressed), globs
    (`*`, `?`, `[...]`, `**`) expanded; each file once, in the order given, folders and globs sorted.

    InputError when an argument names nothing (a missing file, a glob that matches nothing)."""
    out: list[LogInput] = []
    seen: set[str] = set()

    def add(path: Path, name: str) -> None:
        key = os.path.normcase(str(path.resolve()))
        if key not in seen:
            seen.add(key)
            out.append(LogInput.from_path(path, name))

    for arg in args:
        if glob.has_magic(arg) and not Path(arg).exists():
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise InputError(f"{arg}: no file matches")
            for m in matches:
                p = Path(m)
                if p.is_dir():
                    for f in _folder_logs(p, suffixes):
                        add(f, str(f))
                else:
                    add(p, m)
            continue
        p = Path(arg)
        if p.is_dir():
            files = _folder_logs(p, suffixes)
            if not files:
                raise InputError(f"{arg}: no log files in this folder (looked for {', '.join(suffixes)}, "
                                 "also .gz / .zst)")
            for f in files:
                add(f, str(f))
        elif p.exists():
            add(p, arg)
        else:
            raise InputError(f"{arg}: no such file")
    return out


def _folder_logs(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in files:
            if not f.startswith(".") and _is_log_name(f, suffixes):
                found.append(Path(root) / f)
    return sorted(found)
