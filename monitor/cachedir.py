"""Where espwatch keeps its files: caches (`ESPWATCH_CACHE_DIR`, else the platform's user cache folder) and
the user config folder. The platform folders are the ones platformdirs gives (without importing it on
every start): Linux and other Unixes follow XDG, macOS `~/Library`, Windows `%LOCALAPPDATA%`.

Folders are created private to the user (0700). Every cache is a pure speed-up: anything that does not
validate is rebuilt, never trusted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "espwatch"


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def user_cache_dir() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or _home() / "AppData" / "Local") / APP / "Cache"
    if sys.platform == "darwin":
        return _home() / "Library" / "Caches" / APP
    return Path(os.environ.get("XDG_CACHE_HOME") or _home() / ".cache") / APP


def user_config_dir() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or _home() / "AppData" / "Local") / APP
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / APP
    return Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config") / APP


def cache_root() -> Path:
    env = os.environ.get("ESPWATCH_CACHE_DIR")
    return Path(env) if env else user_cache_dir()


def private_dir(path: Path) -> Path:
    """`path`, created (with its parents) readable by the user only; OSError when that is not possible."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
