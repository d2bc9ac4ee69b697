"""Methods as values: compositions, a new estimator defined here alone, controls, round trips."""
from dataclasses import dataclass
from typing import ClassVar

import numpy
import pytest

import gluon_mvr as gm
from gluon_mvr.methods import (MomentumEstimator, MVR1Estimator, NoMomentumEstimator, PreviousSampleEstimator,
                               ProblemNorms, Spectral, NewtonSchulz, TheorySchedule, get_method, run)
from gluon_mvr.methods.controls import controls_for
from gluon_mvr.methods.estimators import ESTIMATORS, Estimator, register_estimator
from gluon_mvr.methods.method import Method
from gluon_mvr.problems import get_problem

PROBLEM = dict(layers=2, dim=4, sigma=0.5)


@dataclass(frozen=True)
class StormEstimator(Estimator):
    r"""A STORM form with its own parameter ``a`` (Cutkosky & Orabona 2019), defined in this test
    file only: :math:`d^k = g^k + (1-a)(d^{k-1} - g^k_{prev})`."""

    a: float = 0.1

    name: ClassVar[str] = "test-storm"
    calls_per_step: ClassVar[int] = 2
    same_sample_previous: ClassVar[bool] = True
    claim: ClassVar[str] = "mvr1"

    def step(self, state, g, g_prev, params):
        (d,) = state
        d = g + (1.0 - self.a) * (d - g_prev)
        return d, (d,)


register_estimator(StormEstimator)


def test_a_new_estimator_runs_through_run_and_the_rate_check():
    problem = get_problem("quadratic", **PROBLEM)
    storm = Method(ProblemNorms(), StormEstimator(a=0.2), TheorySchedule("mvr1"), name="storm")
    traj = run(problem, storm, K=30, seeds=3)
    assert traj.method == "storm" and traj.total_oracle_calls == 1 + 2 * 29
    assert numpy.isfinite(traj.stationarity).all()
    # with 1 - a equal to MVR-1's beta it IS MVR-1 (same arithmetic), bit for bit
    K = 30
    beta = 1.0 - TheorySchedule("mvr1").build(K, problem).one_minus_beta
    same = run(problem, Method(ProblemNorms(), StormEstimator(a=1.0 - beta), TheorySchedule("mvr1"), "s"), K=K, seeds=3)
    ref = run(problem, "mvr1", K=K, seeds=3)
    assert numpy.array_equal(same.grad_norms, ref.grad_norms)
    res = gm.rate_check("quadratic", [storm], horizons=[20, 40, 80], seeds=2, params=PROBLEM,
                        executor="serial", bootstrap=100, noise_share=False)
    r = res["storm"]
    assert r.theory == pytest.approx(-1 / 3)           # the claim it declares
    assert {c.kind for c in r.controls} == {"momentum", "no-momentum", "prev-sample"}


def test_presets_are_compositions_equal_to_their_explicit_form():
    problem = get_problem("quadratic", **PROBLEM)
    explicit = Method(ProblemNorms(), MVR1Estimator(), TheorySchedule("mvr1"), name="mvr1")
    assert explicit == get_method("mvr1")
    a, b = run(problem, explicit, K=25, seeds=2), run(problem, "mvr1", K=25, seeds=2)
    assert numpy.array_equal(a.grad_norms, b.grad_norms) and numpy.array_equal(a.values, b.values)


def test_the_inexact_lmo_is_part_of_the_geometry():
    problem = get_problem("quadratic", **PROBLEM)
    muon_ns = get_method("muon").with_lmo(NewtonSchulz(steps=5))
    assert muon_ns.geometry == Spectral(lmo=NewtonSchulz(steps=5))
    a = run(problem, muon_ns, K=20, seeds=2)
    b = run(problem, "muon", K=20, seeds=2, lmo="ns-jordan", ns_steps=5)     # the old keyword form
    assert numpy.array_equal(a.grad_norms, b.grad_norms)
    exact = run(problem, "muon", K=20, seeds=2)
    assert not numpy.array_equal(a.grad_norms, exact.grad_norms)


