"""Fast start: what each verb imports (checked with `sys.modules` in a child process, never timed here;
the figures are bench/bench_startup.py's), and the caches that spare the start its work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMALL_LOG = ROOT / "samples" / "brownout-loop.log"
DEMO = ROOT / "tests" / "data" / "fixtures" / "rv32-inline-demo"

_CHILD = """
import sys
from espwatch.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + " ".join(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""

HEAVY = ("textual", "rich", "elftools", "concurrent.futures", "multiprocessing", "hyperscan", "typing")
"""Never needed to print help, a small scan's summary, an explanation or warm decoded addresses."""


def _modules(args: list[str], env: dict[str, str]) -> tuple[int, set[str], str]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True,
                          env=env, cwd=env["HOME"], timeout=120)
    line = proc.stderr.rstrip().rsplit("\n", 1)[-1]
    assert line.startswith("MODULES "), proc.stderr
    return proc.returncode, set(line.split()[1:]), proc.stdout


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".") for m in modules))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    out = dict(os.environ, ESPWATCH_CACHE_DIR=str(tmp_path / "cache"), HOME=str(home),
               ESPWATCH_CONFIG=str(tmp_path / "no-config.toml"), ESPWATCH_PREFILTER="ahocorasick-rs")
    out.pop("COLUMNS", None)
    return out


def test_help_imports_no_verb_and_nothing_heavy(env: dict[str, str]) -> None:
    code, mods, out = _modules(["--help"], env)
    assert code == 0 and "scan" in out
    assert _loaded(mods, (*HEAVY, "regex", "tomllib", "json", "shutil", "espwatch.patterns")) == []
    verbs = [m for m in mods if m.startswith("espwatch.commands.") and m != "espwatch.commands.parsing"]
    assert not verbs  # the verbs are listed, not imported


def test_small_scan_imports_only_what_it_uses(env: dict[str, str]) -> None:
    _modules(["scan", "--no-elf", str(SMALL_LOG)], env)  # the first run fills the caches
    code, mods, out = _modules(["scan", "--no-elf", str(SMALL_LOG)], env)
    assert code == 1 and "brownout" in out.lower()  # it found the errors of the log
    assert _loaded(mods, (*HEAVY[:-1], "tomllib", "hashlib", "shutil", "tempfile")) == []
    assert "regex" in mods  # the patterns that matched were compiled
    assert "espwatch.datacache" in mods and "pickle" in mods  # the built-in data came from the cache


def test_explain_reads_pages_without_regex_or_the_engine(env: dict[str, str]) -> None:
    _modules(["explain", "0x1503"], env)
    code, mods, out = _modules(["explain", "0x1503"], env)
    assert code == 0 and "ESP_ERR_OTA_VALIDATE_FAILED" in out
    assert _loaded(mods, (*HEAVY[:-1], "regex", "tomllib", "espwatch.diagnosis.engine",
                          "espwatch.diagnosis.checks", "espwatch.detector")) == []


def test_config_imports_no_pattern_data(env: dict[str, str]) -> None:
    code, mods, _ = _modules(["config"], env)
    assert code == 0
    assert _loaded(mods, (*HEAVY, "regex", "espwatch.patterns", "espwatch.diagnosis")) == []


def test_warm_decode_reads_the_index_without_pyelftools(env: dict[str, str]) -> None:
    addrs = (DEMO / "addrs.txt").read_text().split()[:5]
    args = ["decode", "--elf", str(DEMO / "demo.elf"), *addrs]
    _, _, cold = _modules(args, env)
    code, mods, warm = _modules(args, env)
    assert code == 0 and warm == cold and warm.count("\n") >= 5
    assert _loaded(mods, (*HEAVY, "regex", "espwatch.patterns", "espwatch.diagnosis", "argparse")) == []
    from espwatch.symbols import digest

    if digest._settled(digest.identity(str(DEMO / "demo.elf"))):  # its digest was remembered
        assert "hashlib" not in mods


QUICK_LINES = [
    ["--elf", "app.elf", "0x400d1234"],
    ["--no-cache", "--elf=b/app.elf", "0x40080000", "400d1234:0x3ffb0000", "--no-color"],
    ["--no-color", "0x400d1234", "0x400d1235", "0x400d1236", "--no-cache", "--elf", "app.elf"],
    ["0x400d1234", "0X400D1235", "--elf", "x.elf", "--elf", "y.elf"],  # the last --elf wins, as in argparse
]
NOT_QUICK = [[], ["--elf"], ["--elf", "--no-cache", "0x1"], ["log.txt"], ["-"], ["--help"], ["-h"],
             ["--bootloader-elf", "b.elf", "0x400d1234"], ["0x400d1234", "--"], ["--no-cach", "0x1"],
             ["0x400d1234", "--elf"], ["--elf=", "0x1"],
             ["0x400d1234", "--no-cache", "0x400d1235"]]  # argparse refuses addresses after an option


