"""Settings from files: `espwatch.toml` in the project folder (or a parent) and the user's config file.

A file holds top-level keys that apply to every verb (`elf`, `no_elf`, `patterns`) and one table per verb
(`[monitor]`, `[scan]`, `[report]`, `[replay]`, `[decode]`) whose keys are that verb's long options with `_`
for `-` (`baud`, `timestamps`, `redact_wifi`, ...). The project file wins over the user file, and flags on
the command line win over both (list options such as `patterns` add up). Paths are relative to the file
that names them. A bad file or key is an `InputError` naming the file and the key.

    # espwatch.toml
    elf = "build/app.elf"
    patterns = ["espwatch-patterns"]

    [monitor]
    port = "/dev/ttyUSB0"
    baud = 921600
    theme = "nord"

    [report]
    redact_wifi = true
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from espwatch.errors import InputError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    from typing import Any

PROJECT_FILE = "espwatch.toml"
USER_FILE = "config.toml"
GLOBAL_KEYS = ("elf", "no_elf", "patterns")
"""Top-level keys: they apply to every verb that has the option."""
PATH_KEYS = frozenset({"elf", "patterns", "log", "bootloader_elf"})
"""Keys whose values are paths, taken relative to the file that names them."""


def user_config_path() -> Path:
    """The user's config file: `ESPWATCH_CONFIG` or the platform config folder's espwatch/config.toml."""
    env = os.environ.get("ESPWATCH_CONFIG")
    if env:
        return Path(env)
    from espwatch.cachedir import user_config_dir

    return user_config_dir() / USER_FILE


def project_config_path(start: str | os.PathLike[str] | None = None) -> Path | None:
    """`espwatch.toml` in `start` (default: the working folder) or the nearest parent that has one."""
    folder = Path(start) if start is not None else Path.cwd()
    for candidate in (folder, *folder.resolve().parents):
        path = candidate / PROJECT_FILE
        if path.is_file():
            return path
    return None


class Setting:
    """A value and where it came from: a file's path, or "default"."""

    __slots__ = ("source", "value")

    def __init__(self, value: Any, source: str) -> None:
        self.value = value
        self.source = source


class Config:
    """The settings of the files in force, by section (`""` for the top level), with their origins."""

    def __init__(self) -> None:
        self.files: list[Path] = []
        self.sections: dict[str, dict[str, Setting]] = {}

    def for_verb(self, verb: str) -> dict[str, Setting]:
        """The settings that apply to `verb`: top-level keys, then its own table's."""
        out = dict(self.sections.get("", {}))
        out.update(self.sections.get(verb, {}))
        return out


def _read(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None


def _resolve(key: str, value: Any, base: Path) -> Any:
    if key not in PATH_KEYS:
        return value
    if isinstance(value, list):
        return [str((base / v).resolve()) if isinstance(v, str) else v for v in value]
    return str((base / value).resolve()) if isinstance(value, str) else value


def load_config(start: str | os.PathLike[str] | None = None, use_user: bool = True) -> Config:
    """The user file, then the project file over it (missing files are fine)."""
    cfg = Config()
    paths = [p for p in ([user_config_path()] if use_user else []) if p.is_file()]
    project = project_config_path(start)
    if project is not None:
        paths.append(project)
    for path in paths:
        cfg.files.append(path)
        data = _read(path)
        base = path.parent
        for key, value in data.items():
            if isinstance(value, dict):
                section = cfg.sections.setdefault(key, {})
                for k, v in value.items():
                    section[k] = Setting(_resolve(k, v, base), str(path))
            else:
                cfg.sections.setdefault("", {})[key] = Setting(_resolve(key, value, base), str(path))
    return cfg


def _check_type(action: Any, value: Any) -> bool:
    import argparse

    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        return isinstance(value, bool)
    if isinstance(action, argparse._AppendAction):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if action.type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if action.choices is not None:
        return value in action.choices
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def apply_config(parser: Any, verb: str, cfg: Config) -> dict[str, Setting]:
    """Set the verb parser's defaults from `cfg` (flags still win); the settings used, by option name.

    A key the verb has no option for is an error, except the top-level keys, which apply where they can."""
    actions = {a.dest: a for a in parser._actions if a.option_strings}
    used: dict[str, Setting] = {}
    for key, setting in cfg.for_verb(verb).items():
        action = actions.get(key)
        if action is None:
            if key in GLOBAL_KEYS and key not in cfg.sections.get(verb, {}):
                continue
            known = ", ".join(sorted(k for k in actions if k != "help"))
            raise InputError(f"{setting.source}: [{verb}] has no setting {key!r} (known: {known})")
        if not _check_type(action, setting.value):
            want = (action.choices and f"one of {sorted(action.choices)}") or (
                "true or false" if action.nargs == 0 else "a list of strings"
                if isinstance(action.default, list) else "an integer" if action.type is int else "a string")
            raise InputError(f"{setting.source}: {key} = {setting.value!r}: expected {want}")
        value = setting.value
        if isinstance(value, list):
            value = list(value)
        parser.set_defaults(**{key: value})
        used[key] = setting
    return used


def describe(verbs: Iterable[str], parsers: dict[str, Any], cfg: Config) -> list[str]:
    """`espwatch config`: for each verb, every setting in force, its value and where it came from."""
    lines = [f"config files: {', '.join(str(p) for p in cfg.files) or 'none'}",
             f"  (user file: {user_config_path()}; project file: {PROJECT_FILE} here or in a parent)"]
    for verb in verbs:
        parser = parsers[verb]
        used = apply_config(parser, verb, cfg)
        lines.append(f"[{verb}]")
        for action in parser._actions:
            if not action.option_strings or action.dest in ("help",):
                continue
            s = used.get(action.dest)
            value = s.value if s else action.default
            origin = s.source if s else "default"
            lines.append(f"  {action.dest:<14} = {value!r:<30} ({origin})")
    return lines
