"""experiments.cells and experiments.executors: cell keys, run_cell, executors agreeing bit for bit,
and a sweep killed with SIGKILL resuming to exactly the uninterrupted result."""
import copy
import json
import random
import signal
import subprocess
import sys
import time

import pytest

from gluon_mvr.experiments.core import cells as cells_mod
from gluon_mvr.experiments.core.cells import cell_key, make_cell, run_cell
from gluon_mvr.experiments.core.executors import EXECUTORS, execute
from gluon_mvr.experiments.core.store import ResultStore

PROBLEM, PARAMS = "quadratic", {"layers": 2, "dim": 3}
# the documented keys of run_cell's summary (it may carry more)
RESULT_KEYS = {"seeds", "G", "G_min", "final_value", "final_grad_norm", "diverged_at", "oracle_calls",
               "schedule", "curve_iterations", "curve", "wall_time"}


def _cell(method="mvr1", K=40, seeds=(0, 1, 2), **kw):
    return make_cell(PROBLEM, PARAMS, method, K, seeds, **kw)


def _sweep(methods=("gluon", "mvr1"), horizons=(20, 40, 80), seeds=(0, 1, 2)):
    out = [_cell(m, K, seeds) for m in methods for K in horizons]
    return [(cell_key(c), c) for c in out]


def _no_wall(result):
    return {k: v for k, v in result.items() if k != "wall_time"}


def _stored(store):
    """key -> (kind, config, result without wall_time) as canonical JSON."""
    return {r["key"]: json.dumps([r["kind"], r["config"], _no_wall(r["result"])], sort_keys=True)
            for r in store.rows()}


# --- cells -------------------------------------------------------------------------------------

def test_cell_key_is_stable_and_independent_of_dict_order():
    a = _cell()
    b = json.loads(json.dumps(a))
    reordered = {k: b[k] for k in reversed(list(b))}
    reordered["params"] = {k: b["params"][k] for k in reversed(list(b["params"]))}
    reordered["composition"] = {k: b["composition"][k] for k in reversed(list(b["composition"]))}
    reordered["composition"]["schedule"] = {k: b["composition"]["schedule"][k]
                                            for k in reversed(list(b["composition"]["schedule"]))}
    assert cell_key(a) == cell_key(b) == cell_key(reordered)
    assert cell_key(a) == cell_key(_cell())
    assert make_cell(PROBLEM, {"dim": 3, "layers": 2}, "mvr1", 40, [0, 1, 2]) == a
    assert len(cell_key(a)) == 64 and int(cell_key(a), 16) >= 0


def _leaves(d, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, prefix + (k,))
        else:
            yield prefix + (k,), v


def _changed(v):
    if isinstance(v, bool):
        return not v
    if isinstance(v, (int, float)):
        return v + 1
    if isinstance(v, str):
        return v + "x"
    if isinstance(v, list):
        return v + [99]
    if v is None:
        return "x"
    raise AssertionError(type(v))


def test_cell_key_changes_when_any_field_changes():
    base = _cell()
    keys = {cell_key(base)}
    paths = list(_leaves(base))
    assert len(paths) >= 15
    for path, value in paths:
        c = copy.deepcopy(base)
        d = c
        for p in path[:-1]:
            d = d[p]
        d[path[-1]] = _changed(value)
        keys.add(cell_key(c))
    assert len(keys) == len(paths) + 1
    # and through make_cell's own arguments
    variants = [_cell(), _cell(method="gluon"), _cell(K=41), _cell(seeds=(0, 1)), _cell(noise=False),
                _cell(radius_scale=3.0), _cell(momentum_scale=2.0), _cell(beta=0.25), _cell(record_every=2),
                _cell(root_seed=1), _cell(dtype="float32"), _cell(lmo="ns-quintic"),
                make_cell(PROBLEM, {"layers": 2, "dim": 4}, "mvr1", 40, (0, 1, 2)),
                make_cell("l0l1", PARAMS, "mvr1", 40, (0, 1, 2))]
    assert len({cell_key(c) for c in variants}) == len(variants)


