"""Cells of the network studies: a plain-JSON config (``kind = "nets"``) -> a result, stored in the
project's SQLite store under ``cell_key(config)``; missing cells run in parallel processes."""
from __future__ import annotations

import time

from gluon_mvr.experiments.core.cells import cell_key, environment, package_version
from gluon_mvr.experiments.core.store import ResultStore


def run_cell(config: dict) -> dict:
    """Run one cell (dispatch on ``config["study"]``); imported lazily in each worker process."""
    import torch
    torch.set_num_threads(1)
    study = config["study"]
    if study == "train":
        from gluon_mvr.nets.models import get_task
        from gluon_mvr.nets.train import train
        task = get_task(config["task"], **config.get("task_params", {}))
        return train(task, config["optimizer"], config["lr"], config["steps"], config["seed"],
                     config["n_evals"], **config.get("options", {}))
    if study == "smoothness":
        from gluon_mvr.nets.smoothness import run_smoothness_cell
        return run_smoothness_cell(config)
    if study == "coupling":
        from gluon_mvr.nets.coupling import run_coupling_cell
        return run_coupling_cell(config)
    raise ValueError(f"unknown nets study {study!r}")


def _timed(config):
    t0 = time.perf_counter()
    out = run_cell(config)
    return config, out, time.perf_counter() - t0


def env():
    import torch
    return {**environment(), "torch": torch.__version__}


def run_cells(configs, store: ResultStore, jobs: int = 2, progress=None) -> dict:
    """``{key: result}`` for every config: stored cells are read, missing ones run (``jobs``
    processes) and written one by one as they finish (a killed sweep keeps the finished ones)."""
    configs = [dict(c, kind="nets") for c in configs]
    keys = [cell_key(c) for c in configs]
    found = store.get_many(keys)
    todo, seen = [], set(found)
    for k, c in zip(keys, configs):
        if k not in seen:
            todo.append(c)
            seen.add(k)
    if progress:
        progress(len(configs) - len(todo))
    version, environ = package_version(), env()
    if todo and jobs > 1:
        from joblib import Parallel, delayed
        results = Parallel(n_jobs=min(jobs, len(todo)), return_as="generator_unordered")(
            delayed(_timed)(c) for c in todo)
    else:
        results = (_timed(c) for c in todo)
    for c, out, wall in results:
        k = cell_key(c)
        store.put(k, "nets", c, out, version, environ, wall)
        found[k] = out
        if progress:
            progress(1)
    return {k: found[k] for k in keys}
