"""`SymbolIndex`: the lookups of `query` plus building (`build`) and the on-disk cache (`cache`).

The public face of the decoder's index: `SymbolIndex.load` / `load_async` (complete, for the monitor),
`open` + `store` (one-shot decoding that reads only the units it needs), `build`, `to_bytes` / `from_bytes`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from espwatch.symbols import build, cache
from espwatch.symbols.cache import CACHE_KEEP, INDEX_VERSION, default_cache_dir
from espwatch.symbols.query import FL_FUNCTION, FL_NOTYPE, IndexQuery, LineHit, Session

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (decode starts fast)
if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "CACHE_KEEP", "FL_FUNCTION", "FL_NOTYPE", "INDEX_VERSION", "LineHit", "Session", "SymbolIndex",
    "default_cache_dir",
]


class SymbolIndex(IndexQuery):
    """Address -> function / file / line (with inline chain) for one ELF file, built or from the cache."""

    @classmethod
    def build(cls, path: str | os.PathLike[str], sha256: str | None = None) -> SymbolIndex:
        """Read the ELF and build the whole index (no cache involved)."""
        return build.build_index(path, sha256, cls=cls)

    def to_bytes(self) -> bytes:
        """The cache file bytes of this index (see `espwatch.symbols.cache`)."""
        return cache.to_bytes(self)

    @classmethod
    def from_bytes(cls, blob: bytes, sha256: str) -> SymbolIndex:
        """An index from cache file bytes; raises ValueError when stale, foreign or corrupt."""
        return cache.from_bytes(blob, sha256, cls)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> SymbolIndex:
        """The complete index for the ELF at `path`: from the cache when valid, else built and cached."""
        return cache.load(path, cache_dir, use_cache, cls)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> SymbolIndex:
        """For a few lookups: the cached index when valid, else one that parses only the compilation
        units its lookups need (from the units' own address ranges). `store()` keeps them in the cache."""
        return cache.open_index(path, cache_dir, use_cache, cls)

    def store(self) -> bool:
        """Save what lookups parsed since `open` to the cache (no-op when nothing new)."""
        return cache.store(self)

    @classmethod
    def load_async(
        cls, path: str | os.PathLike[str], on_ready: Callable[[Future[SymbolIndex]], None] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> Future[SymbolIndex]:
        """Load (or build) in a daemon thread; `on_ready(future)` runs in that thread when done."""
        return cache.load_async(path, on_ready, cache_dir, cls)
