"""Shell completion scripts (bash, zsh, fish) generated from the command line's own argparse parsers.

`command_tree()` reads every verb's parser into `Command` / `Option` records (the options, which of them
take a value and of what sort, the subcommands, what the positional arguments are); `script(shell)`
writes the completion script from it. Nothing is listed by hand, so a new option completes as soon as
its verb declares it. Values: `choices` complete to the choices, files and folders (by metavar: FILE, LOG,
APP.elf, *.bin, TABLE, DIR) to paths, `explain`'s CODE to every pattern and rule code and event kind,
`config`'s VERB to the verbs; other values (numbers, names) are left to the user.
"""

from __future__ import annotations

import argparse
import importlib
import re
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")

_FILE_METAVARS = re.compile(r"FILE|LOG|ELF|TABLE|PATH|\.(elf|bin|csv|log|b64)$", re.I)


@dataclass
class Option:
    flags: list[str]
    help: str
    value: str | None = None
    """None: a flag; "file", "dir", "choice", "word" (anything else) for an option that takes a value."""
    choices: list[str] = field(default_factory=list)
    repeat: bool = False

    @property
    def long(self) -> list[str]:
        return [f for f in self.flags if f.startswith("--")]

    @property
    def short(self) -> list[str]:
        return [f for f in self.flags if not f.startswith("--")]


@dataclass
class Command:
    name: str
    help: str
    options: list[Option] = field(default_factory=list)
    positional: str | None = None
    """What the positional arguments complete to: "file", "choice", or None."""
    positional_choices: list[str] = field(default_factory=list)
    positional_many: bool = False
    subcommands: list[Command] = field(default_factory=list)
    implied: Command | None = None
    """The subcommand meant when none is given (`espwatch image APP.bin` is `image check APP.bin`)."""

    def all_options(self) -> list[Option]:
        """Its options, and those of its implied subcommand (which may come first)."""
        out = list(self.options)
        seen = {f for o in out for f in o.flags}
        for o in self.implied.options if self.implied is not None else []:
            if not seen & set(o.flags):
                out.append(o)
        return out


def _help(text: str | None) -> str:
    if not text or text == argparse.SUPPRESS:
        return ""
    text = " ".join(re.sub(r"%\(\w+\)s", "", text).split())
    first = re.split(r"(?<=[^.])[.;] | \(|, e\.g\.", text, maxsplit=1)[0].strip()
    return first if len(first) <= 80 else first[:77].rstrip() + "..."


def _value_kind(action: argparse.Action) -> tuple[str, list[str]]:
    if action.choices:
        return "choice", [str(c) for c in action.choices]
    metavar = str(action.metavar or action.dest or "")
    if "DIR" in metavar.upper():
        return "dir", []
    if _FILE_METAVARS.search(metavar) or action.dest in ("port",):
        return "file", []
    return "word", []


def _command(name: str, help_text: str, parser: argparse.ArgumentParser,
             positional_choices: dict[str, list[str]]) -> Command:
    cmd = Command(name, _help(help_text))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for sub_name, sub in action.choices.items():
                cmd.subcommands.append(_command(sub_name, helps.get(sub_name) or "", sub, positional_choices))
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            takes = action.nargs != 0
            kind, choices = _value_kind(action) if takes else (None, [])
            cmd.options.append(Option(list(action.option_strings), _help(action.help), kind, choices,
                                      repeat=isinstance(action, argparse._AppendAction) or
                                      getattr(action, "repeatable", False)))
            continue
        many = action.nargs in ("*", "+") or (isinstance(action.nargs, int) and action.nargs > 1)
        cmd.positional_many = cmd.positional_many or many or cmd.positional is not None
        if action.dest in positional_choices:
            cmd.positional, cmd.positional_choices = "choice", positional_choices[action.dest]
        elif action.choices:
            cmd.positional, cmd.positional_choices = "choice", [str(c) for c in action.choices]
        elif cmd.positional is None:
            cmd.positional = "file"
    return cmd


def _explain_words() -> list[str]:
    """Every pattern and rule code and every event kind (what `explain CODE` takes besides esp_err_t)."""
    from espwatch.diagnosis import load_rules, rule_pages
    from espwatch.patterns import load_patterns

    pages = [*load_patterns().patterns, *rule_pages(load_rules())]
    return sorted({p.code for p in pages}) + sorted({p.kind for p in pages})


