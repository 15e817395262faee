"""Fuzz targets, one module per area; every module defines `TARGETS: list[Target]`.

Targets: lines, detector, patterns, sanitizer, redaction (core.py); app_image, partition_table, otadata,
readback_diff (image.py); elf_index, symbol_cache, coredump, binlog (decoders.py). A new area adds a module
here, nothing else (`fuzz/run.py --list` finds it).
"""

from __future__ import annotations

import importlib
import pkgutil

from fuzz.harness import Target


def all_targets() -> dict[str, Target]:
    """Every target of every module in this package, by name."""
    out: dict[str, Target] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for target in getattr(module, "TARGETS", []):
            if target.name in out:
                raise ValueError(f"fuzz target {target.name} defined twice")
            out[target.name] = target
    return out
