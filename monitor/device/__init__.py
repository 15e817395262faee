"""The device side: serial ports, reset sequences, the serial reader, the stdin spool, the session log.

- `ports`: port listing, board families (USB-Serial-JTAG, CP210x, CH340, FTDI, ESP-Prog), board identity
- `choose`: the port to use when none was given
- `connect`: opening a port without losing what is queued; waiting for a port with a timeout
- `reset`: DTR/RTS reset sequences (esptool's)
- `reader`: `SerialSource`, the reader thread that writes every byte to the session log first, and follows
  the board when it comes back
- `sessionlog`: the append-only session log with its host lines; keeps bytes in memory while it cannot write
- `unsaved`: those bytes in memory, and the line structure of dropped ones
- `times`: arrival times in arrays and the `.times` sidecar
- `spool`: `StdinSpool`, a pipe copied to a temporary file

Nothing here imports Textual: the core knows no screen.
"""