def command_tree() -> Command:
    """`espwatch` with every verb (each verb's own parser, as `espwatch VERB --help` builds it)."""
    from espwatch.commands import VERBS
    from espwatch.commands.parsing import build_parser, sub_parser

    top = build_parser(None)
    root = Command("espwatch", _help(top.description))
    for action in top._actions:
        if action.option_strings:
            root.options.append(Option(list(action.option_strings), _help(action.help)))
    special = {"code": _explain_words(), "verbs": list(VERBS)}
    for verb, help_text in VERBS.items():
        parser = sub_parser(build_parser(verb), verb)
        cmd = _command(verb, help_text, parser, special)
        normalize = getattr(importlib.import_module(f"espwatch.commands.{verb}"), "normalize", None)
        if cmd.subcommands and normalize is not None:
            # the verb's own rule for a missing subcommand, asked with a file name
            implied = normalize([verb, "x.bin"])[1]
            cmd.implied = next((c for c in cmd.subcommands if c.name == implied), None)
        root.subcommands.append(cmd)
    monitor = next(c for c in root.subcommands if c.name == "monitor")
    known = {f for o in root.options for f in o.flags}
    # `espwatch --port PORT` is the monitor: its options complete without the verb too
    root.options += [o for o in monitor.options if not set(o.flags) & known]
    return root


# -- bash ---------------------------------------------------------------------------------------------
def _sh_words(words: list[str]) -> str:
    return " ".join(words).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")


def _paths(root: Command) -> list[tuple[str, Command]]:
    out = [("", root)]
    for sub in root.subcommands:
        out += [(f"{sub.name}" if not p else f"{sub.name} {p}", c) for p, c in _paths(sub)]
    return out


def bash(root: Command, version: str) -> str:
    takes, values, options, subs, implied, positional = [], [], [], [], [], []
    for path, cmd in _paths(root):
        opts = [f for o in cmd.all_options() for f in o.flags]
        options.append(f'        "{path}") echo "{_sh_words(opts)}" ;;')
        for o in cmd.options:
            if o.value is None:
                continue
            pats = "|".join(f'"{path}|{f}"' for f in o.flags)
            takes.append(pats)
            if o.value == "choice":
                values.append(f'        {pats}) _espwatch_words "{_sh_words(o.choices)}" ;;')
            elif o.value in ("file", "dir"):
                values.append(f"        {pats}) _espwatch_{o.value}s ;;")
        for sub in cmd.subcommands:
            subs.append(f'        "{path}|{sub.name}") echo "{(path + " " + sub.name).strip()}" ;;')
        if cmd.implied is not None:
            implied.append(f'        "{path}") echo "{(path + " " + cmd.implied.name).strip()}" ;;')
        words = [s.name for s in cmd.subcommands]
        target = cmd.implied or cmd
        action = ""
        if target.positional == "choice":
            words += target.positional_choices
        elif target.positional == "file":
            action = " _espwatch_files;"
        if words or action:
            call = f' _espwatch_words "{_sh_words(words)}";' if words else ""
            positional.append(f'        "{path}"){call}{action} ;;')
    nl = "\n"
    return f"""# bash completion for espwatch {version} (generated by `espwatch completion bash`)
# Install: echo 'eval "$(espwatch completion bash)"' >> ~/.bashrc
#      or: espwatch completion bash > ~/.local/share/bash-completion/completions/espwatch

_espwatch_words() {{ local IFS=$' \\t\\n'; COMPREPLY+=($(compgen -W "$1" -- "$cur")); }}
_espwatch_files() {{
    compopt -o filenames 2>/dev/null; local IFS=$'\\n'; COMPREPLY+=($(compgen -f -- "$cur"))
}}
_espwatch_dirs() {{
    compopt -o filenames 2>/dev/null; local IFS=$'\\n'; COMPREPLY+=($(compgen -d -- "$cur"))
}}

_espwatch_options() {{
    case "$1" in
{nl.join(options)}
    esac
}}

_espwatch_subcommand() {{
    case "$1|$2" in
{nl.join(subs)}
    esac
}}

_espwatch_implied() {{
    case "$1" in
{nl.join(implied)}
    esac
}}

_espwatch_takes_value() {{
    case "$1|$2" in
        {"|".join(takes) or '"-|-"'}) return 0 ;;
    esac
    return 1
}}

_espwatch() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="" path="" i w next skip=""
    COMPREPLY=()
    [ "$COMP_CWORD" -gt 0 ] && prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    if [ "$cur" = "=" ]; then cur=""; fi
    if [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then prev="${{COMP_WORDS[COMP_CWORD-2]}}"; fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        if [ -n "$skip" ]; then skip=""; continue; fi
        if [ "$w" = "=" ]; then skip=1; continue; fi
        next="$(_espwatch_subcommand "$path" "$w")"
        if [ -n "$next" ]; then path="$next"; continue; fi
        next="$(_espwatch_implied "$path")"
        [ -n "$next" ] && path="$next"
        case "$w" in
            -*=*) ;;
            -*) _espwatch_takes_value "$path" "$w" && skip=1 ;;
        esac
    done
    if [[ "$prev" == -* ]] && _espwatch_takes_value "$path" "$prev"; then
        case "$path|$prev" in
{nl.join(values)}
        esac
        return 0
    fi
    if [[ "$cur" == -* ]]; then
        _espwatch_words "$(_espwatch_options "$path")"
        return 0
    fi
    case "$path" in
{nl.join(positional)}
    esac
    return 0
}}

complete -F _espwatch espwatch
"""


