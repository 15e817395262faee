"""Where espwatch keeps its caches: `ESPWATCH_CACHE_DIR`, else the platform's user cache folder.

Folders are created private to the user (0700). Every cache is a pure speed-up: anything that does not
validate is rebuilt, never trusted.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    env = os.environ.get("ESPWATCH_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("espwatch"))


def private_dir(path: Path) -> Path:
    """`path`, created (with its parents) readable by the user only; OSError when that is not possible."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
