"""One module per CLI verb: argument parsing and printing only; the work is in the library."""

from __future__ import annotations

import argparse

from espwatch.patterns import PatternError, PatternSet, load_patterns


def add_patterns_option(p: argparse.ArgumentParser) -> None:
    """`--patterns DIR`, shared by every verb that reads logs."""
    p.add_argument("--patterns", action="append", default=[], metavar="DIR",
                   help="also load the pattern files (*.toml) in DIR; may be repeated")


def patterns_from(args: argparse.Namespace) -> PatternSet:
    """The built-in patterns plus `--patterns` folders; a malformed file is a one-line usage error."""
    from espwatch.cli import CliError

    try:
        return load_patterns(args.patterns)
    except PatternError as exc:
        raise CliError(str(exc)) from None


def add_binlog_options(p: argparse.ArgumentParser, switch: bool = False) -> None:
    """`--bootloader-elf` (and with `switch`, `--binlog`) for the verbs that read ESP-IDF binary logs; the
    app ELF is `--elf`."""
    p.add_argument("--bootloader-elf", metavar="BOOTLOADER.elf",
                   help="binary logs (CONFIG_LOG_MODE_BINARY): the bootloader's ELF for its records "
                        "(default: bootloader/bootloader.elf beside the app ELF)")
    if switch:
        p.add_argument("--binlog", action="store_true",
                       help="the device logs in binary (CONFIG_LOG_MODE_BINARY): show its records as text "
                            "(implied by --bootloader-elf or an --elf built with binary logging)")


def binlog_wanted(args: argparse.Namespace) -> bool:
    """Whether the user asked for binary log decoding: `--binlog`, `--bootloader-elf`, or an `--elf` built
    with binary logging (a bad ELF is a usage error)."""
    if getattr(args, "binlog", False) or getattr(args, "bootloader_elf", None):
        return True
    if not getattr(args, "elf", None):
        return False
    from espwatch.binlog import ElfStrings
    from espwatch.cli import CliError
    from espwatch.decoding import ElfError

    try:
        return ElfStrings(args.elf).has_binlog
    except ElfError as exc:
        raise CliError(str(exc)) from None


def binlog_from(args: argparse.Namespace, app_elf: str | None, **kw):
    """The binary log decoder for a verb: the app ELF and `--bootloader-elf`; a bad ELF is a usage error.
    Text logs pass through it unchanged; it switches itself on where frames are."""
    from espwatch.binlog import open_decoder
    from espwatch.cli import CliError
    from espwatch.decoding import ElfError

    try:
        return open_decoder(app_elf, getattr(args, "bootloader_elf", None), **kw)
    except ElfError as exc:
        raise CliError(str(exc)) from None


def binlog_summary(decoder, name: str) -> str | None:
    """One line for stderr after a binary log was read (None when the input had no frames)."""
    if decoder is None or not decoder.active:
        return None
    st = decoder.stats
    parts = [f"{st.records} records decoded"]
    if st.undecoded:
        parts.append(f"{st.undecoded} not decoded")
    if st.junk_bytes:
        parts.append(f"{st.junk_bytes} damaged bytes in {st.junk_runs} places")
    notes = "".join(f"; {n}" for n in decoder.notes)
    return f"{name}: binary log: {', '.join(parts)}{notes}"
