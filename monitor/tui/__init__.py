"""The Textual screen of `espwatch --port` and `espwatch replay` (the only package importing Textual)."""