def test_run_cell_output_has_documented_keys_and_shapes():
    cfg = _cell("mvr1", 40, (0, 1, 2))
    r = run_cell(cfg)
    assert RESULT_KEYS <= set(r)
    assert r["seeds"] == [0, 1, 2]
    for k in ("G", "G_min", "final_value", "final_grad_norm", "diverged_at"):
        assert len(r[k]) == 3, k
    assert all(isinstance(v, float) and v > 0 for v in r["G"])
    assert all(gm <= g for gm, g in zip(r["G_min"], r["G"]))
    assert r["diverged_at"] == [-1, -1, -1]
    assert r["oracle_calls"] == 1 + 2 * 39          # MVR: two stochastic gradients per step after the first
    assert len(r["curve"]) == 3 and all(len(c) == len(r["curve_iterations"]) for c in r["curve"])
    assert r["curve_iterations"][0] == 0 and r["curve_iterations"][-1] == 39
    assert isinstance(r["schedule"], dict) and isinstance(r["wall_time"], float)
    json.dumps(r)                                    # JSON-able as stored


def test_run_cell_is_deterministic():
    cfg = _cell("mvr2", 60, (0, 1, 2))
    a = run_cell(cfg)
    cells_mod._problem.cache_clear()                 # rebuild the problem too
    b = run_cell(json.loads(json.dumps(cfg)))
    assert _no_wall(a) == _no_wall(b)
    assert json.dumps(_no_wall(a)) == json.dumps(_no_wall(b))


@pytest.mark.parametrize("method", ["gluon", "mvr1", "mvr3"])
def test_seed_batch_equals_concatenation_of_single_seeds(method):
    both = run_cell(_cell(method, 50, (0, 1)))
    one = [run_cell(_cell(method, 50, (s,))) for s in (0, 1)]
    for k in ("G", "G_min", "final_value", "final_grad_norm", "curve"):
        assert both[k] == one[0][k] + one[1][k], k          # bitwise: list equality of floats
    assert both["oracle_calls"] == one[0]["oracle_calls"]


def test_seeds_differ_and_noise_off_makes_them_equal():
    noisy = run_cell(_cell("mvr1", 40, (0, 1, 2)))
    assert len(set(noisy["G"])) == 3
    quiet = run_cell(_cell("mvr1", 40, (0, 1, 2), noise=False))
    assert len(set(quiet["G"])) == 1 and quiet["G"][0] != noisy["G"][0]


def test_oracle_calls_do_not_depend_on_record_every():
    every = run_cell(_cell("mvr1", 80, (0,), record_every=1))
    sparse = run_cell(_cell("mvr1", 80, (0,), record_every=10))
    assert sparse["oracle_calls"] == every["oracle_calls"] == 1 + 2 * 79


# --- executors ---------------------------------------------------------------------------------

