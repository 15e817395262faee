"""Diagnosis rules: loading and validating `[[rule]]` tables (patterns/rules.toml) and matching events.

A rule says which events it looks at (`select`), how it decides (`when`), and what it tells the user
(`title`, `severity`, `summary`, `hint`, `checks`, `references`). Kinds of `when`:

- `repeat`: the selected events, grouped (`group_by` a field, `scope` per boot or for the whole log), fire
  when a group has `min_count`..`max_count` occurrences in at least `min_boots` boots, with the fields in
  `varying` taking two values or more, those in `constant` one value, and each pair in `differ` two
  different constant values. With `min_count = 1` it is a rule on single events.
- `sequence`: an event of `first` followed by one of `then` in the same boot (`within_boots = 0`) or up to
  N boots later; with `absent = true` it fires when no `then` event came before the boot ended.
- `check`: code in `espwatch.diagnosis.checks` (named by `check`), for what data cannot say (sizes from a
  partition table, crash signatures, boot loops, the ELF hash); its parameters go in `params`.

`lookup` tables map a field's value to a text by regex (e.g. a task name to the Kconfig option of its stack
size); `summary` and `checks` may use `{field}` placeholders filled from the evidence.
A malformed rule raises RuleError naming the file and the rule's code.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from espwatch.errors import RuleError
from espwatch.events import SEVERITIES, Event
from espwatch.patterns import LazyRegex, Pattern, builtin_dir, expand_pieces, read_toml

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import regex

RULES_FILE = "rules.toml"
WHENS = ("repeat", "sequence", "check")


@dataclass(slots=True)
class Selector:
    """Which events a rule looks at: kinds, optional codes, and field regexes that must all match."""

    kinds: tuple[str, ...]
    codes: tuple[str, ...] = ()
    match: dict[str, regex.Pattern[str]] = field(default_factory=dict)

    def accepts(self, ev: Event) -> bool:
        if ev.kind not in self.kinds:
            return False
        if self.codes and ev.code not in self.codes:
            return False
        for name, rx in self.match.items():
            if name == "text":
                value: Any = ev.text
            elif name == "code":
                value = ev.code
            else:
                value = ev.fields.get(name)
            if value is None:
                return False
            values = value if isinstance(value, list) else [value]
            if not any(rx.search(str(v)) for v in values):
                return False
        return True


@dataclass(slots=True)
class Lookup:
    """Map the value of `field` to a text by the first regex that matches; the result is field `set`."""

    field: str
    set: str
    table: list[tuple[regex.Pattern[str], str]]
    default: str | None = None

    def resolve(self, value: Any) -> str | None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v is None:
                continue
            for rx, text in self.table:
                if rx.search(str(v)):
                    return text
        return self.default


@dataclass(slots=True)
class Rule:
    """One diagnosis rule (see the module docstring for the schema)."""

    code: str
    title: str
    severity: str
    when: str
    hint: str
    summary: str
    checks: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    select: list[Selector] = field(default_factory=list)
    first: list[Selector] = field(default_factory=list)
    then: list[Selector] = field(default_factory=list)
    group_by: str | None = None
    scope: str = "log"
    min_count: int = 1
    max_count: int | None = None
    min_boots: int = 1
    varying: list[str] = field(default_factory=list)
    constant: list[str] = field(default_factory=list)
    differ: list[tuple[str, str]] = field(default_factory=list)
    within_boots: int = 0
    absent: bool = False
    check: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    lookups: list[Lookup] = field(default_factory=list)
    source: str = ""

    def selects(self, ev: Event) -> bool:
        return any(s.accepts(ev) for s in self.select)


_COMMON = {"code", "title", "severity", "when", "hint", "summary", "checks", "references", "lookup"}
_BY_WHEN = {
    "repeat": {"select", "group_by", "scope", "min_count", "max_count", "min_boots", "varying", "constant",
               "differ"},
    "sequence": {"first", "then", "within_boots", "absent"},
    "check": {"check", "params", "select"},
}


def _fail(where: str, msg: str) -> RuleError:
    return RuleError(f"{where}: {msg}")


def _rx(src: Any, where: str, lazy: bool = False) -> regex.Pattern[str]:
    """A rule's regex (with its `%{pieces}`), compiled now unless `lazy` (the built-in rules, whose regexes
    the tests compile): either way it is pickled as its source and compiled on first use after that."""
    if not isinstance(src, str) or not src:
        raise _fail(where, "expected a non-empty regex string")
    src = expand_pieces(src, where, RuleError)
    rx = LazyRegex(src, 0, where, RuleError)
    if not lazy:
        rx.compile()
    return rx  # type: ignore[return-value]


def _strs(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, "expected a list of non-empty strings")
    return list(value)


def _int(raw: dict, key: str, where: str, default: int | None, minimum: int) -> int | None:
    if key not in raw:
        return default
    v = raw[key]
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise _fail(where, f"`{key}` must be an integer >= {minimum}")
    return v


def _selectors(raw: Any, where: str, lazy: bool = False) -> list[Selector]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "expected a selector table or a non-empty array of them ({ kind = ... })")
    out = []
    for i, s in enumerate(raw):
        sw = f"{where}[{i}]"
        if not isinstance(s, dict):
            raise _fail(sw, "a selector must be a table")
        unknown = set(s) - {"kind", "code", "match"}
        if unknown:
            raise _fail(sw, f"unknown selector keys {sorted(unknown)}")
        if "kind" not in s:
            raise _fail(sw, "a selector needs `kind`")
        kinds = tuple(_strs(s["kind"], f"{sw}.kind"))
        codes = tuple(_strs(s["code"], f"{sw}.code")) if "code" in s else ()
        match = s.get("match", {})
        if not isinstance(match, dict):
            raise _fail(sw, "`match` must be a table of field = regex")
        out.append(Selector(kinds, codes, {k: _rx(v, f"{sw}.match.{k}", lazy) for k, v in match.items()}))
    return out


def _lookups(raw: Any, where: str, lazy: bool = False) -> list[Lookup]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise _fail(where, "`lookup` must be an array of tables ([[rule.lookup]])")
    out = []
    for i, lk in enumerate(raw):
        lw = f"{where}[{i}]"
        if not isinstance(lk, dict) or not {"field", "set", "table"} <= set(lk):
            raise _fail(lw, "a lookup needs `field`, `set` and `table`")
        unknown = set(lk) - {"field", "set", "table", "default"}
        if unknown:
            raise _fail(lw, f"unknown lookup keys {sorted(unknown)}")
        table = lk["table"]
        pairs_ok = isinstance(table, list) and all(
            isinstance(row, list) and len(row) == 2 and all(isinstance(c, str) for c in row) for row in table)
        if not pairs_ok:
            raise _fail(lw, "`table` must be a list of [regex, text] pairs")
        default = lk.get("default")
        if default is not None and not isinstance(default, str):
            raise _fail(lw, "`default` must be a string")
        out.append(Lookup(str(lk["field"]), str(lk["set"]),
                          [(_rx(r, f"{lw}.table[{j}]", lazy), t) for j, (r, t) in enumerate(table)], default))
    return out


def _template(text: str, where: str) -> str:
    try:
        list(string.Formatter().parse(text))
    except ValueError as exc:
        raise _fail(where, f"bad placeholder: {exc}") from None
    return text


def parse_rule(raw: Any, where: str, known_checks: set[str] | None = None, lazy: bool = False) -> Rule:
    """One `[[rule]]` table; RuleError naming `where` and the code on any problem."""
    if not isinstance(raw, dict):
        raise _fail(where, "expected a table")
    code = raw.get("code")
    if not isinstance(code, str) or not (len(code) == 5 and code.startswith("EW9") and code[3:].isdecimal()):
        raise _fail(where, f"`code` must look like EW9xx (got {code!r})")
    where = f"{where} ({code})"
    for key in ("title", "severity", "when", "hint", "summary"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _fail(where, f"missing `{key}`")
    when = raw["when"]
    if when not in WHENS:
        raise _fail(where, f"`when` must be one of {', '.join(WHENS)}")
    unknown = set(raw) - _COMMON - _BY_WHEN[when]
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)} for when = {when!r}")
    if raw["severity"] not in SEVERITIES:
        raise _fail(where, f"severity must be one of {', '.join(SEVERITIES)}")
    rule = Rule(code=code, title=raw["title"].strip(), severity=raw["severity"], when=when,
                hint=raw["hint"].strip(), summary=_template(raw["summary"].strip(), f"{where}.summary"))
    rule.checks = [_template(c, f"{where}.checks") for c in _strs(raw.get("checks", []), f"{where}.checks")] \
        if raw.get("checks") else []
    rule.references = _strs(raw["references"], f"{where}.references") if raw.get("references") else []
    if not rule.references:
        raise _fail(where, "a rule needs at least one reference (a public URL)")
    for ref in rule.references:
        if not ref.startswith("https://"):
            raise _fail(where, f"reference {ref!r} is not an https URL")
    rule.lookups = _lookups(raw.get("lookup", []), f"{where}.lookup", lazy)
    if when == "repeat":
        if "select" not in raw:
            raise _fail(where, "a repeat rule needs `select`")
        rule.select = _selectors(raw["select"], f"{where}.select", lazy)
        gb = raw.get("group_by")
        if gb is not None and (not isinstance(gb, str) or not gb):
            raise _fail(where, "`group_by` must be a field name")
        rule.group_by = gb
        scope = raw.get("scope", "log")
        if scope not in ("log", "boot"):
            raise _fail(where, "`scope` must be log or boot")
        rule.scope = scope
        rule.min_count = _int(raw, "min_count", where, 1, 1) or 1
        rule.max_count = _int(raw, "max_count", where, None, 1)
        rule.min_boots = _int(raw, "min_boots", where, 1, 1) or 1
        if rule.max_count is not None and rule.max_count < rule.min_count:
            raise _fail(where, "`max_count` is below `min_count`")
        rule.varying = _strs(raw["varying"], f"{where}.varying") if "varying" in raw else []
        rule.constant = _strs(raw["constant"], f"{where}.constant") if "constant" in raw else []
        for i, pair in enumerate(raw.get("differ", [])):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                raise _fail(where, f"differ[{i}] must be a pair of field names")
            missing = [p for p in pair if p not in rule.constant]
            if missing:
                raise _fail(where, f"differ[{i}]: {missing} must also be listed in `constant`")
            rule.differ.append((pair[0], pair[1]))
        if (rule.varying or rule.constant) and rule.min_count < 2:
            raise _fail(where, "`varying`/`constant` need min_count >= 2 to mean anything")
    elif when == "sequence":
        for key in ("first", "then"):
            if key not in raw:
                raise _fail(where, f"a sequence rule needs `{key}`")
        rule.first = _selectors(raw["first"], f"{where}.first", lazy)
        rule.then = _selectors(raw["then"], f"{where}.then", lazy)
        rule.within_boots = _int(raw, "within_boots", where, 0, 0) or 0
        rule.absent = bool(raw.get("absent", False))
        if rule.absent and rule.within_boots:
            raise _fail(where, "`absent` only works within the same boot (within_boots = 0)")
    else:
        check = raw.get("check")
        if not isinstance(check, str) or not check:
            raise _fail(where, "a check rule needs `check` (the name of a function in checks.py)")
        if known_checks is not None and check not in known_checks:
            raise _fail(where, f"unknown check {check!r} (known: {', '.join(sorted(known_checks))})")
        rule.check = check
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise _fail(where, "`params` must be a table")
        rule.params = dict(params)
        rule.select = _selectors(raw["select"], f"{where}.select", lazy) if "select" in raw else []
    return rule


def default_rules_path() -> Traversable:
    return builtin_dir() / RULES_FILE


def parse_rules(data: dict[str, Any], source: str, known_checks: Collection[str],
                lazy: bool = False) -> list[Rule]:
    """The `[[rule]]` tables of one parsed file (RuleError naming the file and the rule code; with `lazy`,
    a bad regex only when it is first used: for the built-in rules, which the tests check)."""
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise RuleError(f"{source}: `rule` must be an array of tables ([[rule]])")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(entries):
        rule = parse_rule(raw, f"{source}: rule[{i}]", set(known_checks), lazy)
        if rule.code in seen:
            raise RuleError(f"{source}: rule[{i}] ({rule.code}): code already used by "
                            f"rule[{seen[rule.code]}]")
        seen[rule.code] = i
        rule.source = source
        rules.append(rule)
    return rules


def load_rule_files(files: Sequence[Path | Traversable], known_checks: Collection[str],
                    builtin: int = 0) -> list[Rule]:
    """The rules of several files, in order; a code defined twice is a RuleError naming both files. The
    first `builtin` files are the built-in ones: their regexes are compiled on first use."""
    rules: list[Rule] = []
    where: dict[str, str] = {}
    for n, f in enumerate(files):
        for rule in parse_rules(read_toml(f, RuleError), str(f), known_checks, lazy=n < builtin):
            if rule.code in where:
                raise RuleError(f"{rule.source}: rule {rule.code} is already defined in {where[rule.code]}")
            where[rule.code] = rule.source
            rules.append(rule)
    return rules


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def render(template: str, values: dict[str, Any]) -> str:
    """Fill `{name}` placeholders; lists are joined with ', ', unknown names show as <name>."""
    flat = _Blank()
    for k, v in values.items():
        if isinstance(v, list | tuple | set):
            flat[k] = ", ".join(str(x) for x in v)
        elif v is not None:
            flat[k] = str(v)
    try:
        return string.Formatter().vformat(template, (), flat)
    except (IndexError, ValueError, AttributeError, KeyError):
        return template


def rule_pages(rules: Sequence[Rule]) -> list[Pattern]:
    """Each rule as a page for `espwatch explain` (kind `finding`; placeholders shown as <name>).

    Also includes the page of the derived `boot_loop` event kind when a rule produces it.
    """
    pages: list[Pattern] = []
    for r in rules:
        hint = r.hint
        if r.summary:
            hint = f"{hint}\n\nThe finding reads like: {render(r.summary, {})}"
        for lk in r.lookups:
            rows = "; ".join(f"/{rx.pattern}/: {text}" for rx, text in lk.table)
            tail = f"; otherwise {render(lk.default, {})}" if lk.default else ""
            hint = f"{hint}\n\n<{lk.set}> depends on {lk.field}: {rows}{tail}."
        kind = str(r.params.get("event_kind", "finding")) if r.when == "check" else "finding"
        pages.append(Pattern(code=r.code, kind=kind, severity=r.severity, title=r.title, literals=[], rx=None,
                             hint=hint, checks=[render(c, {}) for c in r.checks],
                             references=list(r.references),
                             family="diagnosis", source=r.source))
    return pages
