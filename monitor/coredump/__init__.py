"""Core dumps without a toolchain: the UART base64 block, base64 files, flash read-backs, ELF cores.

Public API:
- `decode_coredump(data, elf=None, ...)` -> `CoreDumpReport` (the first dump in `data`);
  `decode_coredumps(...)` -> every dump in a log.
- `CoreDumpReport` / `TaskReport` / `ExceptionInfo` (`.to_json()`), `render_text(report)`.
- `CoreDumpError` (in `espwatch.errors`): nothing decodable (one line for the user).
"""

from __future__ import annotations

from espwatch.coredump.decode import decode_coredump, decode_coredumps, load_elf
from espwatch.coredump.model import CoreDumpReport, ExceptionInfo, TaskReport
from espwatch.errors import CoreDumpError

__all__ = ["CoreDumpError", "CoreDumpReport", "ExceptionInfo", "TaskReport", "decode_coredump",
           "decode_coredumps", "load_elf"]
