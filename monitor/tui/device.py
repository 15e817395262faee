"""Talking to the device from the monitor: lines and console keys sent in order by one worker, DTR/RTS
resets, console mode (F2), the Ctrl+T menu of idf.py monitor, and copying the output to a file (Ctrl+T L).

A mixin of `MonitorApp` (live only; replay has no device).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual import work

from espwatch.tui.console import ConsoleKeys
from espwatch.tui.help import MenuScreen


class DeviceMixin:
    """The app's device side: `send`, resets, console mode, the Ctrl+T menu, logging."""

    @work(thread=True, exclusive=True, group="sender", exit_on_error=False)
    def _sender(self) -> None:
        """Sends what is queued to the device, in order (console keys, lines from the send box)."""
        while True:
            data = self._send_queue.get()
            if data is None or self.source is None:
                return
            if not self.source.send(data):
                self.call_from_thread(self.notify, "not sent: the device is not connected",
                                      severity="warning", timeout=3)

    def send(self, data: bytes) -> None:
        """Queue bytes for the device."""
        if self.live:
            self._send_queue.put(data)

    @work(thread=True, group="device", exit_on_error=False)
    def action_reset(self) -> None:
        if self.source is not None:
            self.source.reset()

    @work(thread=True, group="device", exit_on_error=False)
    def action_bootloader(self) -> None:
        if self.source is not None:
            self.source.reset_to_bootloader()

    def action_console(self) -> None:
        """Console mode on / off: every key goes to the device (esp_console REPL)."""
        if not self.live:
            return
        self.console_mode = not self.console_mode
        keys = self.query_one("#console", ConsoleKeys)
        keys.set_class(self.console_mode, "shown")
        if self.console_mode:
            if self.prompt_mode is not None:
                self._hide_prompt()
            self.log_view.action_bottom()
            keys.focus()
        else:
            self.log_view.focus()
        self._update_status()

    # handlers by name: a mixin's @on handlers would not be collected (it is not a MessagePump)
    def on_console_keys_send(self, message: ConsoleKeys.Send) -> None:
        self.send(message.data)

    def on_console_keys_leave(self, message: ConsoleKeys.Leave) -> None:
        if self.console_mode:
            self.action_console()

    def action_menu(self) -> None:
        """Ctrl+T, as in idf.py monitor: the next key picks a command."""
        if isinstance(self.screen, MenuScreen):
            self.screen.dismiss("send_ctrl_t")  # Ctrl+T twice: Ctrl+T itself goes to the device
            return
        self.push_screen(MenuScreen(), self._menu_chosen)

    def _menu_chosen(self, action: str | None) -> None:
        if action is None:
            return
        if action == "send_ctrl_t":
            self.send(b"\x14")
        elif action == "reset":
            self.action_reset()
        elif action == "bootloader":
            self.action_bootloader()
        elif action == "pause":
            self.action_pause()
        elif action == "timestamps":
            self.action_timestamps()
        elif action == "logging":
            self.action_logging()
        elif action == "help":
            self.action_help()
        elif action == "quit":
            self.exit()

    def action_logging(self) -> None:
        """Copy the device's output from now on into a file beside the log (again: stop)."""
        if self.capture is not None:
            path = self.capture_path
            self._stop_capture()
            self.notify(f"logging stopped: {path}", timeout=4)
        else:
            stem = Path(self.log_name).stem or "log"
            path = self.report_dir / f"{stem}-capture-{datetime.now():%Y%m%d-%H%M%S}.log"
            try:
                fh = open(path, "ab")  # noqa: SIM115 - closed by _stop_capture
            except OSError as exc:
                self.notify(f"cannot log to {path}: {exc.strerror or exc}", severity="error", timeout=5)
                return
            self.capture, self.capture_path = fh, path
            self.follower.tee = fh
            self.notify(f"logging the output to {path}", timeout=4)
        self._update_status()

    def _stop_capture(self) -> None:
        fh, self.capture, self.capture_path = self.capture, None, None
        self.follower.tee = None
        if fh is not None:
            fh.close()
