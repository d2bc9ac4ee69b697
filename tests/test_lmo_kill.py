"""The instance where delta matters and the seeded kill search (experiments.studies.lmo.kill)."""
import math

import numpy
import pytest

from gluon_mvr.experiments.studies.lmo.bound import lmo_builder
from gluon_mvr.experiments.studies.lmo.kill import (Instance, delta_instance, fixed_effective_step, grid_points,
                                                    inexact_bound, kill_search, kill_table, mutants)
from gluon_mvr.experiments.studies.lmo.replay import replay

GRID = {"delta": [0.3, 0.7, 0.9], "t_scale": [1.0, 16.0], "K": [50]}


@pytest.mark.parametrize("delta", [0.0, 0.4, 0.8])
def test_descent_lemma_holds_with_equality_on_the_instance(delta):
    """G_K = (Delta0 - f_K + K L0 (1+d)^2 t^2 / 2) / (K (1-d) t) exactly: the bound minus f_K / (K(1-d)t)."""
    inst = delta_instance({"delta": delta, "t_scale": 4.0, "K": 40})
    res = replay(inst.problem, "gluon", inst.K, (0,), inst.radius, 1.0, lmo_build=lmo_builder(*inst.lmo))
    L0 = inst.problem.constants.L0[0]
    t, d, K = inst.radius, delta, inst.K
    want = (inst.problem.delta0() - res.final_value[0] + K * L0 * (1 + d) ** 2 * t * t / 2) / (K * (1 - d) * t)
    assert res.G[0] == pytest.approx(want, rel=1e-10)
    bound = inexact_bound(inst)
    assert bound == pytest.approx(want + res.final_value[0] / (K * (1 - d) * t), rel=1e-10)


def test_G_moves_with_delta_at_fixed_effective_step_and_the_rescaling_does_not():
    rows = fixed_effective_step(deltas=(0.0, 0.4, 0.8), K=50, oracles=("rotation-stretch", "controlled-adversarial"))
    by = {(r["oracle"], r["delta"]): r["G_ratio"] for r in rows}
    assert by["controlled-adversarial", 0.8] == pytest.approx(1.0, rel=1e-12)     # the control
    assert by["rotation-stretch", 0.4] > 1.02 and by["rotation-stretch", 0.8] > 1.3
    assert by["rotation-stretch", 0.8] > by["rotation-stretch", 0.4]


@pytest.fixture(scope="module")
def table():
    return {r["bound"]: r for r in kill_table(GRID, seeds=(0,))}


def test_the_inexact_bound_survives_and_is_tight_on_the_instance(table):
    true = table["inexact bound [R]"]
    assert not true["killed"] and true["n_applicable"] == true["n_points"] == 6
    assert 0.98 < true["worst_ratio"] <= 1.0          # tight to f_K: any weaker delta-dependence shows


@pytest.mark.parametrize("name", list(mutants()))
def test_wrong_delta_dependence_is_killed(table, name):
    r = table[name]
    assert r["killed"] and r["worst_ratio"] > 1.5, r
    assert r["where"]["delta"] >= 0.7


def test_points_outside_the_hypotheses_are_never_kills():
    """Declare delta smaller than the oracle's: the measured delta_eff exceeds it, the point is excluded."""
    def lying(pt):
        inst = delta_instance(pt)
        return Instance(problem=inst.problem, K=inst.K, radius=inst.radius, one_minus_beta=1.0, lmo=inst.lmo,
                        delta=0.05, point=pt)
    r = kill_search(inexact_bound, lying, {"delta": [0.7], "t_scale": [16.0], "K": [30]})
    assert r["n_outside"] == 1 and r["n_applicable"] == 0 and not r["killed"] and r["worst_ratio"] == -math.inf
    # the same point declared honestly is applicable
    r = kill_search(inexact_bound, delta_instance, {"delta": [0.7], "t_scale": [16.0], "K": [30]})
    assert r["n_outside"] == 0 and r["n_applicable"] == 1 and not r["killed"]


def test_seeded_random_points_are_reproducible_and_inside_the_ranges():
    a = grid_points(GRID, n_random=5, search_seed=3)
    b = grid_points(GRID, n_random=5, search_seed=3)
    assert a == b and len(a) == 6 + 5
    for p in a[6:]:
        assert 0.3 <= p["delta"] <= 0.9 and 1.0 <= p["t_scale"] <= 16.0 and p["K"] == 50
    assert grid_points(GRID, n_random=5, search_seed=4)[6:] != a[6:]
    assert numpy.all([isinstance(p["K"], int) for p in a])


def _cli(argv):
    from gluon_mvr.experiments.cli.main import main
    return main(["lmo-error", "--no-progress", "--store", "", *argv])


def test_cli_kill_part_passes_and_fails_when_a_mutant_survives(tmp_path, monkeypatch, capsys):
    import json

    import gluon_mvr.experiments.studies.lmo.kill as lk
    monkeypatch.setattr(lk, "DEFAULT_GRID", GRID)
    out = tmp_path / "k.json"
    assert _cli(["--parts", "kill", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [r["bound"] for r in doc["kill"]][0] == "inexact bound [R]"
    assert all(r["killed"] == r["mutant"] for r in doc["kill"])
    assert "KILLED" in capsys.readouterr().out
    # a "mutant" that is the true bound cannot be killed: the check reports the lost power, exit 1
    monkeypatch.setattr(lk, "mutants", lambda: {"not a mutant": lk.inexact_bound})
    assert _cli(["--parts", "kill"]) == 1
    assert "CHECK FAILED" in capsys.readouterr().out