# -- zsh ----------------------------------------------------------------------------------------------
def _zq(text: str) -> str:
    """Text inside a single-quoted _arguments spec: quotes, brackets and colons escaped."""
    return (text.replace("\\", "\\\\").replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]")
            .replace(":", "\\:"))


def _zsh_value(o: Option) -> str:
    meta = o.value or ""
    if o.value == "choice":
        return f":{meta}:({' '.join(_zq(c) for c in o.choices)})"
    if o.value == "file":
        return ":file:_files"
    if o.value == "dir":
        return ":folder:_files -/"
    return ":value: "


def _zsh_option(o: Option) -> list[str]:
    value = _zsh_value(o) if o.value else ""
    star = "*" if o.repeat else ""
    helptext = _zq(o.help)
    if len(o.flags) == 1:
        return [f"'{star}{o.flags[0]}[{helptext}]{value}'"]
    flags = ",".join(o.flags)
    if o.repeat:  # zsh: `*` before the option; no exclusion list (it may come again, under either name)
        return [f"'*'{{{flags}}}'[{helptext}]{value}'"]
    group = " ".join(o.flags)
    return [f"'({group})'{{{flags}}}'[{helptext}]{value}'"]


def _zsh_function(name: str, cmd: Command, out: list[str]) -> None:
    """The function `name` completing `cmd` (and, before it, one function per subcommand)."""
    specs = [s for o in cmd.all_options() for s in _zsh_option(o)]
    if not cmd.subcommands:
        if cmd.positional == "choice":
            star = "*" if cmd.positional_many else ""
            specs.append(f"'{star}:value:({' '.join(_zq(c) for c in cmd.positional_choices)})'")
        elif cmd.positional == "file":
            specs.append("'*:file:_files'" if cmd.positional_many else "':file:_files'")
        lines = "".join(f" \\\n        {s}" for s in specs)
        out.append(f"{name}() {{\n    _arguments -s -S{lines}\n}}\n")
        return
    cases = []
    for sub in cmd.subcommands:
        fn = f"{name}_{sub.name}".replace("-", "_")
        _zsh_function(fn, sub, out)
        cases.append(f"            {sub.name}) {fn} ;;")
    if cmd.implied is not None:  # a file first: the implied subcommand (its function skips words[1])
        cases.append(f"            *) {name}_{cmd.implied.name.replace('-', '_')} ;;")
    subs = " ".join(f"'{_zq(s.name)}:{_zq(s.help)}'" for s in cmd.subcommands)
    files = " _files;" if cmd.implied is not None and cmd.implied.positional == "file" else ""
    spec_lines = "".join(f"        {s} \\\n" for s in specs)
    nl = "\n"
    out.append(f"""{name}() {{
    local curcontext="$curcontext" state line ret=1
    local -a subcommands
    subcommands=({subs})
    _arguments -C \\
{spec_lines}        '1: :->subcommand' \\
        '*:: :->args' && ret=0
    case $state in
        subcommand) _describe -t commands subcommand subcommands && ret=0;{files} ;;
        args)
            case $words[1] in
{nl.join(cases)}
            esac ;;
    esac
    return ret
}}
""")


