"""Reliability: pinned numerics, a Dask worker dying mid-cell, divergence in tables and fits."""
import os

import numpy
import pytest

from gluon_mvr.experiments.core.cells import cell_key, make_cell, run_cell
from gluon_mvr.experiments.core.executors import execute
from gluon_mvr.experiments.core.fitting import fit_rate
from gluon_mvr.experiments.core.store import ResultStore
from gluon_mvr.methods import run
from gluon_mvr.problems import get_problem


def test_pinned_small_trajectory():
    """Catches an unintended change to the numerics (values computed once, by this code)."""
    p = get_problem("quadratic", layers=2, dim=3, sigma=0.5)
    traj = run(p, "mvr1", K=4, seeds=[0, 1])
    expected_values = numpy.array([
        [1.0, 0.6351453276604763, 0.9670559968033107, 0.705010656959779],
        [1.0, 0.9260243946467585, 0.7214072264263591, 0.8871964630936056]])
    numpy.testing.assert_allclose(traj.values, expected_values, rtol=1e-10)
    expected_final = numpy.array([0.7891278400707161, 0.6490536654449347])
    numpy.testing.assert_allclose(traj.final_value, expected_final, rtol=1e-10)


def _die_once(config, marker):
    """Kill the worker process the first time a cell runs (a worker dying mid-cell)."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return run_cell(config)


def test_dask_worker_death_mid_cell_loses_and_duplicates_nothing(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    import cloudpickle
    import sys
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "died"
    cells = [make_cell("quadratic", {"layers": 2, "dim": 3}, m, K, [0, 1], record_every=1)
             for m in ("gluon", "mvr1") for K in (10, 20)]
    todo = [(cell_key(c), c) for c in cells]

    def runner(cfg):
        return _die_once(cfg, str(marker))

    store = ResultStore(tmp_path / "dask.sqlite")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        n = execute(todo, store, "dask", scheduler=cluster.scheduler_address, runner=runner)
    assert marker.exists()                       # a worker really died
    assert n == len(todo)
    assert store.count() == len(todo)            # nothing lost, nothing duplicated
    reference = ResultStore(tmp_path / "serial.sqlite")
    execute(todo, reference, "serial")
    for key, _ in todo:
        a, b = store.get(key), reference.get(key)
        a.pop("wall_time"), b.pop("wall_time")
        assert a == b                            # and bit for bit what a serial run stores


def test_divergence_is_shown_and_excluded_from_fits(tmp_path):
    from gluon_mvr.experiments.core.config import validate
    from gluon_mvr.experiments.studies.rate_check import format_table, rate_check
    cfg = validate({"problem": "quadratic", "params": {"layers": 1, "dim": 2}, "methods": ["gluon"],
                    "horizons": [10, 20], "seeds": 3, "store": str(tmp_path / "s.sqlite"),
                    "executor": "serial", "noise_share": False})
    reports = rate_check(cfg).reports
    assert reports[0].diverged == 0
    # a seed with a NaN measurement is excluded from the fit and counted
    G = numpy.array([[1.0, 0.8], [1.1, numpy.nan], [0.9, 0.7]])
    fit = fit_rate([10, 20], G, tail=2)
    assert fit.n_seeds == 2 and fit.n_excluded == 1
    heads = [ln for ln in format_table(reports, "quadratic").splitlines() if ln.startswith("method")]
    assert any("div" in h.split() for h in heads)
