"""The event contract shipped inside espwatch as the package `espwatch._docs` (see pyproject.toml):
`events.md` (kinds, JSON keys, fields of `scan --json`) and `events.schema.json`. This file only makes
the folder a package; `espwatch.contract` reads the files, `espwatch explain --contract` prints them.
"""
