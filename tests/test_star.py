"""Star-convex (Frank–Wolfe) schedules, the ball form of the loop, and the gap criterion."""
import numpy
import pytest

from gluon_mvr.experiments.core.config import validate
from gluon_mvr.experiments.studies.rate_check import rate_check
from gluon_mvr.methods import run
from gluon_mvr.methods.norms import get_norm
from gluon_mvr.methods.schedules import star_decreasing_schedule, star_horizon_schedule, star_step
from gluon_mvr.problems import get_problem
from gluon_mvr.theory.bounds_star import star_schedule


@pytest.mark.parametrize("K", [2, 10, 137, 1000, 10 ** 5])
@pytest.mark.parametrize("method,theory_name", [("gluon", "star-momentum"), ("mvr1", "star-mvr")])
def test_numeric_star_schedule_matches_the_symbolic_one(K, method, theory_name):
    sym = star_schedule(theory_name, K)
    sched = star_horizon_schedule(method, K, ball=(2.0, 3.0))
    assert sched.radius[0] / sched.ball[0] == pytest.approx(sym["a"], rel=1e-12)
    assert sched.radius[1] == pytest.approx(3.0 * sym["a"], rel=1e-12)
    assert sched.one_minus_beta == pytest.approx(sym["one_minus_beta"], rel=1e-12)


def test_star_step_rejects_short_horizons():
    with pytest.raises(ValueError, match="K must be >= 2"):
        star_step(1)


@pytest.mark.parametrize("name,params", [("star", {"layers": 2, "dim": 4}), ("quadratic", {"layers": 2, "dim": 4})])
def test_ball_radii_hold_the_minimiser_and_the_start(name, params):
    p = get_problem(name, **params)
    D = p.ball_radii()
    norm = get_norm(p.norms[0])
    for layers in (p.layout.to_layers(p.minimiser(1)), p.layout.to_layers(p.initial_point(1))):
        for d, x in zip(D, layers):
            assert norm.norm(x)[0] <= d * (1 + 1e-12)


@pytest.mark.parametrize("method", ["gluon", "mvr1", "mvr2", "mvr3"])
def test_frank_wolfe_iterates_stay_in_the_balls(method):
    p = get_problem("star", layers=2, dim=4, sigma=2.0)
    D = p.ball_radii()
    sched = star_horizon_schedule(method, 50, D)
    traj = run(p, method, K=50, seeds=3, schedule=sched, record_params=True)
    norm = get_norm(p.norms[0])
    for X in traj.params:
        for d, x in zip(D, p.layout.to_layers(X)):
            assert (norm.norm(x) <= d * (1 + 1e-9)).all()


def test_frank_wolfe_step_is_the_convex_combination():
    p = get_problem("quadratic", layers=1, dim=3, sigma=0.0)
    D = p.ball_radii()
    sched = star_horizon_schedule("mvr1", 20, D)
    traj = run(p, "mvr1", K=2, seeds=1, schedule=sched, record_params=True)
    X0, X1 = traj.params[0][0], traj.params[1][0]
    a = star_step(20)
    lmo = get_norm("spectral").lmo(p.grad(traj.params[0])[0])   # sigma = 0: M^0 is the gradient
    numpy.testing.assert_allclose(X1, (1 - a) * X0 + a * D[0] * lmo, rtol=1e-12, atol=1e-14)


def test_decreasing_star_schedule_tables():
    s = star_decreasing_schedule("mvr1", 0.5, 2)
    factor, beta, q = s.tables(4)
    numpy.testing.assert_allclose(factor, [1, 1 / 2, 1 / 3, 1 / 4])
    numpy.testing.assert_allclose(1 - beta, [1, 1 / 2, 1 / 3, 1 / 4])
    s = star_decreasing_schedule("gluon", 0.5, 2)
    numpy.testing.assert_allclose(1 - s.tables(3)[1], [1, 2 ** (-2 / 3), 3 ** (-2 / 3)])


def test_gap_rate_check_end_to_end(tmp_path):
    cfg = validate({"problem": "star", "params": {"layers": 2, "dim": 3}, "criterion": "gap",
                    "methods": ["gluon", "mvr1"], "horizons": [30, 60, 120], "seeds": 3,
                    "store": str(tmp_path / "s.sqlite"), "executor": "serial"})
    reports = rate_check(cfg).reports
    by = {r.method: r for r in reports}
    assert by["gluon"].theory == pytest.approx(-1 / 3)
    assert by["mvr1"].theory == pytest.approx(-1 / 2)
    for r in reports:
        assert all(g > 0 for g in r.G)                      # a gap, measured against f* = 0
        assert r.bound_ratio is not None and r.bound_ratio <= 1.0
        assert not r.bound_violations


