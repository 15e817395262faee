"""The code base stays ruff clean (configuration in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean() -> None:
    try:
        import ruff  # noqa: F401
    except ImportError:
        if shutil.which("ruff") is None:
            pytest.skip("ruff is not installed (pip install -e '.[test]')")
    r = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_merge_conflict_markers() -> None:
    """No tracked text file keeps a `<<<<<<<` / `>>>>>>>` line from an unfinished merge."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    bad = []
    for name in files.decode("utf-8", "replace").split("\0"):
        if not name.endswith((".py", ".md", ".toml", ".txt", ".json", ".yml", ".cfg")):
            continue
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        bad += [f"{name}:{i}" for i, line in enumerate(text.splitlines(), 1)
                if line.startswith(("<<<<<<< ", ">>>>>>> "))]
    assert not bad, bad
