"""`espwatch decode` without the rest of the command line (helper of bench_decode.py).

Usage: python decode_verb.py --elf ELF ADDR... — the decode verb registered alone, so that its own start-up
cost can be told apart from the CLI's (which imports every verb's module to build its parser).
"""

from __future__ import annotations

import argparse
import sys

from espwatch.commands import decode

parser = argparse.ArgumentParser(prog="decode_verb")
sub = parser.add_subparsers(dest="verb")
decode.register(sub)
args = parser.parse_args(["decode", *sys.argv[1:]])
sys.exit(args.func(args))
