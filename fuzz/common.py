"""Shared pieces of the fuzz harnesses: the seed ELF and a few addresses worth looking up."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_ELF = ROOT / "tests" / "data" / "fixtures" / "rv32-inline-demo" / "demo.elf"
ADDRS_FILE = SEED_ELF.parent / "addrs.txt"


def seed_addresses(step: int = 5) -> list[int]:
    """Every `step`-th probe address of the seed ELF (code, data, and no-match addresses)."""
    return [int(tok, 16) for tok in ADDRS_FILE.read_text().split()][::step]


def examples_from_argv(default: int = 2000) -> int:
    if "--examples" in sys.argv:
        return int(sys.argv[sys.argv.index("--examples") + 1])
    return default
