"""Reading input files with one clear message for every way a path can be wrong."""

from __future__ import annotations

import os
from pathlib import Path

from espwatch.errors import InputError

MiB = 1024 * 1024


def read_input(path: str | os.PathLike[str], what: str, max_size: int) -> bytes:
    """Read a whole file, or raise InputError with one line that says what is wrong."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except NotADirectoryError:
        raise InputError(f"{p}: no such file (a parent is not a directory)") from None
    except PermissionError:
        raise InputError(f"{p}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected {what}")
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
    except PermissionError:
        raise InputError(f"{p}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_size:
        raise InputError(f"{p}: more than {max_size // MiB} MiB, too large for {what}")
    return data