@pytest.mark.parametrize("line", QUICK_LINES)
def test_decode_quick_args_equal_argparse(line: list[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`decode` of addresses reads its command line without argparse: the same namespace as argparse's."""
    from espwatch.commands import decode
    from espwatch.commands.parsing import build_parser

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ESPWATCH_CONFIG", str(tmp_path / "none.toml"))
    quick = decode.quick_args(line)
    assert quick is not None
    assert vars(quick) == vars(build_parser("decode").parse_args(["decode", *line]))


@pytest.mark.parametrize("line", NOT_QUICK)
def test_decode_other_lines_go_to_argparse(line: list[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from espwatch.commands import decode

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ESPWATCH_CONFIG", str(tmp_path / "none.toml"))
    assert decode.quick_args(line) is None


def test_decode_quick_args_leave_config_files_to_argparse(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An espwatch.toml that sets decode's options is applied by argparse (the quick path steps aside)."""
    from espwatch import cli
    from espwatch.commands import decode

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ESPWATCH_CONFIG", str(tmp_path / "none.toml"))
    assert decode.quick_args(["0x400d1234"]) is not None
    (tmp_path / "espwatch.toml").write_text('[decode]\nelf = "missing.elf"\n')
    assert decode.quick_args(["0x400d1234"]) is None
    args, _ = cli._parse(["decode", "0x400d1234"], "decode")
    assert args.elf == str(tmp_path / "missing.elf")


def test_hyperscan_database_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled database is saved, loaded again for exactly the same literals, and a damaged file is
    compiled again (hyperscan checks the file)."""
    pytest.importorskip("hyperscan")
    from espwatch import prefilter

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path))
    lits = ["Guru Meditation", "rst:0x", "abc", "bc", *[f"literal {i}" for i in range(40)]]
    buf = b"x Guru Meditation abc rst:0x1 literal 39 bc\n" * 20
    monkeypatch.setattr(prefilter, "_hs_databases", {})
    expected = prefilter.Prefilter(lits, engine="hyperscan").find(buf)
    files = list((tmp_path / "prefilter").iterdir())
    assert len(files) == 1 and expected
    monkeypatch.setattr(prefilter, "_hs_databases", {})
    key = tuple(lit.encode() for lit in lits)
    assert prefilter._hs_cached(key) is not None
    assert prefilter.Prefilter(lits, engine="hyperscan").find(buf) == expected
    assert prefilter._hs_cached(key[:-1]) is None  # another table never takes this file
    data = bytearray(files[0].read_bytes())
    data[len(prefilter._hs_header(key)) + 200] ^= 0xFF  # inside the database, after the literal table
    files[0].write_bytes(bytes(data))
    assert prefilter._hs_cached(key) is None
    monkeypatch.setattr(prefilter, "_hs_databases", {})
    assert prefilter.Prefilter(lits, engine="hyperscan").find(buf) == expected


def test_builtin_data_cache_is_used_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in patterns and rules come back from the cache equal to a fresh parse; a cache file that
    is damaged or writable by others is parsed again, never loaded."""
    from espwatch import datacache
    from espwatch.diagnosis import load_rules
    from espwatch.patterns import load_patterns

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path))

    def summary(pats, rules) -> list:
        return ([(p.code, p.kind, p.severity, p.literals, p.rx.pattern if p.rx else None, p.family)
                 for p in pats.patterns] + [(r.code, r.when, r.summary, r.source) for r in rules])

    fresh = summary(load_patterns(), load_rules())
    first = summary(*datacache.load_data())  # parses and saves
    files = list((tmp_path / "data").iterdir())
    assert len(files) == 1 and first == fresh
    key, _ = datacache._key_and_name()
    assert datacache._load(files[0], key) is not None
    assert summary(*datacache.load_data()) == fresh  # from the file
    assert datacache._load(files[0], [*key[:-1], ["other.toml", 1, 2]]) is None  # an edited data file
    if os.name == "posix":
        files[0].chmod(0o666)
        assert datacache._load(files[0], key) is None
        files[0].chmod(0o600)
    files[0].write_bytes(files[0].read_bytes()[:1000])
    assert datacache._load(files[0], key) is None
    assert summary(*datacache.load_data()) == fresh


def test_every_builtin_rule_regex_compiles() -> None:
    """The built-in rules' regexes compile on first use; all of them must compile."""
    from espwatch.diagnosis import load_rules
    from espwatch.lazyregex import LazyRegex

    rxs = []
    for rule in load_rules():
        for sel in (*rule.select, *rule.first, *rule.then):
            rxs += list(sel.match.values())
        for lk in rule.lookups:
            rxs += [rx for rx, _ in lk.table]
    assert len(rxs) > 10 and all(isinstance(r, LazyRegex) for r in rxs)
    for r in rxs:
        r.compile()


def test_user_rule_with_bad_regex_fails_at_load(tmp_path: Path) -> None:
    from espwatch.diagnosis import load_rules
    from espwatch.errors import RuleError

    (tmp_path / "mine.toml").write_text(
        '[[rule]]\ncode = "EW990"\ntitle = "t"\nseverity = "warning"\nwhen = "repeat"\nhint = "h"\n'
        'summary = "s"\nreferences = ["https://example.com/"]\nselect = { kind = "panic", match = { reason = "(unclosed" } }\n')
    with pytest.raises(RuleError, match=r"mine\.toml.*EW990.*bad regex"):
        load_rules([tmp_path])


def test_aho_corasick_nfa_then_dfa_find_the_same(monkeypatch: pytest.MonkeyPatch, corpus_dir: Path) -> None:
    """A small input is scanned with the NFA (quick to build); past DFA_AFTER bytes the DFA takes over, and
    both report the same hits in the same order."""
    from espwatch import prefilter
    from espwatch.patterns import load_patterns

    lits = sorted({lit for p in load_patterns().matchers for lit in p.literals})
    logs = sorted(corpus_dir.glob("*.log")) + sorted((ROOT / "samples").glob("*.log"))
    assert len(logs) > 10
    monkeypatch.setattr(prefilter, "DFA_AFTER", 0)  # the DFA from the second buffer on
    for log in logs:
        data = log.read_bytes()
        small = prefilter.Prefilter(lits, engine="ahocorasick-rs")
        first = small.find(data)  # NFA
        assert small.find(data) == first  # DFA
        assert small._find.__name__ == "<lambda>"
    monkeypatch.setattr(prefilter, "DFA_AFTER", 1 << 30)
    pf = prefilter.Prefilter(lits, engine="ahocorasick-rs")
    pf.find(b"x" * 1000)
    assert pf._find.__name__ == "find_nfa"


def test_elf_digest_is_remembered_by_the_files_identity(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The ELF's SHA-256 (the index cache key) comes from the memo while the file is the same one; a
    rewritten file (same size, even with its old modification time) is hashed again, and a file changed
    in the last seconds is never remembered."""
    import hashlib
    import time

    from espwatch.symbols import digest

    elf = tmp_path / "app.elf"
    elf.write_bytes((DEMO / "demo.elf").read_bytes())
    old = 1_600_000_000
    os.utime(elf, (old, old))
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))

    def sha_now() -> str:
        before = digest.identity(str(elf))
        return digest.sha256_of(str(elf), elf.read_bytes(), before)

    real = hashlib.sha256(elf.read_bytes()).hexdigest()
    assert sha_now() == real and not (tmp_path / "cache" / "digests").exists()  # changed just now
    monkeypatch.setattr(digest, "SETTLED_NS", -(1 << 62))  # as if it were old enough
    assert sha_now() == real
    memo = next((tmp_path / "cache" / "digests").iterdir())
    memo.write_text(memo.read_text()[:-64] + "f" * 64)  # a planted digest is what a memo hit returns
    assert sha_now() == "f" * 64
    time.sleep(0.05)  # past the file system's clock tick: the change time moves
    data = bytearray(elf.read_bytes())
    data[100] ^= 1
    elf.write_bytes(bytes(data))  # same size, and the old modification time again
    os.utime(elf, (old, old))
    assert sha_now() == hashlib.sha256(bytes(data)).hexdigest()
    assert digest.sha256_of(str(elf), bytes(data), None) == hashlib.sha256(bytes(data)).hexdigest()


def test_builtin_data_from_many_threads_at_once() -> None:
    """Threads loading at once each get a whole, separate copy (the parts of one read are handed out once)."""
    import threading

    from espwatch import datacache

    out: list = []
    errors: list = []

    def load() -> None:
        try:
            out.append(datacache.load_data())
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(out) == 8
    codes = {tuple(p.code for p in pats.patterns) + tuple(r.code for r in rules) for pats, rules in out}
    assert len(codes) == 1
    assert len({id(pats.patterns[0]) for pats, _ in out}) == 8  # no two threads share objects
