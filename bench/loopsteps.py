"""What holds an asyncio event loop: the duration of each step the loop runs (one callback, or one task
step: a Textual message pump handling what is queued, a screen refresh...) and each garbage-collector pause,
recorded while `active`. Used by bench_replay.py to say what a key waited for during the scan."""

from __future__ import annotations

import asyncio
import asyncio.events
import gc
import statistics
import time
from collections import Counter
from typing import Any


def _name(handle: asyncio.Handle) -> str:
    cb = getattr(handle, "_callback", None)
    owner = getattr(cb, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        where = getattr(coro, "__qualname__", "task").split(".")[-1]
        return f"{where} ({owner.get_name()[:40]})"
    return getattr(cb, "__qualname__", repr(cb))[:60]


class LoopSteps:
    def __init__(self, slow: float = 0.005) -> None:
        self.slow = slow
        self.active = False
        self.steps: list[float] = []
        self.slow_steps: list[tuple[float, str]] = []
        self.gc_pauses: list[tuple[float, int]] = []
        self._gc_start = 0.0

    def install(self) -> None:
        run = asyncio.events.Handle._run
        me = self

        def timed(handle: asyncio.Handle) -> None:
            if not me.active:
                return run(handle)
            t = time.perf_counter()
            try:
                return run(handle)
            finally:
                d = time.perf_counter() - t
                me.steps.append(d)
                if d >= me.slow:
                    me.slow_steps.append((d, _name(handle)))

        asyncio.events.Handle._run = timed  # type: ignore[method-assign]
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if not self.active:
            return
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self._gc_start:
            self.gc_pauses.append((time.perf_counter() - self._gc_start, info["generation"]))

    def summary(self) -> dict[str, Any]:
        steps = sorted(self.steps)
        by_name: Counter[str] = Counter()
        worst: dict[str, float] = {}
        for d, name in self.slow_steps:
            by_name[name] += 1
            worst[name] = max(worst.get(name, 0.0), d)
        gcs = sorted(self.gc_pauses, reverse=True)
        return {
            "n": len(steps),
            "median_ms": 1000 * statistics.median(steps) if steps else 0.0,
            "p99_ms": 1000 * steps[int(0.99 * (len(steps) - 1))] if steps else 0.0,
            "max_ms": 1000 * steps[-1] if steps else 0.0,
            "over_50ms": sum(1 for d in steps if d > 0.05),
            "slowest": [(round(1000 * worst[n], 1), n, by_name[n])
                        for n in sorted(worst, key=worst.__getitem__, reverse=True)[:4]],
            "gc_max_ms": 1000 * gcs[0][0] if gcs else 0.0,
            "gc_max_generation": gcs[0][1] if gcs else None,
            "gc_over_10ms": sum(1 for d, _ in gcs if d > 0.01),
            "gc_total_ms": 1000 * sum(d for d, _ in gcs),
        }
