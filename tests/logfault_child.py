"""Child process of test_device_logfaults.py: a real SerialSource on a pty whose session log hits a real file
size limit (RLIMIT_FSIZE: the kernel fails the writes with EFBIG, like a full disk fails them with ENOSPC).

    python logfault_child.py LINK LOG LIMIT MAX_PENDING

Commands on stdin, one JSON line back on stdout for each: `stat` (what the reader and the log say, and
what the screen would read), `lift` (raise the limit: space is free again), `stop` (stop, close the log,
and the exit summary). A child process because the limit and SIGXFSZ are process-wide.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import resource
import signal
import sys

from espwatch.device.reader import SerialSource
from espwatch.device.sessionlog import SessionLog, is_host_line, strip_host_lines


def main() -> None:
    link, log_path, limit, max_pending = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as `espwatch monitor` does: EFBIG instead of a kill
    log = SessionLog(log_path, max_pending=max_pending, retry_interval=0.05)
    states: list[str] = []
    src = SerialSource(link, 115200, log, on_status=lambda s, m: states.append(s), retry_delay=0.05)
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    src.start()
    for line in sys.stdin:
        cmd = line.strip()
        out: dict = {}
        if cmd == "stat":
            received = log.device_bytes  # before the view: when all bytes are received, the view has them all
            view = log.read_at(0, log.size)
            out = {"state": src.state, "states": states, "alive": src.running, "received": received,
                   "failing": log.failing, "status": log.status_text(), "size": log.size,
                   "view_len": len(view), "view_breaks": view.count(b"\n"),
                   "view_host_lines": sum(1 for ln in view.split(b"\n") if is_host_line(ln)),
                   "view_device_sha": hashlib.sha256(strip_host_lines(view)).hexdigest(),
                   "view_tail_sha": hashlib.sha256(view[-100_000:]).hexdigest()}
        elif cmd == "lift":
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        elif cmd == "stop":
            src.stop()
            log.close()
            summary = dataclasses.asdict(log.summary())
            out = {k: str(v) if k.endswith("path") else v for k, v in summary.items()}
            out["text"] = log.summary().text()
        print(json.dumps(out), flush=True)
        if cmd == "stop":
            break


if __name__ == "__main__":
    main()
