"""Fleet triage: group what thousands of logs show (crashes, findings, boot loops, OTA failures).

Two functions do all the work, the same in every engine:

- `scan_log(log, config) -> LogResult`: the per-log function. `log` is a path, or a `LogInput` (a path, or
  bytes with their arrival times); `config` a `TriageConfig` (patterns, ELF files by SHA-256, device-id
  regex). Pure: no global state, any process, any order.
- `partial(result) -> Triage` and `merge(a, b) -> Triage`: the reduction. `merge` is associative and
  commutative, so partial triages can be combined in any grouping, on any machine.

Around them: `expand_paths(args)` (files, folders, globs; `.gz` / `.zst`), `triage_local(logs, config,
jobs)` (this process or a process pool), `triage_dask(logs, config, address)` and `triage_bag(bag,
config)` (Dask, optional extra `espwatch[fleet]`), `reduce_results(results)` (partials of many results in
one accumulator) and `merge_all(triages)`.

Dask bag::

    import dask.bag as db
    from espwatch.fleet import TriageConfig, triage_bag

    config = TriageConfig.build(elfs=["fw/1.2.0/app.elf", "fw/1.3.0/app.elf"],
                                device_from=r"/(?P<device>[^/]+)/[^/]+$")
    triage, per_log = triage_bag(db.from_sequence(paths, npartitions=64), config)
    groups = triage.compute()                      # a Triage; groups.to_json() gives the --json records

PySpark (nothing Spark-specific in espwatch; the executors need espwatch installed and the files readable)::

    from espwatch.fleet import LogInput, TriageConfig, merge, partial, scan_log

    config = TriageConfig.build(elfs=[...])        # built once on the driver, shipped to the executors
    rdd = spark.sparkContext.binaryFiles("hdfs:///logs/*.log")        # (path, bytes)
    triage = (rdd.map(lambda pb: scan_log(LogInput.from_bytes(pb[0], pb[1]), config))
                 .map(partial)
                 .treeReduce(merge))

Ray::

    import ray
    from espwatch.fleet import TriageConfig, merge_all, reduce_results, scan_log

    @ray.remote
    def scan_batch(paths, config):
        return reduce_results(scan_log(p, config) for p in paths)   # one partial triage per batch

    batches = [paths[i:i + 200] for i in range(0, len(paths), 200)]
    triage = merge_all(ray.get([scan_batch.remote(b, config) for b in batches]))

A log's crash signature uses function names when the ELF whose SHA-256 the firmware printed was given
(so one bug groups across builds), else the raw PCs as ESP-IDF prints them (see `fleet.signature`).
"""

from __future__ import annotations

from espwatch.fleet.groups import Group, Triage, merge, merge_all, partial, reduce_results
from espwatch.fleet.inputs import LogInput, expand_paths
from espwatch.fleet.results import GROUP_KINDS, LogResult, Occurrence
from espwatch.fleet.run import triage_bag, triage_dask, triage_local, usable_cores
from espwatch.fleet.scanlog import Scanner, TriageConfig, scan_log

__all__ = [
    "GROUP_KINDS",
    "Group",
    "LogInput",
    "LogResult",
    "Occurrence",
    "Scanner",
    "Triage",
    "TriageConfig",
    "expand_paths",
    "merge",
    "merge_all",
    "partial",
    "reduce_results",
    "scan_log",
    "triage_bag",
    "triage_dask",
    "triage_local",
    "usable_cores",
]
