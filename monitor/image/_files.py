"""Reading input files with one clear message for every way a path can be wrong."""

from __future__ import annotations

import os
from pathlib import Path

from espwatch.errors import InputError, unreadable

MiB = 1024 * 1024


def stat_input(path: str | os.PathLike[str], what: str) -> tuple[Path, os.stat_result]:
    """The path and its `stat`, or InputError with one line that says what is wrong (`what` was expected)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise unreadable(p, exc) from None
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected {what}")
    return p, st


def read_input(path: str | os.PathLike[str], what: str, max_size: int) -> bytes:
    """Read a whole file, or raise InputError with one line that says what is wrong."""
    p, st = stat_input(path, what)
    if not p.is_file() and st.st_size == 0:
        # a FIFO or device: read at most max_size + 1 bytes
        pass
    elif st.st_size > max_size:
        raise InputError(
            f"{p}: {st.st_size} bytes is too large for {what} (limit {max_size // MiB} MiB)"
        )
    try:
        with p.open("rb") as fh:
            data = fh.read(max_size + 1)
    except OSError as exc:
        raise unreadable(p, exc) from None
    if len(data) > max_size:
        raise InputError(f"{p}: more than {max_size // MiB} MiB, too large for {what}")
    return data
