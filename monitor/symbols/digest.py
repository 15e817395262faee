"""The SHA-256 of an ELF file, remembered beside the symbol index cache by the file's identity.

The index cache is keyed by the ELF's SHA-256 (the digest the firmware prints a prefix of). Hashing a 4 MB
ELF (and importing hashlib) takes longer than decoding twenty addresses from its cached index, so the
digest is kept in `<cache root>/digests/<crc of the path>` together with the file's device, inode, size,
modification time and change time in nanoseconds, read before and after the bytes were read. Any
difference hashes the file again. The change time moves on every write, rename and `touch`, and no user
call can set it back, so a rewritten file never keeps an old digest; a file changed in the last two seconds
is not remembered at all (its times may not have moved yet). Like every cache it is only a speed-up: a
file that does not parse is ignored and written again.
"""

from __future__ import annotations

import os

Identity = tuple[int, int, int, int, int]


def identity(path: str) -> Identity | None:
    """(device, inode, size, mtime ns, ctime ns) of the file at `path`, None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _memo_file(path: str) -> str:
    import zlib

    from espwatch.cachedir import cache_root

    crc = zlib.crc32(os.path.abspath(path).encode("utf-8", "surrogateescape"))
    return os.path.join(cache_root(), "digests", f"{crc:08x}")


def sha256_of(path: str, data: bytes, before: Identity | None, remember: bool = True) -> str:
    """The SHA-256 (hex) of `data`, the bytes just read from `path` whose identity was `before` the read:
    the remembered digest when the file is the same one, else computed (and, with `remember`, kept)."""
    sha, memo = remembered(path, data, before, remember)
    return sha if sha is not None else compute(data, memo)


def remembered(
    path: str, data: bytes | None, before: Identity | None, remember: bool = True
) -> tuple[str | None, tuple]:
    """(the remembered digest of `data`, or None, and what `compute` needs to remember a new one). With
    `data` None (not read yet): the digest remembered for the file as it was `before`; whoever reads the
    bytes later must check that its identity is still `before`."""
    where = os.path.abspath(path)
    if data is None:
        after = before if remember else None
        steady = after is not None
    else:
        after = identity(path) if before is not None and remember else None
        steady = after is not None and after == before and after[2] == len(data)
    memo = _memo_file(path) if steady else None
    key = f"{where}\0{' '.join(map(str, after or ()))}\0"
    if memo is not None:
        try:
            with open(memo, encoding="utf-8", errors="surrogateescape") as fh:
                text = fh.read()
            sha = text[len(key):]
            if text.startswith(key) and len(sha) == 64 and sha.isascii() and sha.isalnum():
                int(sha, 16)
                return sha, ()
        except ValueError:
            pass
        except OSError:
            pass
    return None, (memo, after, key)


def compute(data: bytes, memo: tuple) -> str:
    """The SHA-256 (hex) of `data`, remembered as `remembered` prepared."""
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    keep(memo, sha)
    return sha


def keep(memo: tuple, sha: str) -> None:
    """Remember `sha`, computed for the bytes `remembered` was asked about (when the file is settled)."""
    memo_file, after, key = memo
    if memo_file is not None and after is not None and _settled(after):
        _remember(memo_file, key + sha)


SETTLED_NS = 2_000_000_000
"""A file changed less than this long ago is not remembered: file times tick coarsely (a few ms), so a file
still being written could change again without its times moving (git's "racy" entries)."""


def _settled(ident: Identity) -> bool:
    import time

    return time.time_ns() - max(ident[3], ident[4]) > SETTLED_NS


def _remember(memo: str, text: str) -> None:
    from pathlib import Path

    from espwatch.cachedir import private_dir

    tmp = f"{memo}.{os.getpid()}.tmp"
    try:
        private_dir(Path(memo).parent)
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
        os.replace(tmp, memo)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
