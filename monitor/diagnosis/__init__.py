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

from espwatch.diagnosis.checks import CHECKS
from espwatch.diagnosis.engine import DiagnosisStage
from espwatch.diagnosis.rules import Rule, load_rule_files, rule_pages
from espwatch.errors import RuleError
from espwatch.patterns import pattern_files, read_toml


def load_rules(extra_dirs: Sequence[os.PathLike[str] | str] = ()) -> list[Rule]:
    """The built-in rules, then the `[[rule]]` tables of the `*.toml` files in `extra_dirs`."""
    from espwatch.datacache import builtin_rules

    rules = builtin_rules()  # parsed once, then from the cache folder
    files: list = []
    for d in extra_dirs:
        for f in pattern_files(Path(d)):
            if "rule" in read_toml(f, RuleError):
                files.append(f)
    if not files:
        return rules
    where = {r.code: r.source for r in rules}
    for rule in load_rule_files(files, CHECKS):
        if rule.code in where:
            raise RuleError(f"{rule.source}: rule {rule.code} is already defined in {where[rule.code]}")
        rules.append(rule)
    return rules


__all__ = ["DiagnosisStage", "Rule", "RuleError", "load_rules", "rule_pages"]
