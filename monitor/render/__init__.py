"""Every human-readable form of espwatch's results, in one place; nothing here reads input or decides.

- `frames`: decoded frames as GNU `addr2line -pfiaC` prints them (inline chains as `(inlined by)` lines).
- `summary`: the `scan` summary and boot headers.
- `events`: one event or a whole log as plain text (the monitor's copy and save).
- `markdown`: Markdown building blocks that log text cannot break.
- `report`: the Markdown issue report (`espwatch report`).
- `image`: app image, partition table, OTA data and read-back diff text (`espwatch image`).
- `explain`: the pages of `espwatch explain`.
- `coredump`: a decoded core dump (`espwatch coredump`) and the summary of one found in a log.
"""
