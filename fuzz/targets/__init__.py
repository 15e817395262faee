"""Fuzz targets, one module per area; every module defines `TARGETS: list[Target]`.

Targets here (hardening): lines, detector, patterns, sanitizer, redaction (core.py); app_image,
partition_table, otadata, readback_diff (image.py).

Places left for the other areas (add a module, nothing else to change; `fuzz/run.py --list` finds it):
- symbols.py: the ELF index and the symbol cache loader (today the Hypothesis scripts fuzz/fuzz_elf.py and
  fuzz/fuzz_cache.py);
- coredump.py: the core dump decoders (ELF and raw formats, base64 from UART);
- binlog.py: the binary log decoder.
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
