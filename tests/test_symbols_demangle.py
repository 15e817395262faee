"""C++ demangling as GNU addr2line -C prints it (libiberty, DMGL_PARAMS | DMGL_ANSI, not verbose)."""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path

import pytest

from espwatch.symbols import SymbolIndex

dm = importlib.import_module("espwatch.symbols.demangle")

# (mangled, libiberty's text) — every expected text appears in the fixtures' addr2line output or
# was checked with GNU c++filt -i 2.40.
CASES = [
    ("_ZN13espwatch_demo3dsp13MovingAverageIiLj8EE4pushEi", "espwatch_demo::dsp::MovingAverage<int, 8u>::push(int)"),
    ("_ZN13espwatch_demo3dsp5scaleEl", "espwatch_demo::dsp::scale(long)"),
    ("_ZNSs4_Rep9_S_createEjjRKSaIcE",
     "std::string::_Rep::_S_create(unsigned int, unsigned int, std::allocator<char> const&)"),
    ("_ZNSsD1Ev", "std::basic_string<char, std::char_traits<char>, std::allocator<char> >::~basic_string()"),
    ("_ZTVN10__cxxabiv117__class_type_infoE", "vtable for __cxxabiv1::__class_type_info"),
    ("_ZN12_GLOBAL__N_11fEv", "(anonymous namespace)::f()"),
    ("_ZN19CompressedEnumTableIbLj1ELj256EE3getEj", "CompressedEnumTable<bool, 1u, 256u>::get(unsigned int)"),
    ("_GLOBAL__sub_I__ZN9__gnu_cxx9__freeresEv", "_GLOBAL__sub_I__ZN9__gnu_cxx9__freeresEv"),
    ("app_main", "app_main"),
    ("_Znot_mangled", "_Znot_mangled"),
]


@pytest.mark.parametrize("backend", [b[0] for b in dm.BACKENDS] or ["none"])
@pytest.mark.parametrize(("mangled", "expected"), CASES)
def test_backend(backend: str, mangled: str, expected: str) -> None:
    if backend == "none":
        assert dm.demangle(mangled, ()) == mangled
        return
    chosen = tuple(b for b in dm.BACKENDS if b[0] == backend)
    assert dm.demangle(mangled, chosen) == expected


def test_version_suffix_and_dots_kept() -> None:
    if not dm.BACKENDS:
        pytest.skip("no demangler installed")
    assert dm.demangle("_ZN13espwatch_demo3dsp5scaleEl@@V1") == "espwatch_demo::dsp::scale(long)@@V1"
    assert dm.demangle("._ZN13espwatch_demo3dsp5scaleEl") == ".espwatch_demo::dsp::scale(long)"


def test_against_gnu_cplusplus_filt_on_fixture_symbols(fixtures_dir: Path) -> None:
    """Every mangled symbol of the fixture ELF files against GNU c++filt -i (what addr2line -C prints)."""
    if shutil.which("c++filt") is None:
        pytest.skip("GNU c++filt is not installed")
    if not dm.BACKENDS:
        pytest.skip("no demangler installed")
    names: set[str] = set()
    for elf in sorted(fixtures_dir.glob("*/*.elf")):
        names |= {s for s in SymbolIndex.build(elf).strings if s.startswith("_Z")}
    ordered = sorted(names)
    ref = subprocess.run(["c++filt", "-i"], input="\n".join(ordered), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    bad = [(n, r, dm.demangle(n)) for n, r in zip(ordered, ref, strict=True) if dm.demangle(n) != r]
    print(f"demangler {dm.backend_name()}: {len(ordered) - len(bad)}/{len(ordered)} identical to c++filt -i")
    limit = 2 if dm.backend_name() == "libstdc++" else len(ordered) // 40
    assert len(bad) <= limit, bad[:5]
