"""Which port to open when none was given: the only one that looks like an ESP board, or the user's pick."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from espwatch.device.ports import ListPorts, PortInfo, likely_ports
from espwatch.errors import PortNotFound


def port_line(p: PortInfo) -> str:
    """"/dev/ttyACM0  303a:1001  USB-Serial-JTAG  USB JTAG/serial debug unit  serial F4:12:..."."""
    parts = [p.device, p.vid_pid or "-", p.family or "-"]
    product = p.product or (p.description if p.description not in ("", "n/a", p.device) else None)
    if product:
        parts.append(product)
    if p.serial_number:
        parts.append(f"serial {p.serial_number}")
    return "  ".join(parts)


def ports_summary(ports: Sequence[PortInfo]) -> str:
    """One line naming the ports there are, for an error message."""
    if not ports:
        return "no serial ports found (is the board plugged in, with a data cable?)"
    named = [f"{p.device} ({p.family or p.description or 'unknown'})" for p in ports[:8]]
    more = f" and {len(ports) - 8} more" if len(ports) > 8 else ""
    return "serial ports here: " + ", ".join(named) + more


def choose_port(ports: ListPorts, *, timeout: float | None,
                ask: Callable[[list[PortInfo]], PortInfo | None] | None = None,
                on_wait: Callable[[str], None] | None = None, poll: float = 0.25,
                stop: threading.Event | None = None) -> PortInfo:
    """The port to monitor: the only likely one; with several, `ask(candidates)` picks (None: cancelled),
    or without `ask` it is an error that lists them. With none, wait up to `timeout` seconds (None: for
    ever) for one to be plugged in. Raises `PortNotFound` with one line saying what to do."""
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        listing = list(ports())
        found = likely_ports(listing)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            if ask is None:
                names = ", ".join(f"{p.device} ({p.describe()})" for p in found)
                raise PortNotFound(f"several ports look like ESP boards: {names}; choose one with --port")
            picked = ask(found)
            if picked is None:
                raise PortNotFound("no port chosen")
            return picked
        if not told and on_wait is not None:
            on_wait("no port looks like an ESP board yet")
            told = True
        if deadline is not None and time.monotonic() >= deadline:
            waited = f" (waited {timeout:g} s)" if timeout else ""
            raise PortNotFound(f"no serial port looks like an ESP board{waited}; {ports_summary(listing)}; "
                               f"give the port with --port")
        if stop is not None:
            if stop.wait(poll):
                raise PortNotFound("gave up waiting for a board")
        else:
            time.sleep(poll)