@pytest.mark.parametrize("name", gm.METHOD_NAMES)
def test_descriptions_round_trip(name):
    m = get_method(name)
    assert Method.from_description(m.describe()) == m
    for c in controls_for(name):
        assert Method.from_description(c.method.describe()) == c.method


def test_controls_share_geometry_and_schedule_and_lack_the_mechanism():
    problem = get_problem("quadratic", **PROBLEM)
    for name in ("mvr1", "mvr2", "mvr3"):
        m = get_method(name)
        cs = {c.kind: c.method for c in controls_for(name)}
        assert set(cs) == {"momentum", "no-momentum", "prev-sample"}
        for c in cs.values():
            assert c.geometry == m.geometry
            assert c.build_schedule(100, problem).radius == m.build_schedule(100, problem).radius
        assert isinstance(cs["momentum"].estimator, MomentumEstimator)
        assert isinstance(cs["no-momentum"].estimator, NoMomentumEstimator)
        assert isinstance(cs["prev-sample"].estimator, PreviousSampleEstimator)
        # plain momentum averages over as many steps as the method: 1 - beta = the method's mixing
        s, mine = cs["momentum"].build_schedule(1000, problem), m.build_schedule(1000, problem)
        assert s.one_minus_beta == (mine.q if name != "mvr1" else mine.one_minus_beta) and s.q == 1.0
    assert [c.kind for c in controls_for("gluon")] == ["no-momentum"]
    assert controls_for("gluon-det") == []


def test_no_momentum_control_is_momentum_with_beta_zero():
    """The control's update is the raw stochastic gradient: the same run as momentum at beta = 0."""
    problem = get_problem("quadratic", **PROBLEM)
    sched = TheorySchedule("mvr1").build(40, problem)
    from dataclasses import replace
    beta0 = replace(sched, one_minus_beta=1.0)
    a = run(problem, Method(ProblemNorms(), NoMomentumEstimator(), TheorySchedule("mvr1"), "nm"), K=40, seeds=2)
    b = run(problem, "gluon", K=40, seeds=2, schedule=beta0)
    assert numpy.array_equal(a.grad_norms, b.grad_norms)


def test_previous_sample_mvr1_collapses_to_the_raw_gradient():
    """A finding recorded in docs/theory.md §8: from M^0 = g^0, M^k = g^k + beta (M^{k-1} - g^{k-1})
    gives M^k = g^k for every k, so the previous-sample contrast of MVR-1 is the no-momentum
    control, whatever beta (checked here, bit for bit)."""
    problem = get_problem("quadratic", **PROBLEM)
    a = run(problem, "mvr1-prev", K=40, seeds=2)
    b = run(problem, Method(ProblemNorms(), NoMomentumEstimator(), TheorySchedule("mvr1"), "nm"), K=40, seeds=2)
    assert numpy.array_equal(a.grad_norms, b.grad_norms)


def test_method_validates_its_parts():
    with pytest.raises(TypeError, match="estimator"):
        Method(ProblemNorms(), "mvr1", TheorySchedule("mvr1"))
    with pytest.raises(ValueError, match="claim"):
        TheorySchedule("adam")
    with pytest.raises(ValueError, match="NewtonSchulz.steps"):
        NewtonSchulz(steps=0)
    with pytest.raises(ValueError, match="unknown method"):
        get_method("adam")
    assert "test-storm" in ESTIMATORS


