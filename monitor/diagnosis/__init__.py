"""Diagnosis across boots and attempts: rules (patterns/rules.toml) over the event stream -> `finding` events.

Public API:

- `DiagnosisStage(patterns, rules, elf=None)`: the pipeline stage (`process(ev, boot)` / `finish()`).
- `load_rules(extra_dirs=())`: the built-in rules plus the `[[rule]]` tables in `--patterns` folders
  (RuleError names the file and the rule code).
- `rule_pages(rules)`: one page per rule code for `espwatch explain` (kind `finding`, or `boot_loop` for the
  derived event kind), with hint, checks and references.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from espwatch.diagnosis.rules import Rule, default_rules_path, load_rule_files, rule_pages
from espwatch.errors import RuleError
from espwatch.patterns import pattern_files, read_toml

if TYPE_CHECKING:
    from espwatch.diagnosis.engine import DiagnosisStage


def __getattr__(name: str) -> object:
    """`DiagnosisStage`, imported when first asked for: reading the rules (`espwatch explain`, the cache of
    the built-in rules) does not load the engine and its checks."""
    if name == "DiagnosisStage":
        from espwatch.diagnosis.engine import DiagnosisStage

        return DiagnosisStage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _checks() -> list[str]:
    """The names of the checks a rule may use (imports the checks: only when rules are parsed)."""
    from espwatch.diagnosis.checks import CHECKS

    return list(CHECKS)


def load_rules(extra_dirs: Sequence[os.PathLike[str] | str] = (),
               base: list[Rule] | None = None) -> list[Rule]:
    """The built-in rules, then the `[[rule]]` tables of the `*.toml` files in `extra_dirs`. `base`: the
    built-in rules already parsed (espwatch.datacache keeps them), instead of reading rules.toml."""
    rules = list(base) if base is not None else load_rule_files([default_rules_path()], _checks(), builtin=1)
    files: list = []
    for d in extra_dirs:
        for f in pattern_files(Path(d)):
            if "rule" in read_toml(f, RuleError):
                files.append(f)
    if not files:
        return rules
    where = {r.code: r.source for r in rules}
    for rule in load_rule_files(files, _checks()):
        if rule.code in where:
            raise RuleError(f"{rule.source}: rule {rule.code} is already defined in {where[rule.code]}")
        rules.append(rule)
    return rules


__all__ = ["DiagnosisStage", "Rule", "RuleError", "load_rules", "rule_pages"]
