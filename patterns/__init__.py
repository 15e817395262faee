"""espwatch's built-in pattern and rule files (TOML), installed as the package `espwatch._patterns`.

This file only makes the folder a package, so that the data ships inside espwatch and is read through
`importlib.resources` in wheels and editable installs alike. See README.md here for the schema.
"""
