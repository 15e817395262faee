"""`LazyRegex`: a regex (of the `regex` module) compiled on its first use.

Loading the patterns, rules and line formats costs no compile time for the regexes a log never needs, and
the `regex` module itself is imported only when the first of them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from espwatch.errors import PatternError

if TYPE_CHECKING:
    import regex


class LazyRegex:
    """A regex compiled on its first use, so that loading the patterns costs no compile time for the ones
    a log never triggers. After the first use its methods are the compiled pattern's own (no overhead)."""

    def __init__(self, src: str, flags: int, where: str, error: type[PatternError] = PatternError) -> None:
        self.pattern = src
        self.flags = flags
        self.where = where
        self.error = error
        """Raised (naming `where`) when the regex does not compile: PatternError, RuleError for rules."""

    def compile(self) -> regex.Pattern[str]:
        import regex

        try:
            compiled = regex.compile(self.pattern, self.flags | regex.VERSION0)
        except regex.error as exc:
            raise self.error(f"{self.where}: bad regex: {exc}") from None
        for name in ("search", "match", "fullmatch", "finditer", "findall", "sub", "split"):
            setattr(self, name, getattr(compiled, name))
        return compiled

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("pattern", "flags", "where", "error"):
            raise AttributeError(name)  # not a regex method (e.g. pickle looking for __setstate__)
        return getattr(self.compile(), name)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its source (for worker processes), compiled there on first use too."""
        return (LazyRegex, (self.pattern, self.flags, self.where, self.error))
