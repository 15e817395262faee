"""`espwatch completion SHELL`: a completion script for bash, zsh or fish, made from the parsers."""

from __future__ import annotations

import argparse
import sys

from espwatch.commands.parsing import add_verb
from espwatch.completion import SHELLS


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "completion",
        "Print the shell completion script of espwatch for bash, zsh or fish: verbs, subcommands, options, "
        "option values (choices, files, folders), the codes and kinds `explain` knows. Load it from the "
        "shell's start-up file, or save it where the shell looks for completions (examples below); "
        "print it again after an update.",
        ['eval "$(espwatch completion bash)"            # in ~/.bashrc',
         "espwatch completion bash > ~/.local/share/bash-completion/completions/espwatch",
         'espwatch completion zsh > "${fpath[1]}/_espwatch"  # or: eval "$(espwatch completion zsh)" '
         "after compinit in ~/.zshrc",
         "espwatch completion fish > ~/.config/fish/completions/espwatch.fish"])
    p.add_argument("shell", choices=SHELLS, help="the shell: " + ", ".join(SHELLS))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.completion import script

    sys.stdout.write(script(args.shell))
    sys.stdout.flush()
    return 0
