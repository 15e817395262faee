"""Diagnosis across boots and attempts: rules (patterns/rules.toml) over the event stream -> `finding` events.

Public API:

- `DiagnosisStage(patterns, rules=None, elf_sha256=None)`: the pipeline stage (`process`/`finish`).
- `load_rules(path=None) -> list[Rule]`: the rules (RuleError names the file and the rule code).
- `rule_pages(path=None) -> list[Pattern]`: one page per rule code for `espwatch explain` (kind `finding`,
  or `boot_loop` for the derived event kind), with hint, checks and references.
"""

from espwatch.diagnosis.engine import DiagnosisStage
from espwatch.diagnosis.rules import Rule, RuleError, load_rules, rule_pages

__all__ = ["DiagnosisStage", "Rule", "RuleError", "load_rules", "rule_pages"]