def test_unknown_executor_is_a_value_error_naming_the_allowed_ones(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    with pytest.raises(ValueError) as exc:
        execute(_sweep(horizons=(20,)), store, executor="threads")
    msg = str(exc.value)
    assert all(name in msg for name in EXECUTORS) and "threads" in msg
    assert store.count() == 0


def test_serial_processes_and_dask_store_identical_results(tmp_path):
    sweep = _sweep()
    assert len({k for k, _ in sweep}) == 6
    stored = {}
    for executor, kw in (("serial", {}), ("processes", {"n_jobs": 2}), ("dask", {})):
        store = ResultStore(tmp_path / f"{executor}.sqlite")
        ticks = []
        n = execute(sweep, store, executor=executor, progress=lambda: ticks.append(1), **kw)
        assert n == 6 and len(ticks) == 6 and store.count() == 6, executor
        stored[executor] = _stored(store)
        # a rerun finds every cell and computes nothing (the Dask one starts no cluster either)
        assert execute(sweep, store, executor=executor, **kw) == 0
        assert store.count() == 6
    assert set(stored["serial"]) == {k for k, _ in sweep}
    assert stored["processes"] == stored["serial"]
    assert stored["dask"] == stored["serial"]
    # and the stored numbers are run_cell's, bit for bit
    key, cfg = sweep[4]
    assert json.loads(stored["serial"][key])[2] == _no_wall(run_cell(cfg))


def test_execute_runs_only_the_missing_cells(tmp_path, monkeypatch):
    sweep = _sweep(horizons=(20, 40))
    store = ResultStore(tmp_path / "s.sqlite")
    assert execute(sweep[:2], store, "serial") == 2
    before = {r["key"]: r["created"] for r in store.rows()}
    computed = []
    orig = cells_mod.run_cell
    monkeypatch.setattr(cells_mod, "run_cell", lambda cfg: computed.append(cell_key(cfg)) or orig(cfg))
    assert execute(sweep, store, "serial") == 2
    assert sorted(computed) == sorted(k for k, _ in sweep[2:])
    assert {r["key"]: r["created"] for r in store.rows() if r["key"] in before} == before
    assert store.count() == 4


# --- resume after SIGKILL ----------------------------------------------------------------------

RESUME_SWEEP = dict(methods=("gluon", "mvr1"), horizons=(100, 200, 400, 800), seeds=(0, 1, 2))
CHILD = """
import sys
from gluon_mvr.experiments.core.cells import cell_key, make_cell
from gluon_mvr.experiments.core.executors import execute
from gluon_mvr.experiments.core.store import ResultStore
cells = [make_cell("quadratic", {{"layers": 2, "dim": 3}}, m, K, {seeds!r})
         for m in {methods!r} for K in {horizons!r}]
store = ResultStore(sys.argv[1])
print("ready", flush=True)
print("computed", execute([(cell_key(c), c) for c in cells], store, "serial"))
"""


def _child(store_path):
    code = CHILD.format(**RESUME_SWEEP)
    return subprocess.Popen([sys.executable, "-c", code, str(store_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _kill_after(path, n_stored, rng, timeout=60.0):
    proc = _child(path)
    assert proc.stdout.readline().strip() == "ready", proc.communicate()
    store = ResultStore(path)                        # exists now, in WAL mode
    deadline = time.monotonic() + timeout
    while store.count() < n_stored:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.08))               # somewhere inside a later cell, or a write
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    proc.communicate()


def _check_complete_rows(store, expected_cfg, result_keys):
    for row in store.rows():
        assert set(row["result"]) == result_keys
        assert row["config"] == expected_cfg[row["key"]]
        assert cell_key(row["config"]) == row["key"]
        assert len(row["result"]["G"]) == len(row["result"]["seeds"]) == 3


def test_sweep_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    sweep = _sweep(**RESUME_SWEEP)
    assert len(sweep) == 8
    expected_cfg = dict(sweep)
    ref = ResultStore(tmp_path / "ref.sqlite")
    assert execute(sweep, ref, "serial") == 8
    result_keys = set(next(ref.rows())["result"])
    assert RESULT_KEYS <= result_keys

    path = tmp_path / "killed.sqlite"
    rng = random.Random(1234)
    counts = []
    for n_stored in (1, 4):
        _kill_after(path, n_stored, rng)
        store = ResultStore(path)
        counts.append(store.count())
        assert n_stored <= counts[-1] < 8
        _check_complete_rows(store, expected_cfg, result_keys)   # no partial row after a kill
    assert counts[1] >= counts[0]

    store = ResultStore(path)
    before = {r["key"]: r["created"] for r in store.rows()}
    ticks = []
    computed = execute(sweep, store, "serial", progress=lambda: ticks.append(1))
    assert computed == len(ticks) == 8 - counts[-1]        # only the missing cells
    assert {r["key"]: r["created"] for r in store.rows() if r["key"] in before} == before
    assert store.count() == 8
    _check_complete_rows(store, expected_cfg, result_keys)
    assert _stored(store) == _stored(ref)

    # a further run (in a fresh process) computes nothing
    proc = _child(path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == ["ready", "computed", "0"]