def zsh(root: Command, version: str) -> str:
    out: list[str] = []
    _zsh_function("_espwatch", root, out)
    body = "\n".join(out)
    return f"""#compdef espwatch
# zsh completion for espwatch {version} (generated by `espwatch completion zsh`)
# Install: espwatch completion zsh > "${{fpath[1]}}/_espwatch"   (then start a new shell)
#      or: echo 'eval "$(espwatch completion zsh)"' >> ~/.zshrc   (after compinit)

{body}
if [ "$funcstack[1]" = "_espwatch" ]; then
    _espwatch "$@"
else
    compdef _espwatch espwatch
fi
"""


# -- fish ---------------------------------------------------------------------------------------------
def _fq(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish(root: Command, version: str) -> str:
    verbs = [c.name for c in root.subcommands]
    lines = [
        f"# fish completion for espwatch {version} (generated by `espwatch completion fish`)",
        "# Install: espwatch completion fish > ~/.config/fish/completions/espwatch.fish",
        "",
        "complete -c espwatch -f",
    ]
    no_verb = f"not __fish_seen_subcommand_from {' '.join(verbs)}"

    def option_lines(cond: str, cmd: Command) -> None:
        for o in cmd.options:
            parts = [f"complete -c espwatch -n {_fq(cond)}"]
            parts += [f"-l {f[2:]}" for f in o.long] + [f"-s {f[1:]}" for f in o.short if len(f) == 2]
            if o.value == "choice":
                parts.append(f"-x -a {_fq(' '.join(o.choices))}")
            elif o.value == "file":
                parts.append("-r -F")
            elif o.value == "dir":
                parts.append("-x -a '(__fish_complete_directories)'")
            elif o.value == "word":
                parts.append("-x")
            if o.help:
                parts.append(f"-d {_fq(o.help)}")
            lines.append(" ".join(parts))

    def positional_lines(cond: str, cmd: Command) -> None:
        if cmd.positional == "file":
            lines.append(f"complete -c espwatch -n {_fq(cond)} -F")
        elif cmd.positional == "choice":
            lines.append(f"complete -c espwatch -n {_fq(cond)} -a {_fq(' '.join(cmd.positional_choices))}")

    for v in root.subcommands:
        lines.append(f"complete -c espwatch -n {_fq(no_verb)} -a {v.name} -d {_fq(v.help)}")
    option_lines(no_verb, root)
    for v in root.subcommands:
        cond = f"__fish_seen_subcommand_from {v.name}"
        if v.subcommands:
            names = " ".join(s.name for s in v.subcommands)
            no_sub = f"{cond}; and not __fish_seen_subcommand_from {names}"
            for s in v.subcommands:
                lines.append(f"complete -c espwatch -n {_fq(no_sub)} -a {s.name} -d {_fq(s.help)}")
            option_lines(cond, v)
            for s in v.subcommands:
                others = " ".join(o.name for o in v.subcommands if o is not s)
                # the implied subcommand completes also when none is given (`espwatch image APP.bin`)
                sub_cond = (f"{cond}; and not __fish_seen_subcommand_from {others}" if s is v.implied
                            else f"{cond}; and __fish_seen_subcommand_from {s.name}")
                option_lines(sub_cond, s)
                positional_lines(sub_cond, s)
        else:
            option_lines(cond, v)
            positional_lines(cond, v)
    return "\n".join(lines) + "\n"


def script(shell: str) -> str:
    """The completion script for `shell` (bash, zsh or fish)."""
    from espwatch import __version__

    root = command_tree()
    return {"bash": bash, "zsh": zsh, "fish": fish}[shell](root, __version__)
