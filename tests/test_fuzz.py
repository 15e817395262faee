"""Fuzzing as a habit (issue 12.9): every kept crasher is replayed, and every target gets a short smoke run
with the built-in mutation engine (fixed seed, so a failure here reproduces with
`python fuzz/run.py TARGET --runs N`). The long runs are `python fuzz/run.py all --seconds S`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz.harness import crashers, fuzz, run_one  # noqa: E402
from fuzz.targets import all_targets  # noqa: E402

TARGETS = all_targets()
SMOKE_RUNS = 80


def test_the_hardening_targets_are_there() -> None:
    assert {"lines", "detector", "patterns", "sanitizer", "redaction", "app_image", "partition_table",
            "otadata", "readback_diff"} <= set(TARGETS)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_kept_crashers_pass(name: str) -> None:
    target = TARGETS[name]
    failing = [(p.name, f.error, f.where) for p in crashers(name) if (f := run_one(target, p.read_bytes()))]
    assert not failing


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_smoke(name: str) -> None:
    stats = fuzz(TARGETS[name], runs=SMOKE_RUNS, seed=12, keep=False)
    assert stats.inputs == SMOKE_RUNS
    assert not stats.findings, [(f.error, f.where, f.data[:200]) for f in stats.findings]
