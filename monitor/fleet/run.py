"""Running a triage: in this process, on a local process pool (`-j N`), or on a Dask cluster.

All three map the same per-log function (`scan_log`) over the logs and reduce with the same mergeable
reduction (`partial` + `merge`), so they give identical groups. Dask is an optional extra
(`pip install 'espwatch[fleet]'`); nothing here imports it until a Dask run is asked for.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from espwatch.errors import UsageError
from espwatch.fleet.groups import Triage, merge_all, partial, reduce_results
from espwatch.fleet.inputs import LogInput
from espwatch.fleet.results import LogResult
from espwatch.fleet.scanlog import TriageConfig, scan_log

if TYPE_CHECKING:
    import dask.bag

DASK_MISSING = "--dask needs the optional packages dask and distributed: pip install 'espwatch[fleet]'"


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def triage_local(logs: Sequence[LogInput], config: TriageConfig, jobs: int = 1,
                 on_result: Callable[[LogResult], None] | None = None) -> Triage:
    """Scan `logs` here (`jobs` 1) or on a pool of `jobs` processes; results reach `on_result` in the order
    of `logs`. Returns the merged groups."""
    acc = Triage()
    jobs = max(1, min(jobs, len(logs)))
    if jobs == 1:
        results: Any = (scan_log(log, config) for log in logs)
        return _collect(acc, results, on_result)
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, min(16, len(logs) // (jobs * 8)))
    ctx = multiprocessing.get_context("spawn")  # no inherited threads or locks; the same on every OS
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        results = pool.map(functools.partial(scan_log, config=config), logs, chunksize=chunk)
        return _collect(acc, results, on_result)


def _collect(acc: Triage, results: Any, on_result: Callable[[LogResult], None] | None) -> Triage:
    for r in results:
        if on_result is not None:
            on_result(r)
        acc.absorb(partial(r), owned=True)
    return acc


# -- Dask ---------------------------------------------------------------------------------------------
def _need_dask() -> None:
    try:
        import dask.bag  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(DASK_MISSING) from None


def triage_bag(logs: dask.bag.Bag, config: TriageConfig | None = None) -> tuple[Any, dask.bag.Bag]:
    """On a Dask bag of logs (`LogInput`s or paths): the triage (a lazy Dask item: `.compute()` gives the
    `Triage`) and the bag of per-log results (compute both together to scan each log once)."""
    results = logs.map(scan_log, config=config or TriageConfig())
    return results.reduction(reduce_results, merge_all), results


def triage_dask(logs: Sequence[LogInput], config: TriageConfig, address: str, jobs: int = 1,
                per_file: bool = False) -> tuple[Triage, list[LogResult] | None]:
    """Scan `logs` on the Dask scheduler at `address` (`local`: a LocalCluster of `jobs` single-threaded
    worker processes on this machine). The workers read the files themselves: they need the same paths."""
    _need_dask()
    import dask
    import dask.bag as db
    from distributed import Client, LocalCluster

    cluster = None
    if address == "local":
        logging.getLogger("distributed").setLevel(logging.ERROR)
        # no dashboard, so no statistical profiler either (it samples every worker thread every 10 ms)
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"--dask {address}: cannot connect to the scheduler ({exc})") from None
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        bag = db.from_sequence(list(logs), npartitions=max(1, min(len(logs), workers * 4)))
        tri, results = triage_bag(bag, config)
        if per_file:
            triage, per = dask.compute(tri, results, scheduler=client)
            return triage, list(per)
        (triage,) = dask.compute(tri, scheduler=client)
        return triage, None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