def test_the_python_api_matches_the_command_line(tmp_path, capsys):
    """gm.rate_check prints the CLI's numbers for the same settings; to_frame has one row per
    cell and seed with every configuration column; plot returns Axes; to_json round-trips."""
    import json
    import matplotlib
    matplotlib.use("Agg")
    from gluon_mvr.experiments.cli.main import main
    res = gm.rate_check("quadratic", ["gluon", "mvr1"], horizons=[20, 40, 80], seeds=3, params=dict(layers=2, dim=3),
                        executor="serial", bootstrap=200)
    assert main(["rate-check", "--problem", "quadratic", "--param", "layers=2", "--param", "dim=3",
                 "--methods", "gluon,mvr1", "--horizons", "20,40,80", "--seeds", "3", "--executor", "serial",
                 "--store", str(tmp_path / "s.sqlite"), "--json", str(tmp_path / "o.json"), "--no-progress"]) in (0, 1)
    doc = json.loads((tmp_path / "o.json").read_text())
    api = res.to_json()["results"]
    for a, b in zip(api, doc["results"]):
        assert a["method"] == b["method"] and a["slope"] == b["slope"] and a["G"] == b["G"]
        assert a["verdict"] == b["verdict"] and a["mechanism"] == b["mechanism"]
    assert res.table().splitlines()[0] in capsys.readouterr().out
    df = res.to_frame()
    assert len(df) == sum(len(c["result"]["seeds"]) for c in res.cells)
    assert {"row", "role", "control_of", "K", "seed", "G", "estimator", "geometry", "schedule"} <= set(df.columns)
    assert set(df[df.role == "control"].control_of) == {"gluon", "mvr1"}
    ax = res.plot()
    assert len(ax.get_lines()) >= 2


def test_other_studies_return_result_objects():
    cert = gm.certify("quadratic", dict(layers=2, dim=3), n_pairs=32)
    assert cert.document["ok"] is True and len(cert.to_frame()) == 2 and "layer" in cert.table()
    tuned = gm.tuned_rates("quadratic", ["gluon"], horizons=[20, 40], seeds=2, params=dict(layers=1, dim=2),
                           executor="serial", bootstrap=100, span=1, search_seeds=2)
    df = tuned.to_frame()
    assert list(df.K) == [20, 40] and (df.G > 0).all() and "tuned rate check" in tuned.table()


def test_the_lmo_study_returns_a_result_object():
    res = gm.lmo_error(parts=("kill",))
    df = res.to_frame()
    assert len(df) == 4 and {"mutant", "killed"} <= set(df.columns)
    assert (df.killed == df.mutant).all()                 # every mutant killed, the true bound not
    assert "instance where delta matters" in res.table()
    with pytest.raises(ValueError, match="parts"):
        gm.lmo_error(parts=("nope",))


def test_a_composition_keeps_its_own_schedule_constants_in_the_rate_check():
    """The check's radius/momentum scales apply to presets named by the user, not to a Method
    passed with constants of its own (gm.run and gm.rate_check run the same schedule)."""
    from gluon_mvr.experiments.core.config import validate
    from gluon_mvr.experiments.studies.rate_check import rate_check_cells
    own = Method(ProblemNorms(), MVR1Estimator(), TheorySchedule("mvr1", radius_scale=0.5, momentum_scale=3.0), "own")
    cfg = validate({"problem": "quadratic", "params": PROBLEM, "methods": [own, "mvr1"], "horizons": [20, 40],
                    "seeds": 2, "store": ":memory:", "radius_scale": 4.0})
    grid, _ = rate_check_cells(cfg)
    sched = lambda row: grid[row, 20, None][1]["composition"]["schedule"]      # noqa: E731
    assert sched("own")["radius_scale"] == 0.5 and sched("own")["momentum_scale"] == 3.0
    assert sched("own~momentum")["radius_scale"] == 0.5
    assert sched("mvr1")["radius_scale"] == 4.0 and sched("mvr1~no-momentum")["radius_scale"] == 4.0


def test_one_window_cannot_be_called_stable_and_tuned_is_its_own_study():
    from gluon_mvr.experiments.core.fitting import stability
    assert stability([-0.33]) == "not checked" and stability([-0.33, -0.34]) == "stable"
    assert stability([-0.40, -0.33]) == "drifting"
    res = gm.rate_check("quadratic", ["mvr1"], horizons=[20, 40, 80], seeds=2, params=PROBLEM, controls="off",
                        executor="serial", bootstrap=100, noise_share=False)
    assert res.reports[0].stability == "not checked" and res.reports[0].verdict != "match"
    with pytest.raises(ValueError, match="tuned_rates"):
        gm.rate_check("quadratic", ["mvr1"], tuned=True)
    with pytest.raises(ValueError, match="belongs to"):
        @register_estimator
        @dataclass(frozen=True)
        class Impostor(Estimator):
            name: ClassVar[str] = "momentum"
