"""`python -m fuzz.atheris_main TARGET [libFuzzer args]`: one target under atheris (run by fuzz/run.py).

espwatch is imported inside `atheris.instrument_imports()`, so libFuzzer sees its coverage.
"""

from __future__ import annotations

import sys

import atheris


def main() -> None:
    name = sys.argv[1]
    with atheris.instrument_imports(include=["espwatch", "fuzz"]):
        from fuzz.targets import all_targets

        target = all_targets()[name]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
