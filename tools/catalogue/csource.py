"""A small C reader for the catalogue: the calls of logging functions in a source file and their arguments.

Not a C parser: it skips comments and string literals, matches parentheses, splits arguments at top-level
commas and joins adjacent string literals (with `PRIx32`-style macros) into one format string. That is all a
log call needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# <inttypes.h> macros as they expand in a format string.
_PRI = re.compile(r"^PRI([diouxX])(?:8|16|32|64|PTR|MAX|FAST\d+|LEAST\d+)$")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_FUNC_DEF = re.compile(  # C functions and C++ methods (`bool UpdateClass::end(bool x) {`)
    r"^[A-Za-z_][\w \t\*&:<>,]*?(?:\b|::)(?P<name>[A-Za-z_~]\w*)\s*\([^;{}]*\)\s*(?:const\s*)?(?:\n\s*)?\{",
    re.MULTILINE)
_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else"}
_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERALS = r'(?P<value>(?:"(?:[^"\\\n]|\\.)*"\s*)+)'
# what may stand between a declared name and its `=`: `[]`, `__attribute__((unused))`
_DECL_TAIL = r"\s*(?:\[\s*\])?\s*(?:__attribute__\s*\(\([^)]*\)\)\s*)?=\s*"


@dataclass
class Call:
    """One call found in a file: the macro or function, its arguments as text, its line and function."""

    name: str
    args: list[str]
    line: int
    function: str | None = None


@dataclass
class Source:
    """A C file with comments blanked (strings kept), so offsets stay those of the original text."""

    text: str
    code: str = ""
    func_starts: list[tuple[int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.code = strip_comments(self.text)
        self.func_starts = [(m.start(), m["name"]) for m in _FUNC_DEF.finditer(self.code)
                            if m["name"] not in _KEYWORDS]

    def line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def function_at(self, offset: int) -> str | None:
        name = None
        for start, fn in self.func_starts:
            if start > offset:
                break
            name = fn
        return name

    def calls(self, names: set[str]) -> list[Call]:
        """Every call `NAME(...)` of one of `names` outside comments."""
        out: list[Call] = []
        rx = re.compile(r"(?<![\w.>])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True))
                        + r")\s*\(")
        code = self.code
        for m in rx.finditer(code):
            if _in_string(code, m.start()):
                continue
            args, end = split_args(code, m.end())
            if end < 0:
                continue
            # `#define NAME(...)` is a definition, not a call.
            line_start = code.rfind("\n", 0, m.start()) + 1
            if code[line_start:m.start()].lstrip().startswith("#define"):
                continue
            out.append(Call(m.group(1), args, self.line_of(m.start()), self.function_at(m.start())))
        return out

    def string_constant(self, name: str) -> str | None:
        """The value of a string constant: `static const char *NAME = "..."`, `NAME[] = "..."`,
        `#define NAME "..."` or `ESP_LOG_ATTR_TAG(NAME, "...")` (adjacent literals joined)."""
        n = re.escape(name)
        rx = re.compile(
            r"(?:\bchar\s*(?:const\s*)?\*?\s*(?:const\s+)?" + n + _DECL_TAIL
            + r"|#define\s+" + n + r"\s+"
            + r"|\bESP_LOG_ATTR_TAG\w*\(\s*" + n + r"\s*,\s*)" + _LITERALS)
        m = rx.search(self.code)
        if not m:
            return None
        return "".join(unquote(lit) for lit in _LITERAL.findall(m["value"]))


def strip_comments(text: str) -> str:
    """Blank out comments (keeping line breaks and offsets); strings and char literals stay."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = _skip_literal(text, i)
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _skip_literal(text: str, i: int) -> int:
    quote = text[i]
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == quote or text[j] == "\n":
            return j + 1
        j += 1
    return j


def _in_string(code: str, pos: int) -> bool:
    line_start = code.rfind("\n", 0, pos) + 1
    i = line_start
    while i < pos:
        if code[i] in "\"'":
            j = _skip_literal(code, i)
            if j > pos:
                return True
            i = j
            continue
        i += 1
    return False


def split_args(code: str, start: int) -> tuple[list[str], int]:
    """The arguments of a call whose `(` ends just before `start`; (-1) when unbalanced."""
    depth = 0
    args: list[str] = []
    cur = start
    i = start
    n = len(code)
    while i < n:
        c = code[i]
        if c in "\"'":
            i = _skip_literal(code, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append(code[cur:i].strip())
                return ([] if args == [""] else args), i + 1
            depth -= 1
        elif c == "," and depth == 0:
            args.append(code[cur:i].strip())
            cur = i + 1
        i += 1
    return [], -1


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0", "a": "\a",
            "e": "\x1b"}


def unquote(literal: str) -> str:
    """The text of one C string literal (with its quotes)."""
    body = literal[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "x":
                m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
                if m:
                    out.append(chr(int(m.group(), 16)))
                    i += 2 + len(m.group())
                    continue
            if nxt in "01234567":
                m = re.match(r"[0-7]{1,3}", body[i + 1:])
                assert m is not None
                out.append(chr(int(m.group(), 8)))
                i += 1 + len(m.group())
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def join_format(expr: str, constants: dict[str, str] | None = None) -> str | None:
    """A format argument as one string: adjacent literals joined, PRIx32 & co. expanded.

    Identifiers naming string constants of the file (`constants`) are substituted; `DRAM_STR("...")` and
    `LOG_COLOR_*` wrappers are looked through. None when the argument is not a literal format.
    """
    constants = constants or {}
    s = expr.strip()
    s = re.sub(r"\b(?:DRAM_STR|_T|TEXT|F|PSTR|FPSTR)\s*\(\s*(\"(?:[^\"\\]|\\.)*\")\s*\)", r"\1", s)
    parts: list[str] = []
    i = 0
    saw_literal = False
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c == '"':
            j = _skip_literal(s, i)
            parts.append(unquote(s[i:j]))
            saw_literal = True
            i = j
            continue
        m = _IDENT.match(s, i)
        if m:
            name = m.group()
            pri = _PRI.match(name)
            if pri:
                parts.append("ll" + pri.group(1) if name.endswith("64") else pri.group(1))
            elif name.startswith(("LOG_COLOR", "LOG_RESET_COLOR", "ARDUHAL_LOG_COLOR")):
                pass
            elif name in constants:
                parts.append(constants[name])
            else:
                return None
            i = m.end()
            continue
        return None
    return "".join(parts) if saw_literal else None
