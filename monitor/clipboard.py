"""Copying text to the user's clipboard on every OS, with a file as the last resort.

Order: the platform's own command when there is a local desktop to copy to (Windows `clip`, macOS
`pbcopy`, Wayland `wl-copy`, X11 `xclip` / `xsel`, WSL `clip.exe`); otherwise the terminal's clipboard
escape (OSC 52: kitty, WezTerm, iTerm2, Windows Terminal, tmux... but not macOS Terminal or the classic
Windows console, and it is silent when refused), and since nobody can tell whether OSC 52 worked, the
text is also saved to a file whose path is said. Over SSH the remote machine's clipboard is not the
user's, so OSC 52 (which travels back through the terminal) and the file are used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 5.0


@dataclass(frozen=True)
class Command:
    """A clipboard command: its argv and how the text is given to it on standard input."""

    argv: list[str]
    encoding: str = "utf-8"
    crlf: bool = False
    bom: bytes = b""
    locale: str | None = None
    """LC_CTYPE for the command (pbcopy reads text in the locale's encoding)."""

    @property
    def name(self) -> str:
        return Path(self.argv[0]).name

    def payload(self, text: str) -> bytes:
        if self.crlf:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        return self.bom + text.encode(self.encoding, "replace")


@dataclass(frozen=True)
class CopyResult:
    """How the text was copied: with `command`, or by OSC 52 (`osc52`) and/or to the file `saved`."""

    command: str | None = None
    osc52: bool = False
    saved: Path | None = None
    error: str | None = None

    def message(self, what: str = "text") -> str:
        if self.command:
            return f"{what} copied to the clipboard ({self.command})"
        parts = []
        if self.osc52:
            parts.append("sent to the terminal's clipboard (OSC 52; not every terminal accepts it)")
        if self.saved is not None:
            parts.append(f"saved to {self.saved}")
        if not parts:
            return f"{what} could not be copied: {self.error or 'no clipboard'}"
        return f"{what} " + " and ".join(parts)


def _remote(env: Mapping[str, str]) -> bool:
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("SSH_CLIENT"))


def platform_command(platform: str | None = None, env: Mapping[str, str] | None = None,
                     which: Callable[[str], str | None] = shutil.which) -> Command | None:
    """The clipboard command of this desktop, or None (no desktop, over SSH, the command is missing)."""
    platform = sys.platform if platform is None else platform
    env = os.environ if env is None else env
    if platform == "win32":
        if _remote(env):
            return None
        path = which("clip")  # reads UTF-16 (with its byte order mark) as Unicode text
        return Command([path], "utf-16-le", crlf=True, bom=b"\xff\xfe") if path else None
    if platform == "darwin":
        path = which("pbcopy")
        return Command([path], locale="UTF-8") if path and not _remote(env) else None
    if env.get("WAYLAND_DISPLAY") and (path := which("wl-copy")):
        return Command([path])
    if env.get("DISPLAY"):
        if path := which("xclip"):
            return Command([path, "-selection", "clipboard"])
        if path := which("xsel"):
            return Command([path, "--clipboard", "--input"])
    if not _remote(env) and env.get("WSL_DISTRO_NAME") and (path := which("clip.exe")):
        return Command([path], "utf-16-le", crlf=True, bom=b"\xff\xfe")
    return None


def run_command(cmd: Command, text: str, env: Mapping[str, str] | None = None) -> str | None:
    """Give `text` to `cmd`; None on success, else why not (one line)."""
    run_env = dict(os.environ if env is None else env)
    if cmd.locale:
        run_env.pop("LC_ALL", None)
        run_env["LC_CTYPE"] = cmd.locale
    try:
        # xclip, xsel and wl-copy stay in the background to serve the selection: no pipes to wait on
        proc = subprocess.run(cmd.argv, input=cmd.payload(text), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=TIMEOUT, env=run_env, check=False)
    except subprocess.TimeoutExpired:
        return f"{cmd.name} did not finish in {TIMEOUT:.0f} s"
    except OSError as exc:
        return f"{cmd.name}: {exc.strerror or exc}"
    return None if proc.returncode == 0 else f"{cmd.name} failed (exit status {proc.returncode})"


def fallback_path() -> Path:
    """Where text is saved when no clipboard command could take it."""
    from espwatch.cachedir import cache_root

    return cache_root() / "clipboard.txt"


def copy_text(text: str, osc52: Callable[[str], None] | None = None, *, use_command: bool = True,
              save_to: Path | None = None, platform: str | None = None,
              env: Mapping[str, str] | None = None,
              which: Callable[[str], str | None] = shutil.which) -> CopyResult:
    """Copy `text`: the platform command, else OSC 52 through `osc52` and the file `save_to`
    (default `fallback_path()`, replaced at each copy)."""
    error = None
    if use_command:
        cmd = platform_command(platform, env, which)
        if cmd is not None:
            error = run_command(cmd, text, env)
            if error is None:
                return CopyResult(command=cmd.name)
    if osc52 is not None:
        osc52(text)
    path = save_to if save_to is not None else fallback_path()
    try:
        from espwatch.cachedir import private_dir

        private_dir(path.parent)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        return CopyResult(osc52=osc52 is not None, error=error or f"cannot write {path}: {exc.strerror}")
    return CopyResult(osc52=osc52 is not None, saved=path, error=error)
