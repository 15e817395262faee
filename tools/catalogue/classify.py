"""Apply patterns/catalogue/classify.toml to catalogue messages: what each message is.

A rule matches on the message's `source`, `component`, `level`, `tag` and `format` (regexes, all given keys
must match; `format` is searched, the others must match whole). The first matching rule decides:

- an event: `kind` (events.md), `code` (the pattern that must recognise it), optional `fields` (names the
  event must carry) and `values` (field -> 1-based index of the format's conversion whose rendered value the
  field must hold);
- not an event: `event = false` and a `reason`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MATCH_KEYS = ("source", "component", "level", "tag", "format")
_RULE_KEYS = {*_MATCH_KEYS, "kind", "code", "fields", "values", "event", "reason", "note"}


@dataclass
class Rule:
    index: int
    match: dict[str, re.Pattern[str]]
    result: dict[str, Any]
    used: int = 0

    def accepts(self, msg: dict[str, Any]) -> bool:
        for key, rx in self.match.items():
            value = msg.get(key) or ""
            if key == "format":
                if not rx.search(value):
                    return False
            elif not rx.fullmatch(value):
                return False
        return True


@dataclass
class Classifier:
    rules: list[Rule] = field(default_factory=list)

    def classify(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        for rule in self.rules:
            if rule.accepts(msg):
                rule.used += 1
                return {**rule.result, "rule": rule.index}
        return None


def load_classifier(path: Path) -> Classifier:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = []
    for i, raw in enumerate(data.get("rule", [])):
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise ValueError(f"{path}: rule {i}: unknown keys {sorted(unknown)}")
        match = {k: re.compile(raw[k]) for k in _MATCH_KEYS if k in raw}
        if raw.get("event", True):
            if "kind" not in raw or "code" not in raw:
                raise ValueError(f"{path}: rule {i}: an event rule needs `kind` and `code`")
            result: dict[str, Any] = {"event": True, "kind": raw["kind"], "code": raw["code"]}
            if raw.get("fields"):
                result["fields"] = list(raw["fields"])
            if raw.get("values"):
                result["values"] = dict(raw["values"])
        else:
            if not raw.get("reason"):
                raise ValueError(f"{path}: rule {i}: `event = false` needs a `reason`")
            result = {"event": False, "reason": raw["reason"]}
        rules.append(Rule(i, match, result))
    return Classifier(rules)
