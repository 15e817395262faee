"""A short run of every fuzz target in fuzz/ (the long runs are `python fuzz/<target>.py`)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


@pytest.mark.parametrize(("target", "examples"), [("fuzz_cache", 150), ("fuzz_elf", 60)])
def test_fuzz_target_smoke(target: str, examples: int) -> None:
    pytest.importorskip("hypothesis")
    sys.path.insert(0, str(FUZZ))
    try:
        importlib.import_module(target).run(examples)
    finally:
        sys.path.remove(str(FUZZ))
