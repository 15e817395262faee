"""Compatibility names: the index is split into `query` (SymbolIndex), `build` and `cache`."""

from __future__ import annotations

from espwatch.symbols.cache import CACHE_KEEP, INDEX_VERSION, default_cache_dir
from espwatch.symbols.query import FL_FUNCTION, FL_NOTYPE, LineHit, Session, SymbolIndex

__all__ = [
    "CACHE_KEEP", "FL_FUNCTION", "FL_NOTYPE", "INDEX_VERSION", "LineHit", "Session", "SymbolIndex",
    "default_cache_dir",
]
