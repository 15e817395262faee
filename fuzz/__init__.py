"""Fuzzing harness for espwatch's parsers (see fuzz/README.md)."""