def test_scale_param_follows_each_methods_theory_rate():
    from gluon_mvr.experiments.studies.rate_check import cell_params, theory_rate
    cfg = validate({"problem": "star", "params": {"growth": "linear", "width": 0.2}, "criterion": "gap",
                    "methods": ["gluon", "mvr1"], "horizons": [100, 1000, 10000], "scale_param": "width"})
    assert cell_params(cfg, "gluon", 1000)["width"] == pytest.approx(0.2)
    assert cell_params(cfg, "mvr1", 1000)["width"] == pytest.approx(
        0.2 * theory_rate("mvr1", "gap", 1000) / theory_rate("gluon", "gap", 1000))
    for m in ("gluon", "mvr1"):
        ratio = cell_params(cfg, m, 10000)["width"] / cell_params(cfg, m, 100)["width"]
        assert ratio == pytest.approx(theory_rate(m, "gap", 10000) / theory_rate(m, "gap", 100))
    # momentum's gap rate is K^-1/3 (ln K)^1/3, MVR's K^-1/2 (ln K)^1/2
    assert theory_rate("gluon", "gap", 1000) == pytest.approx(1000 ** (-1 / 3) * numpy.log(1000) ** (1 / 3))
    assert theory_rate("mvr1", "gap", 1000) == pytest.approx(1000 ** (-1 / 2) * numpy.log(1000) ** (1 / 2))


def test_scale_param_must_be_a_float_param():
    from gluon_mvr.experiments.core.config import ConfigError
    with pytest.raises(ConfigError, match="scale_param"):
        validate({"problem": "star", "scale_param": "layers"})


def test_origin_start_puts_the_minimiser_on_the_ball():
    p = get_problem("star", layers=2, dim=4, start="origin", distance=1.5, norm="frobenius")
    D = p.ball_radii()
    numpy.testing.assert_allclose(D, [1.5, 1.5], rtol=1e-12)
    assert all(numpy.all(x == 0) for x in p.initial_point(1))
    assert p.delta0() > 0


def test_worst_case_search_picks_the_largest_instance_per_horizon(tmp_path):
    cfg = validate({"problem": "star", "params": {"layers": 1, "dim": 3, "growth": "linear", "start": "origin",
                                                  "modulation": "0", "norm": "frobenius"},
                    "criterion": "gap", "methods": ["mvr1"], "horizons": [20, 40], "seeds": 2,
                    "worst_param": "width", "worst_grid": [0.01, 0.1, 1.0], "noise_share": False,
                    "store": str(tmp_path / "w.sqlite"), "executor": "serial"})
    reports = rate_check(cfg).reports
    r = reports[0]
    from gluon_mvr.experiments.core.cells import cell_key, make_cell
    from gluon_mvr.experiments.core.store import ResultStore
    store = ResultStore(cfg.store)
    for K, chosen, g in zip(cfg.horizons, r.worst_instance, r.G):
        means = {}
        for v in cfg.worst_grid:
            c = make_cell("star", {**cfg.params, "width": v}, "mvr1", K, [0, 1], form="star")
            means[v] = numpy.mean(store.get(cell_key(c))["gap"])
        assert chosen == max(means, key=means.get)
        assert g == pytest.approx(means[chosen])


def test_worst_grid_needs_worst_param():
    from gluon_mvr.experiments.core.config import ConfigError
    with pytest.raises(ConfigError, match="worst_grid"):
        validate({"worst_grid": [0.1, 0.2]})
    with pytest.raises(ConfigError, match="worst_param"):
        validate({"problem": "star", "worst_param": "width", "worst_grid": [0.1], "scale_param": "width"})


def test_gap_fits_are_also_reported_with_one_common_log_factor():
    from gluon_mvr.experiments.studies.rate_check import COMMON_LOG_POWER, rate_check
    res = rate_check("star", ["gluon", "mvr1"], horizons=[30, 60, 120], seeds=2, criterion="gap",
                     params={"layers": 1, "dim": 3}, executor="serial", bootstrap=100, controls="off",
                     noise_share=False)
    g, m = res.reports
    # MVR-1's own log power is the common one: the same fit; Gluon's differs by its log power
    assert m.common_log_fit["slope"] == pytest.approx(m.fit.slope)
    assert g.common_log_fit["slope"] != pytest.approx(g.fit.slope)
    assert "one log factor" in res.table() and COMMON_LOG_POWER == 0.5
