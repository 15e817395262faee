"""`espwatch config`: the settings in force for each verb and where each value comes from."""

from __future__ import annotations

import argparse

from espwatch.commands.parsing import add_verb


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "config",
        "Print every setting of the verbs that read settings files, its value, and where it comes from: "
        "espwatch.toml in this folder or a parent (project), the user config file, or the default. "
        "Flags on the command line win over both files.",
        ["espwatch config", "espwatch config monitor"])
    p.add_argument("verbs", nargs="*", metavar="VERB", help="only these verbs (default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.commands import CONFIGURABLE
    from espwatch.commands.parsing import build_parser, sub_parser
    from espwatch.config import describe, load_config
    from espwatch.errors import UsageError

    verbs = args.verbs or list(CONFIGURABLE)
    unknown = [v for v in verbs if v not in CONFIGURABLE]
    if unknown:
        raise UsageError(f"no settings for {', '.join(unknown)} "
                         f"(verbs with settings: {', '.join(CONFIGURABLE)})")
    parsers = {v: sub_parser(build_parser(v), v) for v in verbs}
    for line in describe(verbs, parsers, load_config()):
        print(line)
    return 0
