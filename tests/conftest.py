"""Shared test fixtures: test data owned by the repo (tests/data) and the large ELF fixtures in ../shared.

- `corpus_dir`: the 53 labelled real logs, vendored in tests/data/corpus (sources in its README).
- `data_dir` / `small_fixture(name)`: small fixtures vendored in tests/data/fixtures (the inline-demo ELFs
  and the partition tables, with their sources).
- `fixtures_dir`: ../shared/fixtures, for the 3-4 MB ELFs, core dumps and app images. Tests that use it
  carry the `shared` marker (added automatically) and skip, saying why, when ../shared is not beside the
  checkout; `pytest -m "not shared"` runs everything that needs nothing outside the repo.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Caches (symbol indexes, parsed pattern files) go to a folder of this test session, never the user's.
os.environ.setdefault("ESPWATCH_CACHE_DIR", tempfile.mkdtemp(prefix="espwatch-test-cache-"))

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CORPUS = DATA / "corpus"
SMALL_FIXTURES = DATA / "fixtures"
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"


def small_fixture(name: str) -> Path:
    """A fixture folder vendored in tests/data/fixtures."""
    return SMALL_FIXTURES / name


def fixture_folder(name: str) -> Path:
    """A fixture folder: the vendored copy when there is one, else ../shared/fixtures/NAME."""
    small = SMALL_FIXTURES / name
    return small if small.is_dir() else FIXTURES / name


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared: needs the large fixtures in ../shared/fixtures")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "fixtures_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return SMALL_FIXTURES


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"large fixtures not found at {FIXTURES} (check out ../shared beside the repo)")
    return FIXTURES
