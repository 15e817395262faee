"""Errors of the device side, one family: `DeviceError` (one line the user can act on).

(The core restructure moves every family under `espwatch.errors.EspwatchError`; these are the device's.)
"""

from __future__ import annotations


class DeviceError(Exception):
    """A serial port or device action that cannot be done: `str(exc)` is one line saying why."""


class PortNotFound(DeviceError):
    """The port is not there (or cannot be opened) and the wait for it is over."""


class ResetUnsupported(DeviceError):
    """The link cannot drive DTR/RTS (a pty, a `socket://` URL, some adapters)."""


class TimesFileError(DeviceError):
    """A `.times` sidecar that cannot be read as one."""
