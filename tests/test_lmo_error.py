"""The inexact-LMO experiments: delta measurements, bound check, coupling, ``lmo-error`` CLI."""
import json

import numpy
import pytest

from gluon_mvr.experiments.studies.lmo.bound import check_run
from gluon_mvr.experiments.studies.lmo.error import (exact_lmo, inexact_direction, lmo_deltas, phi, realise_worst_case,
                                   worst_case)
from gluon_mvr.experiments.studies.lmo.momenta import DeltaTracker, build_family, momenta_table
from gluon_mvr.experiments.studies.lmo.replay import replay
from gluon_mvr.methods.inexact import newton_schulz
from gluon_mvr.methods.loop import run
from gluon_mvr.methods.presets import build_norm
from gluon_mvr.methods.schedules import horizon_schedule

TINY = {"quadratic": {"layers": 2, "dim": 4}, "l0l1": {"layers": 1, "dim": 4},
        "twolayer": {"dim": 4, "n_data": 32, "batch": 4, "estimate_pairs": 16, "estimate_steps": 10}}


# --- known facts --------------------------------------------------------------------------------

def test_jordan_plateau_near_0_3():
    worst = [worst_case("ns-jordan", T, 1e-1)["spectral"] for T in range(1, 11)]
    assert 0.25 <= min(worst) <= 0.35                      # never below ~0.3, however many steps
    for r in (1e-1, 1e-2, 1e-3):
        assert 0.25 <= worst_case("ns-jordan", 10, r)["spectral"] <= 0.35


def test_polar_express_five_steps_about_0_16():
    v = worst_case("polar-express", 5, 1e-3)["spectral"]
    assert 0.12 <= v < 0.2
    assert worst_case("polar-express", 8, 1e-3)["spectral"] < 1e-3   # converges where Jordan plateaus


def test_worst_case_confirmed_on_actual_matrices():
    for name, T, r in (("ns-jordan", 5, 1e-3), ("polar-express", 5, 1e-1), ("ns-cubic", 6, 1e-1)):
        wc = worst_case(name, T, r)
        m = realise_worst_case(name, T, r, wc["u_worst"])
        assert m["float64"]["spectral"] == pytest.approx(m["predicted"], abs=1e-7)
        assert m["float64"]["spectral"] == pytest.approx(wc["spectral"], abs=1e-6)
        assert m["float32"]["spectral"] == pytest.approx(wc["spectral"], abs=1e-4)


# --- sign conventions of the three measures ----------------------------------------------------

def test_deltas_sign_conventions():
    rng = numpy.random.default_rng(0)
    M = rng.standard_normal((5, 6, 4))
    exact = exact_lmo(M)
    assert numpy.allclose(exact, build_norm("spectral").lmo(M))          # full rank: the usual LMO
    zeros = lmo_deltas(M, exact)
    assert all(numpy.allclose(z, 0, atol=1e-12) for z in zeros)
    spec, align, over = lmo_deltas(M, 0.7 * exact)                       # shrunk: alignment 0.3, overshoot -0.3
    assert numpy.allclose(spec, 0.3) and numpy.allclose(align, 0.3) and numpy.allclose(over, -0.3)
    D = inexact_direction(M, "ns-jordan", 3)
    assert numpy.allclose(D, -newton_schulz(M, 3, "jordan"))             # lmo~ = -NS (NS ~ +UV^T)
    s = numpy.linalg.svd(M, compute_uv=False)
    u = s / numpy.sqrt((s ** 2).sum(axis=-1, keepdims=True))
    spec, align, over = lmo_deltas(M, D)
    assert numpy.allclose(spec, numpy.abs(phi("ns-jordan", 3, u) - 1).max(axis=-1), atol=1e-6)
    assert numpy.allclose(over, phi("ns-jordan", 3, u).max(axis=-1) - 1, atol=1e-6)
    assert numpy.all(spec >= numpy.maximum(align, over) - 1e-12)


# --- replay and momenta ---------------------------------------------------------------------------

def test_replay_reproduces_run_bit_for_bit():
    p = build_family("quadratic", TINY["quadratic"])
    sched = horizon_schedule("mvr1", 40, p.constants.L1)
    tr = run(p, "mvr1", 40, seeds=[0, 3], schedule=sched, lmo="ns-jordan", ns_steps=5)
    r = replay(p, "mvr1", 40, [0, 3], sched.radius, sched.one_minus_beta, sched.q,
               lmo_build=lambda n: build_norm(n, lmo="ns-jordan", ns_steps=5))
    assert numpy.array_equal(tr.stationarity, r.G) and numpy.array_equal(tr.final_value, r.final_value)


def test_replay_keeps_raw_records_and_its_own_divergence_flag():
    p = build_family("quadratic", {"layers": 1, "dim": 3})
    r = replay(p, "gluon", 8, [0, 1, 0], [[1e200], [0.01], [0.01]], 0.5)
    assert r.diverged.tolist() == [True, False, False]
    assert numpy.isinf(r.values[0, 1:]).all() and numpy.isfinite(r.values[1:]).all()   # as computed, not NaN
    assert numpy.isnan(r.G[0]) and numpy.isfinite(r.G[1:]).all()
    alone = replay(p, "gluon", 8, [0], 0.01, 0.5)                  # a batch element = its own run
    assert numpy.array_equal(r.values[2], alone.values[0]) and r.G[2] == alone.G[0]


