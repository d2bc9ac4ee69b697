"""Executors: run the missing cells serially, in local processes (joblib) or on Dask.

Whatever the executor, results are written by this (the parent) process, one transaction per
cell as soon as the cell finishes, so the store has a single writer per sweep and a killed sweep
keeps every finished cell.  Numbers do not depend on the executor: a cell's randomness comes
only from its own seed ids.
"""
from __future__ import annotations

import contextlib

EXECUTORS = ("serial", "processes", "dask")


def _write(store, cfg, key, result, version, env):
    store.put(key, cfg["kind"], cfg, result, version, env, result.get("wall_time", 0.0))


def execute(cells, store, executor: str = "serial", scheduler: str | None = None, n_jobs: int = -1,
            progress=None, runner=None):
    """Run every cell of ``cells`` (``[(key, config), ...]``) missing from ``store``.

    Returns the number of cells computed.  ``progress`` is called once per finished cell;
    ``runner`` replaces :func:`experiments.cells.run_cell` (instrumentation, fault injection).
    """
    from gluon_mvr.experiments.core.cells import environment, package_version, run_cell

    run_cell = runner or run_cell

    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    done = store.get_many(k for k, _ in cells)
    todo = list({k: c for k, c in cells if k not in done}.items())   # each missing key once
    version, env = package_version(), environment()
    if not todo:
        return 0
    if executor == "serial":
        for key, cfg in todo:
            _write(store, cfg, key, run_cell(cfg), version, env)
            if progress:
                progress()
    elif executor == "processes":
        from joblib import Parallel, delayed
        # joblib yields results in submission order as they complete; each is written at once
        par = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)
        for (key, cfg), result in zip(todo, par(delayed(run_cell)(c) for _, c in todo)):
            _write(store, cfg, key, result, version, env)
            if progress:
                progress()
    else:
        with _dask_client(scheduler) as client:
            from dask.distributed import as_completed
            futures = {client.submit(run_cell, cfg, key=f"cell-{key}", pure=False): (key, cfg)
                       for key, cfg in todo}
            for fut in as_completed(futures):
                key, cfg = futures[fut]
                _write(store, cfg, key, fut.result(), version, env)
                if progress:
                    progress()
    return len(todo)


@contextlib.contextmanager
def _dask_client(scheduler):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("executor 'dask' needs dask.distributed: pip install -e .[dask]") from exc
    if scheduler:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
    else:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
