"""C++ name demangling the way GNU addr2line -C does it (`bfd_demangle` with DMGL_PARAMS | DMGL_ANSI).

Backends, best first: the C++ runtime's `__cxa_demangle` through ctypes (libstdc++ on Linux is
libiberty's demangler, byte-identical to addr2line for all but one of the 2174 fixture names; libc++abi on
macOS), then `cpp_demangle` (Rust cpp_demangle, abi3 wheels for Linux, macOS and Windows; its output is
normalised to libiberty's spelling where it differs in style, about 98% identical on the fixtures).
Without either, or when a name does not demangle, the raw (mangled) name is returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_GLOBAL_CDTOR = re.compile(r"_GLOBAL_[._$]([DI])_(.*)\Z", re.S)


def _cxa_demangle_backend() -> Callable[[str], str] | None:
    """`__cxa_demangle` of the C++ runtime already on the system, through ctypes (no subprocess,
    no extra package): libstdc++ is libiberty's demangler, the one GNU addr2line uses."""
    import ctypes
    import sys

    candidates = {"linux": ["libstdc++.so.6"], "darwin": ["libc++abi.dylib", "libc++.1.dylib"]}
    for libname in candidates.get(sys.platform, []):
        try:
            lib = ctypes.CDLL(libname)
            func = lib.__cxa_demangle
            free = ctypes.CDLL(None).free
        except (OSError, AttributeError):
            continue
        func.restype = ctypes.c_void_p
        func.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        free.argtypes = [ctypes.c_void_p]
        free.restype = None

        def demangle_cxa(name: str, func=func, free=free) -> str:
            status = ctypes.c_int(0)
            ptr = func(name.encode("utf-8", "surrogateescape"), None, None, ctypes.byref(status))
            if status.value != 0 or not ptr:
                raise ValueError(f"__cxa_demangle status {status.value}")
            try:
                return ctypes.string_at(ptr).decode("utf-8", "surrogateescape")
            finally:
                free(ptr)

        return demangle_cxa
    return None


def _load_backends() -> list[tuple[str, Callable[[str], str]]]:
    backends: list[tuple[str, Callable[[str], str]]] = []
    cxa = _cxa_demangle_backend()
    if cxa is not None:
        try:
            cxa("_Z1fv")
            backends.append(("libstdc++", cxa))
        except ValueError:
            pass
    try:
        import cpp_demangle

        backends.append(("cpp_demangle", cpp_demangle.demangle))
    except ImportError:
        pass
    return backends


class _Backends(list):
    """The backends, loaded on first use (importing them costs a few milliseconds)."""

    _loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            self.extend(_load_backends())

    def __iter__(self):
        self._load()
        return super().__iter__()

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def __getitem__(self, i):
        self._load()
        return super().__getitem__(i)


BACKENDS: list[tuple[str, Callable[[str], str]]] = _Backends()


def backend_name() -> str | None:
    """The demangler in use, None when names stay mangled."""
    return BACKENDS[0][0] if BACKENDS else None


def _v3(name: str, backends) -> str | None:
    for _label, fn in backends:
        try:
            out = fn(name)
        except Exception:
            continue
        if out and out != name:
            return _fix_style(out)
    return None


_ANON = "(anonymous namespace)"
_LITERAL = re.compile(r"\((unsigned int|unsigned long long|unsigned long|long long|long|int|bool)\)(-?\d+)")
_SUFFIX = {"int": "", "unsigned int": "u", "long": "l", "unsigned long": "ul", "long long": "ll",
           "unsigned long long": "ull"}


def _literal(m: re.Match[str]) -> str:
    if m.group(1) == "bool":
        return {"0": "false", "1": "true"}.get(m.group(2), m.group(0))
    return m.group(2) + _SUFFIX[m.group(1)]


# libiberty expands the std:: abbreviations when they name a constructor or destructor
_CDTOR_EXPANSIONS = {
    "string": ("std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "basic_string"),
    "istream": ("std::basic_istream<char, std::char_traits<char> >", "basic_istream"),
    "ostream": ("std::basic_ostream<char, std::char_traits<char> >", "basic_ostream"),
    "iostream": ("std::basic_iostream<char, std::char_traits<char> >", "basic_iostream"),
}
_CDTOR_RE = re.compile(r"std::(string|istream|ostream|iostream)::(~?)\1\b")


def _cdtor(m: re.Match[str]) -> str:
    full, last = _CDTOR_EXPANSIONS[m.group(1)]
    return f"{full}::{m.group(2)}{last}"


_SPECIAL_RE = re.compile(r"\{(vtable|vtt)\((.*)\)\}\Z", re.S)
_THUNK_RE = re.compile(r"\{virtual override thunk\(\{offset\(-?\d+\)\}, (.*)\)\}\Z", re.S)


def _fix_style(text: str) -> str:
    """Output differences between backends and libiberty, normalised to libiberty's text
    (cpp_demangle prints integer template arguments as `(unsigned int)8`, libiberty as `8u`)."""
    m = _SPECIAL_RE.match(text)
    if m:
        text = ("vtable for " if m.group(1) == "vtable" else "VTT for ") + m.group(2)
    m = _THUNK_RE.match(text)
    if m:
        text = "non-virtual thunk to " + m.group(1)
    text = text.replace("{anonymous}", _ANON).replace("std::nullptr_t", "decltype(nullptr)")
    text = _CDTOR_RE.sub(_cdtor, text)
    return _LITERAL.sub(_literal, text)


@lru_cache(maxsize=65536)
def demangle(name: str, backends: tuple | None = None) -> str:
    """`name` demangled like `bfd_demangle` (leading dots and `@version` kept), else unchanged."""
    if "_Z" not in name and "_GLOBAL_" not in name:
        return name  # cheap exit without loading a backend
    use = BACKENDS if backends is None else list(backends)
    if not use:
        return name
    core = name.lstrip(".$")
    pre = name[: len(name) - len(core)]
    suf = ""
    at = core.find("@")
    if at >= 0:
        core, suf = core[:at], core[at:]
    if core.startswith("_Z"):
        out = _v3(core, use)
    else:
        m = _GLOBAL_CDTOR.match(core)
        if not m:
            return name
        inner = _v3(m.group(2), use) if m.group(2).startswith("_Z") else m.group(2)
        kind = "constructors" if m.group(1) == "I" else "destructors"
        out = f"global {kind} keyed to {inner or m.group(2)}"
    if out is None:
        return name
    return pre + out + suf
