"""C++ name demangling the way GNU addr2line -C does it (`bfd_demangle` with DMGL_PARAMS | DMGL_ANSI).

Backends, best first, the same answers on every OS:
- Linux: the C++ runtime's `__cxa_demangle` through ctypes (libstdc++ is libiberty's demangler, what
  addr2line uses; no package, ~2 ms to load). A name it refuses, or reads as a fixed-point type (libstdc++
  older than GCC 13 takes `DF16b`, std::bfloat16_t, for one), goes to the next backend.
- Everywhere: the pure-Python `demangle` package (MIT) in its GNU style, set to binutils 2.40's spelling
  (std:: abbreviations kept short, `> >` in the spelled-out constructor scopes, names with C++20
  requires-clauses left mangled, as c++filt 2.40 leaves them). On macOS and Windows it is the only one
  (libc++abi spells names the LLVM way).
Without either, or when a name does not demangle, the raw (mangled) name is returned.

Answers are remembered across runs in the cache folder (`MEMO_FILE`), so that a warm decode of C++ code
loads no backend (ctypes and libstdc++ cost about 3 ms of its start).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_GLOBAL_CDTOR = re.compile(r"_GLOBAL_[._$]([DI])_(.*)\Z", re.S)
MEMO_FILE = "demangled-v1.txt"
"""Lines `name TAB answer` in the cache folder, appended by each run that demangled new names."""
MEMO_MAX_BYTES = 4 << 20
"""A memo file past this size is started again (it only saves time)."""
_FIXED_POINT = ("_Accum", "_Fract", "_Sat ")


def _cxa_demangle_backend() -> Callable[[str], str] | None:
    """`__cxa_demangle` of libstdc++ already on the system, through ctypes (Linux only)."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        lib = ctypes.CDLL("libstdc++.so.6")
        func = lib.__cxa_demangle
        free = ctypes.CDLL(None).free
    except (OSError, AttributeError):
        return None
    func.restype = ctypes.c_void_p
    func.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    free.argtypes = [ctypes.c_void_p]
    free.restype = None

    def demangle_cxa(name: str) -> str:
        status = ctypes.c_int(0)
        ptr = func(name.encode("utf-8", "surrogateescape"), None, None, ctypes.byref(status))
        if status.value != 0 or not ptr:
            raise ValueError(f"__cxa_demangle status {status.value}")
        try:
            out = ctypes.string_at(ptr).decode("utf-8", "surrogateescape")
        finally:
            free(ptr)
        if any(word in out for word in _FIXED_POINT):
            raise ValueError("read as a fixed-point type (an older libstdc++)")
        return out

    return demangle_cxa


# libiberty spells the std:: abbreviations out when they scope a constructor or destructor, with `> >`
_CDTOR_SCOPES = {
    "std::basic_string<char, std::char_traits<char>, std::allocator<char>>":
        "std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
    "std::basic_istream<char, std::char_traits<char>>": "std::basic_istream<char, std::char_traits<char> >",
    "std::basic_ostream<char, std::char_traits<char>>": "std::basic_ostream<char, std::char_traits<char> >",
    "std::basic_iostream<char, std::char_traits<char>>": "std::basic_iostream<char, std::char_traits<char> >",
}


def _pure_backend(check: bool = True) -> Callable[[str], str] | None:
    """The `demangle` package in GNU c++filt 2.40's spelling (imported on first use: ~20 ms); with `check`,
    None when it is not installed (without, a missing package fails the first call: a fallback's way)."""
    if check:
        import importlib.util

        if importlib.util.find_spec("demangle") is None:
            return None
    loaded: list = []

    def demangle_pure(name: str) -> str:
        if not loaded:
            import demangle as package

            loaded.extend((package, package.style("gnu", itanium={"expand_std_abbreviations": False})))
        package, style = loaded
        out = package.demangle(name, style=style)
        if not out or out == name:
            raise ValueError("not demangled")
        if " requires " in out or out.endswith(" requires"):
            raise ValueError("C++20 requires-clause: c++filt 2.40 leaves such names mangled")
        for long, spelled in _CDTOR_SCOPES.items():
            if long in out:
                out = out.replace(long, spelled)
        return out

    return demangle_pure


def _load_backends() -> list[tuple[str, Callable[[str], str]]]:
    backends: list[tuple[str, Callable[[str], str]]] = []
    cxa = _cxa_demangle_backend()
    if cxa is not None:
        try:
            cxa("_Z1fv")
            backends.append(("libstdc++", cxa))
        except ValueError:
            pass
    pure = _pure_backend(check=not backends)  # behind libstdc++ only a fallback: looked for when first used
    if pure is not None:
        backends.append(("demangle", pure))
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
            return out
    return None


class _Memo:
    """Names demangled by earlier runs (`MEMO_FILE`), read when the first mangled name comes, and the new
    ones, appended to the file when the process ends. A pure speed-up: an unreadable or damaged file is
    ignored line by line, and one that cannot be written is left alone."""

    def __init__(self) -> None:
        self.known: dict[str, str] | None = None
        self.new: dict[str, str] = {}

    @staticmethod
    def _path():  # type: ignore[no-untyped-def]
        from espwatch.cachedir import cache_root

        return cache_root() / MEMO_FILE

    def get(self, name: str) -> str | None:
        if self.known is None:
            self.known = {}
            try:
                with open(self._path(), encoding="utf-8", errors="surrogateescape") as fh:
                    for line in fh:
                        key, tab, value = line.rstrip("\n").partition("\t")
                        if tab and key and value:
                            self.known[key] = value
            except OSError:
                pass
        return self.known.get(name)

    def add(self, name: str, answer: str) -> None:
        if "\t" in name or "\n" in name or "\t" in answer or "\n" in answer:
            return
        if not self.new:
            import atexit

            atexit.register(self.save)
        self.new[name] = answer

    def save(self) -> None:
        if not self.new:
            return
        try:
            from espwatch.cachedir import private_dir

            path = self._path()
            private_dir(path.parent)
            fresh = not path.is_file() or path.stat().st_size > MEMO_MAX_BYTES
            with open(path, "w" if fresh else "a", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write("".join(f"{k}\t{v}\n" for k, v in self.new.items()))
        except OSError:
            pass
        self.new = {}


MEMO = _Memo()


@lru_cache(maxsize=65536)
def demangle(name: str, backends: tuple | None = None) -> str:
    """`name` demangled like `bfd_demangle` (leading dots and `@version` kept), else unchanged."""
    if "_Z" not in name and "_GLOBAL_" not in name:
        return name  # cheap exit without loading a backend
    if backends is None:
        known = MEMO.get(name)
        if known is not None:
            return known
    use = BACKENDS if backends is None else list(backends)
    if not use:
        return name
    answer = _demangle(name, use)
    if backends is None:
        MEMO.add(name, answer)
    return answer


def _demangle(name: str, use) -> str:  # type: ignore[no-untyped-def]
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
