"""Executors: run the missing cells serially, in local processes (joblib) or on Dask.

Whatever the executor, results are written by this (the parent) process, one transaction per
cell as soon as the cell finishes, so the store has a single writer per sweep and a killed sweep
keeps every finished cell.  Numbers do not depend on the executor: a cell's randomness comes
only from its own seed ids.
"""
from __future__ import annotations

import contextlib
import os

EXECUTORS = ("serial", "processes", "dask")

#: seconds to wait for a Dask scheduler given by address (env GLUON_MVR_SCHEDULER_TIMEOUT)
SCHEDULER_TIMEOUT = 5.0

#: reuse rows of the same configuration computed by another code version or fingerprint
#: (``--reuse-stale``); off by default: such rows are recomputed
REUSE_STALE = False

#: counts over this process's :func:`execute` calls: cells found in the store ("reused"),
#: computed ("computed"), rows of other code found for a missing cell ("stale": recomputed, or
#: copied under the current key when :data:`REUSE_STALE`) -- the command line reports them
STATS = {"reused": 0, "computed": 0, "written": 0, "stale": 0, "stale_reused": 0}


class ExecutorError(RuntimeError):
    """The executor or device cannot run the cells (missing package, unreachable scheduler, no GPU)."""


def _write(store, cfg, key, result, version, env):
    store.put(key, cfg["kind"], cfg, result, version, env, result.get("wall_time", 0.0))
    STATS["written"] += 1


def check_executor(executor: str, scheduler: str | None = None) -> None:
    """Raise :class:`ExecutorError` when ``executor`` cannot run here (before any work)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    if executor == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise ExecutorError("--executor dask: dask.distributed is not installed "
                                "(pip install -e .[dask]); or use --executor processes") from None


def check_devices(configs) -> None:
    """Raise :class:`ExecutorError` when a cell asks for the GPU and none is usable."""
    if any(c.get("device") == "gpu" for c in configs):
        from gluon_mvr.methods.backend import gpu_available
        if not gpu_available():
            raise ExecutorError("--device gpu: no usable GPU (needs CuPy and a CUDA device: "
                                "pip install -e .[gpu]); allowed here: cpu")


def _reuse_stale(store, todo):
    """Split ``todo`` into cells still to compute; copy or count rows of other code."""
    from gluon_mvr.experiments.core.store import config_text
    from gluon_mvr.experiments.core.provenance import code_fingerprint
    index = store.by_config()
    left = []
    for key, cfg in todo:
        hit = index.get(config_text(cfg))
        if hit is None:
            left.append((key, cfg))
            continue
        STATS["stale"] += 1
        if not REUSE_STALE:
            left.append((key, cfg))
            continue
        old_key, version, env = hit
        result = store.get(old_key)
        # the copy keeps the environment it was computed in (its own fingerprint), so
        # `results list` and `results prune` still see it as other code's result
        store.put(key, cfg["kind"], cfg, result, version,
                  {**env, "reused_from": old_key, "reused_under": code_fingerprint()},
                  result.get("wall_time", 0.0))
        STATS["stale_reused"] += 1
    return left


def execute(cells, store, executor: str = "serial", scheduler: str | None = None, n_jobs: int = -1,
            progress=None, runner=None):
    """Run every cell of ``cells`` (``[(key, config), ...]``) missing from ``store``.

    Returns the number of cells computed.  ``progress`` is called once per finished cell;
    ``runner`` replaces :func:`experiments.cells.run_cell` (instrumentation, fault injection).
    Before any work: the executor must be usable (:func:`check_executor`) and, when a missing
    cell asks for the GPU, a GPU must be (:func:`check_devices`); a missing cell whose
    configuration is stored under another code fingerprint is recomputed, or reused when
    :data:`REUSE_STALE` (counted in :data:`STATS`).
    """
    from gluon_mvr.experiments.core.cells import environment, package_version, run_cell

    run_cell = runner or run_cell

    check_executor(executor, scheduler)
    done = store.get_many(k for k, _ in cells)
    todo = list({k: c for k, c in cells if k not in done}.items())   # each missing key once
    STATS["reused"] += len(done)
    if todo:
        check_devices(c for _, c in todo)
        todo = _reuse_stale(store, todo)
    version, env = package_version(), environment()
    if not todo:
        return 0
    if store.readonly:
        store._require_writable(f"store {len(todo)} missing cells")
    STATS["computed"] += len(todo)
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
    except ImportError:  # pragma: no cover - depends on the install
        raise ExecutorError("--executor dask: dask.distributed is not installed (pip install -e .[dask])") from None
    if scheduler:
        timeout = float(os.environ.get("GLUON_MVR_SCHEDULER_TIMEOUT", SCHEDULER_TIMEOUT))
        try:
            client = Client(scheduler, timeout=timeout)
        except Exception as exc:   # OSError, TimeoutError, ValueError (a malformed address)
            raise ExecutorError(f"--scheduler {scheduler}: cannot reach the Dask scheduler within "
                                f"{timeout:g} s ({type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''})"
                                ) from None
        try:
            yield client
        finally:
            client.close()
    else:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