def test_deltas_on_momenta_finite_per_layer():
    rows = momenta_table(["ns-jordan", "polar-express"], [1, 5], families=("quadratic", "twolayer"),
                         K=30, seeds=(0, 1), snapshots=5, family_params=TINY)
    assert rows
    layers = {(r["family"], r["method"], r["layer"]) for r in rows}
    assert len(layers) == 2 * 2 * 2                   # 2 families x gluon/mvr1 x 2 layers
    for r in rows:
        for k in ("spectral", "alignment", "overshoot", "effective", "spectral_median"):
            assert numpy.isfinite(r[k]), (r, k)
        assert r["spectral"] >= r["effective"] - 1e-12
    jordan5 = [r["spectral_median"] for r in rows if r["approximation"] == "ns-jordan" and r["steps"] == 5]
    assert min(jordan5) > 0.2                         # the plateau shows up on the momenta too


def test_tracker_measures_the_controlled_delta():
    p = build_family("quadratic", TINY["quadratic"])
    from gluon_mvr.experiments.studies.lmo.bound import lmo_builder
    for mode, a, o in (("adversarial", 0.25, -0.25), ("overshoot", -0.25, 0.25)):
        tr = DeltaTracker(p.layout, p.constants.norms)
        replay(p, "gluon", 10, [0], 0.01, 0.5, lmo_build=lmo_builder(f"controlled-{mode}", "controlled", 0.25),
               observe=tr)
        d = tr.deltas()
        assert numpy.allclose(d["spectral"], 0.25) and numpy.allclose(d["alignment"], a)
        assert numpy.allclose(d["overshoot"], o)


# --- bound check ------------------------------------------------------------------------------------

def test_bound_check_passes_and_a_too_small_delta_fails():
    p = build_family("l0l1", TINY["l0l1"])
    ok = check_run(p, "mvr1", 60, (0, 1), ("ns-jordan", "ns", 5))
    assert ok["ok"] and ok["bound_eff"] is not None and 0 < ok["tightness_eff"] <= 1
    assert ok["delta"]["effective"][0] > 0.1
    adv = ("controlled-adversarial", "controlled", 0.4)
    right = check_run(p, "mvr1", 60, (0, 1), adv, declared_delta=0.4)
    assert right["ok"], right["violations"]
    wrong = check_run(p, "mvr1", 60, (0, 1), adv, declared_delta=0.0)
    assert not wrong["ok"]
    text = " ".join(wrong["violations"])
    assert "hypothesis fails" in text and "bound at the declared delta" in text   # G_K > bound(delta=0)


# --- coupling -----------------------------------------------------------------------------------------

# the coupling study's tests: tests/test_lmo_coupling.py


# --- CLI ------------------------------------------------------------------------------------------------

def _cli(argv):
    from gluon_mvr.experiments.cli.main import main
    return main(["lmo-error", "--no-progress", *argv])


def test_cli_measure_json_and_store(tmp_path, capsys):
    out, store = tmp_path / "r.json", tmp_path / "s.sqlite"
    code = _cli(["--parts", "measure", "--methods", "ns-jordan,polar-express", "--steps", "5",
                 "--families", "quadratic", "--K", "20", "--seeds", "1", "--ratios", "1e-1,1e-3",
                 "--json", str(out), "--store", str(store)])
    assert code == 0
    text = capsys.readouterr().out
    assert "PASS  Jordan NS plateaus" in text and "(a) worst case" in text and "(b) on the momenta" in text
    doc = json.loads(out.read_text())
    assert {"config", "known_facts", "worst_case", "momenta", "timings", "failed", "provenance"} <= set(doc)
    assert {"approximation", "steps", "ratio", "spectral", "alignment", "overshoot", "u_worst", "matrix"} \
        <= set(doc["worst_case"][0])
    assert {"family", "method", "layer", "dtype", "spectral", "alignment", "overshoot", "effective"} \
        <= set(doc["momenta"][0])
    from gluon_mvr.experiments.core.store import ResultStore
    rows = list(ResultStore(str(store)).rows(kind="lmo-error"))
    assert len(rows) == 1 and rows[0]["result"]["worst_case"]
    assert ResultStore(str(store)).export_csv(str(tmp_path / "x.csv")) == 0   # export skips the row


def test_cli_bound_part_json(tmp_path, monkeypatch):
    import gluon_mvr.experiments.studies.lmo.bound as lb
    monkeypatch.setattr(lb, "DEFAULT_LMOS", (("ns-jordan", "ns", 5),))
    out = tmp_path / "b.json"
    code = _cli(["--parts", "bound", "--families", "quadratic", "--K", "20", "--seeds", "1",
                 "--dtypes", "float64", "--json", str(out), "--store", ""])
    assert code == 0
    doc = json.loads(out.read_text())
    assert len(doc["bound_check"]) == 2 and all(r["ok"] for r in doc["bound_check"])
    assert {"G", "delta", "bound_spec", "bound_eff", "tightness_eff", "ok", "violations"} <= set(doc["bound_check"][0])


@pytest.mark.parametrize("argv, field", [(["--methods", "foo"], "--methods"), (["--steps", "0"], "--steps"),
                                         (["--steps", "x"], "--steps"), (["--dtypes", "float16"], "--dtypes"),
                                         (["--families", "nope"], "--families"), (["--K", "1"], "--K"),
                                         (["--parts", "all"], "--parts")])
def test_cli_bad_input_exits_2(argv, field, capsys):
    assert _cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0]
