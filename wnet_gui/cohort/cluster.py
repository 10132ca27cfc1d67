"""Where cohort tasks run: a local cluster sized to this machine, a running scheduler, or
worker jobs on a Slurm/PBS queue (dask-jobqueue). Dask is imported only when used."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from ..engine.detect import OptionError

ATTEMPTS = 3  # a slide that fails this many times is reported failed; the others go on

JOB_QUEUES = ("slurm", "pbs")


def usable_cores() -> int:
    """Cores this process may use (affinity and cgroup-aware where the OS says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def local_layout(workers: int | None, threads_per_worker: int | None, cores: int | None = None) -> tuple[int, int, int]:
    """(worker processes, slides at once per worker, torch threads per slide) for this machine.

    Default: one worker process per core up to 4 cores, one per 2 cores beyond (memory: each
    worker holds its own model, ≈ 1.4 GB with the PyTorch runtime), one slide at a time each, the
    cores shared out as torch threads. Measured on 2 cores (BENCHMARKS.md, cohorts): 2 workers × 1 thread ran 8
    slides 3 % faster than a plain loop once started, 1 worker with 2 torch threads 8 % slower —
    two slides in flight keep both cores busy through each slide's reading and peak finding."""
    cores = cores or usable_cores()
    workers = (cores if cores <= 4 else cores // 2) if workers is None else workers
    threads_per_worker = 1 if threads_per_worker is None else threads_per_worker
    for name, value in (("workers", workers), ("threads per worker", threads_per_worker)):
        if not (isinstance(value, int) and 1 <= value <= 1024):
            raise OptionError(f"{name} must be a whole number from 1 to 1024, not {value}")
    return workers, threads_per_worker, max(1, cores // (workers * threads_per_worker))


@dataclass
class OwnedCluster:
    """A cluster this process started (and so must close), with its client."""

    cluster: Any
    client: Any
    torch_threads: int | None = None

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.cluster.close()


def _quiet_config() -> dict[str, Any]:
    return {
        "distributed.scheduler.allowed-failures": ATTEMPTS - 1,  # a worker death counts as an attempt
        "distributed.worker.daemon": False,  # a worker may start threads of its own (the tile reader)
        "distributed.admin.tick.limit": "10s",  # a long forward pass holding the GIL is not an alarm
        # a worker's statistical profiler samples every thread's stack every 10 ms, and its memory
        # monitor polls every 100 ms: on 2 cores that stalls the forward pass's threads (+16 % per
        # slide, BENCHMARKS.md); slides take seconds, so once a second is plenty
        "distributed.worker.profile.enabled": False,
        "distributed.worker.memory.monitor-interval": "1s",
    }


def local_cluster(workers: int | None = None, threads_per_worker: int | None = None) -> OwnedCluster:
    """Worker processes on this machine, each restarted by its nanny if it dies."""
    import dask
    from distributed import Client, LocalCluster

    n, t, torch_threads = local_layout(workers, threads_per_worker)
    with dask.config.set(_quiet_config()):
        # the driver reports every failure with its slide: the workers' own error logs only repeat it
        cluster = LocalCluster(n_workers=n, threads_per_worker=t, processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL)
        client = Client(cluster)
    return OwnedCluster(cluster, client, torch_threads)


def connect(address: str):
    """A client on a running scheduler (``tcp://host:8786``)."""
    from distributed import Client

    return Client(address, timeout="30s")


def job_queue_cluster(kind: str, *, queue: str | None = None, cores: int = 4, memory: str = "16GB",
                      walltime: str = "02:00:00", account: str | None = None, extra: list[str] | None = None):
    """A dask-jobqueue cluster whose every job is one worker process using ``cores`` cores
    for torch (one slide at a time: the model and reader caches held once per job)."""
    if kind not in JOB_QUEUES:
        raise OptionError(f"cluster must be one of {', '.join(JOB_QUEUES)}, not {kind!r}")
    import dask
    import dask_jobqueue

    if not (isinstance(cores, int) and 1 <= cores <= 1024):
        raise OptionError(f"cores must be a whole number from 1 to 1024, not {cores}")
    # Dask runs one slide at a time per job (cores=1: one task thread) while the job asks the
    # queue for all ``cores``, which torch then uses for that slide's tiles.
    if kind == "slurm":
        cls, specific = dask_jobqueue.SLURMCluster, {"job_cpu": cores}
    else:
        cls, specific = dask_jobqueue.PBSCluster, {"resource_spec": f"select=1:ncpus={cores}:mem={memory}"}
    with dask.config.set(_quiet_config()):
        return cls(
            queue=queue, account=account, cores=1, processes=1, memory=memory, walltime=walltime,
            job_name="wnet-detect", python=sys.executable, job_extra_directives=extra or [],
            scheduler_options={"dashboard_address": ":0"},
            job_script_prologue=[f"export OMP_NUM_THREADS={cores}"], **specific,
        )


__all__ = ["JOB_QUEUES", "OwnedCluster", "connect", "job_queue_cluster", "local_cluster", "local_layout", "usable_cores"]


def client_for(scheduler: str | None, cluster: str | None = None, *, queue: str | None = None, cores: int = 4, memory: str = "16GB",
               walltime: str = "02:00:00", account: str | None = None, jobs: int = 4):
    """(client, jobs cluster, where) for a batch-queue ``cluster`` ('slurm', 'pbs') or a running
    ``scheduler`` (tcp://, tls://, ucx://); (None, None, "") when neither is asked for (the caller
    starts a local cluster or runs in-process)."""
    if cluster:
        queue_jobs = job_queue_cluster(cluster, queue=queue, cores=cores, memory=memory, walltime=walltime, account=account)
        queue_jobs.scale(jobs=jobs)
        from distributed import Client

        return Client(queue_jobs), queue_jobs, f"{cluster} jobs ({jobs} × {cores} cores)"
    if scheduler and is_address(scheduler):
        return connect(scheduler), None, f"the cluster at {scheduler}"
    return None, None, ""


def is_address(scheduler: str | None) -> bool:
    """Whether ``--scheduler`` names a running cluster rather than 'local' or 'none'."""
    return str(scheduler).startswith(("tcp://", "tls://", "ucx://"))
