"""The one error family: every failure meant for the user is an `EspwatchError` with a one-line message.

Library code raises the subclass of its failure domain; the command line catches `EspwatchError` once,
prints `espwatch: <message>` on stderr and exits with status 2. Anything else escaping is a bug.
"""

from __future__ import annotations


class EspwatchError(Exception):
    """A failure the user can act on; `str(exc)` is one line that says what is wrong."""


class UsageError(EspwatchError):
    """Bad arguments or options, or a combination that cannot work."""


class InputError(EspwatchError):
    """A file or stream that cannot be read as the input it should be (missing, a directory, binary...)."""


class PatternError(EspwatchError):
    """A malformed pattern file: the message names the file and the pattern code."""


class RuleError(PatternError):
    """A malformed diagnosis rule: the message names the file and the rule code."""


class CoreDumpError(InputError):
    """No core dump could be decoded: none in the input, an unknown format, or too little of it left."""


class ElfError(EspwatchError):
    """An ELF that cannot be used for decoding: missing, truncated, not an ELF, unreadable DWARF..."""


class ImageError(EspwatchError):
    """An app image, partition table or OTA data partition whose content cannot be read as one."""


class DeviceError(EspwatchError):
    """A serial port or device action that cannot be done (no such port, reset not possible...)."""


class PortNotFound(DeviceError):
    """The port (or a board to choose) is not there, or cannot be opened, and the wait for it is over."""


class TimesFileError(InputError):
    """A session log's `.times` sidecar that cannot be read as one."""


def unreadable(name: object, exc: OSError, cls: type[EspwatchError] = InputError) -> EspwatchError:
    """The one-line error (an `InputError` unless `cls` says otherwise) for an `OSError` met while opening
    or reading `name`."""
    if isinstance(exc, FileNotFoundError):
        return cls(f"{name}: no such file")
    if isinstance(exc, NotADirectoryError):
        return cls(f"{name}: no such file (a parent is not a directory)")
    if isinstance(exc, IsADirectoryError):
        return cls(f"{name}: is a directory")
    if isinstance(exc, PermissionError):
        return cls(f"{name}: permission denied")
    return cls(f"{name}: cannot read: {exc.strerror or exc}")
