"""One module per CLI verb: argument parsing and printing only; the work is in the library."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (decode starts fast)
if TYPE_CHECKING:  # imported when used: `decode` needs no patterns and should start fast
    from espwatch.patterns import PatternSet


def add_patterns_option(p: argparse.ArgumentParser) -> None:
    """`--patterns DIR`, shared by every verb that reads logs."""
    p.add_argument("--patterns", action="append", default=[], metavar="DIR",
                   help="also load the pattern files (*.toml) in DIR; may be repeated")


def patterns_from(args: argparse.Namespace) -> PatternSet:
    """The built-in patterns plus `--patterns` folders; a malformed file is a one-line usage error."""
    from espwatch.cli import CliError
    from espwatch.patterns import PatternError, load_patterns

    try:
        return load_patterns(args.patterns)
    except PatternError as exc:
        raise CliError(str(exc)) from None
