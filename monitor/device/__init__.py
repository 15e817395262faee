"""The device side: serial ports, reset sequences, the serial reader, the stdin spool, the session log.

- `ports`: port listing and USB bridge detection
- `reset`: DTR/RTS reset sequences (esptool's)
- `reader`: `SerialSource`, the reader thread that writes every byte to the session log first
- `spool`: `StdinSpool`, a pipe copied to a temporary file
- `sessionlog`: the append-only session log with its host lines

Nothing here imports Textual: the core knows no screen.
"""
