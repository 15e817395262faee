"""`espwatch completion bash|zsh|fish`: the scripts complete verbs, options and values in the real shells.

Each shell is run for real (bash with COMP_WORDS set as readline sets it, fish with `complete -C`, zsh
interactively in a pseudo-terminal, pressing Tab); a shell that is not installed is skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from espwatch.commands import VERBS
from espwatch.commands.parsing import build_parser, sub_parser
from espwatch.completion import command_tree, script

ESPWATCH = Path(sys.executable).with_name("espwatch.exe" if os.name == "nt" else "espwatch")

CASES: list[tuple[list[str], set[str]]] = [
    (["espwatch", "sc"], {"scan"}),
    (["espwatch", "co"], {"coredump", "config", "completion"}),
    (["espwatch", "scan", "--min-severity", "e"], {"error"}),
    (["espwatch", "scan", "--el"], {"--elf"}),
    (["espwatch", "scan", "--elf", "a"], {"app.elf"}),
    (["espwatch", "image", ""], {"check", "diff", "partitions", "otadata", "app.elf", "boot.log", "pats"}),
    (["espwatch", "image", "app.bin", "--sl"], {"--slot"}),  # `image APP.bin` is `image check APP.bin`
    (["espwatch", "image", "diff", "--m"], {"--max-runs", "--merge-gap"}),
    (["espwatch", "explain", "EW91"], {"EW910", "EW911", "EW912"}),
    (["espwatch", "explain", "checksum_"], {"checksum_failed"}),
    (["espwatch", "--port", "/dev/ttyUSB0", "--ba"], {"--baud"}),  # the monitor without its verb
    (["espwatch", "-p", "/dev/ttyUSB0", "--port", "/dev/ttyACM0", "--ba"], {"--baud"}),  # several ports
    (["espwatch", "scan", "--patterns", "p"], {"pats"}),
    (["espwatch", "completion", ""], {"bash", "zsh", "fish"}),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("completion")
    (d / "app.elf").write_bytes(b"")
    (d / "boot.log").write_bytes(b"")
    (d / "pats").mkdir()
    return d


@pytest.fixture(scope="module")
def scripts(folder: Path) -> dict[str, Path]:
    out = {}
    for shell in ("bash", "zsh", "fish"):
        res = subprocess.run([str(ESPWATCH), "completion", shell], capture_output=True, timeout=60)
        assert res.returncode == 0, res.stderr
        out[shell] = folder / f"espwatch.{shell}"
        out[shell].write_bytes(res.stdout)
    return out


def _clean(words: list[str]) -> set[str]:
    return {w.split("\t")[0].rstrip("/") for w in words if w.strip()}


def _expected(words: list[str], want: set[str]) -> set[str]:
    if words[1] == "explain" and words[2].startswith("EW"):  # every code with that prefix, no more
        from espwatch.diagnosis import load_rules, rule_pages
        from espwatch.patterns import load_patterns

        return {p.code for p in [*load_patterns().patterns, *rule_pages(load_rules())]
                if p.code.startswith(words[2])}
    return want


def test_the_tree_has_every_verb_and_option() -> None:
    root = command_tree()
    assert [c.name for c in root.subcommands] == list(VERBS)
    bash = script("bash")
    for verb in VERBS:
        parser = sub_parser(build_parser(verb), verb)
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in bash, (verb, flag)
    image = next(c for c in root.subcommands if c.name == "image")
    assert image.implied is not None and image.implied.name == "check"


@pytest.mark.skipif(os.name == "nt" or not shutil.which("bash"), reason="needs bash (POSIX)")
def test_bash(scripts: dict[str, Path], folder: Path) -> None:
    harness = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); '
               '_espwatch; printf "%s\\n" "${COMPREPLY[@]}"')
    for words, want in CASES:
        out = subprocess.run(["bash", "-c", harness, "bash", str(scripts["bash"]), *words], cwd=folder,
                             capture_output=True, text=True, encoding="utf-8", timeout=30)
        assert out.returncode == 0 and not out.stderr, out.stderr
        got = _clean(out.stdout.splitlines())
        if words[-1] == "":
            assert _expected(words, want) <= got, words
        else:
            assert got == _expected(words, want), words


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed")
def test_fish(scripts: dict[str, Path], folder: Path) -> None:
    for words, want in CASES:
        line = " ".join(words)
        out = subprocess.run(["fish", "--no-config", "-c", f"source {scripts['fish']}; complete -C '{line}'"],
                             cwd=folder, capture_output=True, text=True, encoding="utf-8", timeout=30)
        assert out.returncode == 0 and not out.stderr, out.stderr
        got = _clean(out.stdout.splitlines())
        if words[-1] == "":
            assert _expected(words, want) <= got, words
        else:
            assert got == _expected(words, want), words


ZSH_SETUP = r"""
autoload -Uz compinit && compinit -u -D
source {script}
compadd () {{
    if [[ ${{@[1,(i)(-|--)]}} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
    typeset -a __hits
    builtin compadd -A __hits "$@"
    local ret=$?
    (( $#__hits )) && print -rl -- "${{__hits[@]}}" >> {hits}
    builtin compadd "$@"
    return ret
}}
zstyle ':completion:*' menu no
PS1='ready> '
"""


@pytest.mark.skipif(os.name == "nt" or not shutil.which("zsh"), reason="needs zsh and a POSIX pty")
def test_zsh(scripts: dict[str, Path], folder: Path) -> None:
    """An interactive zsh in a pty: each line typed, Tab pressed, the candidates zsh added are read."""
    from ptyrun import PtyRun

    hits = folder / "zsh-hits.txt"
    run = PtyRun(["zsh", "-f", "-i"], cwd=folder,
                 env={"PATH": f"{ESPWATCH.parent}{os.pathsep}{os.environ['PATH']}"})
    try:
        for line in ZSH_SETUP.format(script=scripts["zsh"], hits=hits).strip().splitlines():
            run.send(line.encode() + b"\n")
        assert run.wait_for(b"ready> ", 30)
        for words, want in CASES:
            hits.write_text("", encoding="utf-8")
            run.send(" ".join(words).encode() + b"\t")
            end = time.monotonic() + 20
            while time.monotonic() < end and not hits.read_text(encoding="utf-8"):
                time.sleep(0.05)
            time.sleep(0.3)  # every compadd of this Tab
            run.send(b"\x15")  # Ctrl+U: clear the line
            got = _clean(hits.read_text(encoding="utf-8").splitlines())
            if words[-1] == "":
                assert _expected(words, want) <= got, words
            else:
                assert got == _expected(words, want), words
        run.send(b"exit\n")
    finally:
        run.finish(30)
