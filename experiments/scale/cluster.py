"""The Dask cluster a dask-backend run uses: a LocalCluster started for the run, or a running
scheduler (`scale.scheduler`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dask.utils import parse_bytes
from distributed import Client, LocalCluster

from experiments.config import ConfigError, ScaleSection

CONNECT_TIMEOUT = "10s"


def local_threads(scale: ScaleSection) -> int:
    """Threads per LocalCluster worker: as configured, else this machine's usable cores
    shared among the workers (at least one each)."""
    if scale.threads_per_worker:
        return scale.threads_per_worker
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // scale.n_workers)


def check_memory_limit(value: str) -> None:
    """Refuse a memory limit Dask cannot read ("auto", "6GiB", "8 GB", a byte count)."""
    if value != "auto":
        try:
            parse_bytes(value)
        except (ValueError, TypeError):
            raise ConfigError(
                f'scale.memory_limit = {value!r}: write "auto" or a size such as "6GiB"'
            ) from None


@contextmanager
def dask_client(scale: ScaleSection, progress: Callable[[str], None]) -> Iterator[Client]:
    """A client of `scale.scheduler`, or of a LocalCluster closed when the block ends."""
    if scale.scheduler:
        try:
            client = Client(scale.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"scale.scheduler = {scale.scheduler!r}: no Dask scheduler answers there ({exc})"
            ) from None
        with client:
            workers = len(client.scheduler_info().get("workers", {}))
            progress(f"dask: connected to {scale.scheduler} ({workers} worker(s))")
            yield client
        return
    check_memory_limit(scale.memory_limit)
    threads = local_threads(scale)
    with (
        LocalCluster(
            n_workers=scale.n_workers,
            threads_per_worker=threads,
            memory_limit=scale.memory_limit,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # the client raises a worker's error itself
        ) as cluster,
        Client(cluster) as client,
    ):
        progress(
            f"dask: LocalCluster of {scale.n_workers} worker(s) x {threads} thread(s), "
            f"memory limit {scale.memory_limit} each"
        )
        yield client
