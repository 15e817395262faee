"""A short run of every fuzz target in fuzz/ (the long runs are `python fuzz/<target>.py`)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


@pytest.mark.parametrize(("target", "examples"), [("fuzz_cache", 150), ("fuzz_elf", 60)])
def test_fuzz_target_smoke(target: str, examples: int) -> None:
    """Derandomized, so that CI runs the same inputs every time; `python fuzz/<target>.py` explores."""
    hypothesis = pytest.importorskip("hypothesis")
    hypothesis.settings.register_profile("espwatch-smoke", derandomize=True, database=None)
    previous = hypothesis.settings._current_profile
    hypothesis.settings.load_profile("espwatch-smoke")
    sys.path.insert(0, str(FUZZ))
    try:
        importlib.import_module(target).run(examples)
    finally:
        sys.path.remove(str(FUZZ))
        hypothesis.settings.load_profile(previous or "default")
