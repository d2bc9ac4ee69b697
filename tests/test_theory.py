"""Tests of theory/: the verifier passes and rejects wrong formulas, the schedule checker, the
CLI hook, the numeric bounds (conditions, None cases) and a simulation held below the bounds."""
import argparse
import json
import math

import numpy
import pytest
import sympy as sp

from gluon_mvr.methods.schedules import adaptive_schedule, gluon_decreasing_schedule, horizon_schedule
from gluon_mvr.problems.base import Constants
from gluon_mvr.theory import (BadInput, bound_details, check_schedule, evaluate_bound, star_bound_details)
from gluon_mvr.theory import inexact, symbols as S
from gluon_mvr.theory import verify as V
from gluon_mvr.experiments.cli.theory import register


# ----------------------------------------------------------------------------- verifier
@pytest.fixture(scope="module")
def checks():
    return V.run_all()


def test_run_all_passes_and_covers_everything(checks):
    assert len(checks) >= 12
    failed = [(c.name, c.detail) for c in checks if not c.passed]
    assert not failed, failed
    names = " ".join(c.name for c in checks)
    for needle in ("gluon", "mvr1", "mvr2", "mvr3", "gluon-deterministic", "inexact", "star-mvr",
                   "star-momentum", "minimax:", "exponent:", "K0:", "schedules:", "recursion:", "step:",
                   "exponent:star-mvr2", "exponent:star-mvr3", "minimax:star-mvr2", "minimax:star-mvr3",
                   "recursion:star-mvr2", "recursion:star-mvr3", "step:star-unroll:mvr2",
                   "step:star-unroll:mvr3", "step:star-initial-split", "rate:star-mvr2", "rate:star-mvr3",
                   "weights:noise", "weights:correction-q", "step:descent-l1", "step:cauchy-schwarz-layers",
                   "step:unroll:gluon", "step:unroll:mvr1", "step:martingale-l2"):
        assert needle in names, needle
    # validity (issue 16): per bound an assembly proved by sympy and a chain checked numerically
    how = {c.name: c.method for c in checks}
    assert set(how.values()) == {"symbolic", "numeric"}
    for m in ("gluon", "mvr1", "mvr2", "mvr3", "star-momentum", "star-mvr", "star-mvr2", "star-mvr3"):
        assert how[f"assembly:{m}"] == "symbolic" and how[f"chain:{m}"] == "numeric", m
    for m in ("gluon", "mvr1", "mvr2", "mvr3"):
        assert how[f"step:summation:{m}"] == "symbolic"
    assert all(how[n] == "symbolic" for n in how if n.startswith("weights:")) and how["step:descent-l1"] == "symbolic"
    report = V.validity_report(checks)
    assert all(any(r["name"] == f"chain:{m}" for r in rows) for m, rows in report.items())


@pytest.mark.parametrize("method,wrong", [("gluon", sp.Rational(-1, 3)), ("mvr1", sp.Rational(-1, 4)),
                                          ("mvr2", sp.Rational(-1, 2)), ("mvr3", sp.Rational(-1, 4))])
def test_wrong_exponent_rejected(method, wrong):
    assert not V.check_horizon_exponent(method, claimed=wrong).passed


def test_wrong_schedule_exponents_rejected():
    assert not V.check_minimax("gluon", claimed_point=(sp.Rational(2, 3), sp.Rational(2, 3))).passed
    assert not V.check_minimax("mvr1", claimed_point=(sp.Rational(3, 4), sp.Rational(1, 2))).passed
    assert not V.check_minimax("mvr2", claimed_point=(sp.Rational(1, 2), sp.Rational(2, 3))).passed
    # a wrong horizon (radius too large) changes the rate: K^-1/2 radius gives K^-1/6 for mvr1
    hz = {"t": S.K ** sp.Rational(-1, 2), "one_minus_beta": S.K ** sp.Rational(-2, 3), "q": 1}
    assert not V.check_horizon_exponent("mvr1", horizon=hz).passed


def test_wrong_term_changes_minimax():
    # a bound whose noise term scaled like (1-beta) instead of sqrt(1-beta) has another optimum
    forms = [(sp.Integer(-1), (1, 0)), (sp.Integer(0), (0, -1)), (sp.Integer(0), (-1, sp.Rational(1, 2)))]
    assert not V.check_minimax("mvr1", forms=forms).passed


def test_wrong_optimal_radius_rejected():
    L, d = inexact.L, S.delta
    assert not V.check_inexact_deterministic(t_star=sp.sqrt(2 * S.Delta0 / (L * S.K))).passed
    assert not V.check_inexact_deterministic(rate=sp.sqrt(2 * L * S.Delta0 / S.K) / (1 - d)).passed
    assert V.check_inexact_deterministic().passed


def test_wrong_inexact_stochastic_rejected():
    assert not V.check_inexact_stochastic(t_exponents=(sp.Rational(-1, 2), sp.Rational(-3, 4))).passed
    ts, hs = inexact.stochastic_optimal_parameters()
    assert not V.check_inexact_stochastic(h_star=hs * 2).passed
    assert not V.check_inexact_stochastic(t_star=ts * (1 + S.delta) ** sp.Rational(1, 4)).passed


def test_wrong_recursion_and_steps_rejected():
    wrong = V.beta * V.E_prev + (1 - V.beta) * V.N          # MVR-1 without its D term
    assert not V.check_recursion("mvr1", claimed=wrong).passed
    wrong_gluon = V.beta * V.E_prev + (1 - V.beta) * V.N    # momentum drift forgotten
    assert not V.check_recursion("gluon", claimed=wrong_gluon).passed
    assert not V.check_noise_factors(noise=sp.sqrt(S.one_minus_beta)).passed
    assert not V.check_descent_coefficient("gluon", sp.Rational(1, 2)).passed
    prev, claim = inexact.descent_consequence()
    assert not V.check_step_identity("x", prev, claim - S.delta).passed
    assert not V.check_deterministic_complexity(claimed=S.Delta0 / S.eps ** 2).passed
    assert not V.check_minimiser("x", (S.t - 2) ** 2, S.t, sp.Integer(1)).passed


def test_wrong_star_claims_rejected():
    assert not V.check_star_exponent("star-mvr", claimed=sp.Rational(-1, 3)).passed
    assert not V.check_star_exponent("star-momentum", claimed=sp.Rational(-1, 2)).passed
    assert not V.check_star_minimax("star-mvr", claimed_y=sp.Rational(2, 3)).passed
    assert not V.check_star_minimax("star-momentum", claimed_y=1).passed


@pytest.mark.parametrize("method", ["star-mvr2", "star-mvr3"])
def test_wrong_star_mvr23_claims_rejected(method):
    from gluon_mvr.theory.bounds_star import STEP
    assert V.check_star_exponent(method).passed and V.check_star_minimax(method).passed
    for wrong in (sp.Rational(-1, 3), sp.Rational(-1, 4), sp.Integer(-1)):
        assert not V.check_star_exponent(method, claimed=wrong).passed
    # a wrong schedule (q = a^(2/3), as momentum's 1-beta) only gives K^-1/3
    assert not V.check_star_exponent(method, overrides={"q": STEP ** sp.Rational(2, 3)}).passed
    assert not V.check_star_minimax(method, claimed_y=sp.Rational(2, 3)).passed
    assert V.check_star_log_power(method).passed
    assert not V.check_star_log_power(method, power=1).passed
    assert not V.check_star_log_power(method, power=0).passed


def test_wrong_star_mvr23_steps_rejected():
    e_k = sp.Symbol("e_k")
    inner = (1 - S.q) * V.e_prev + S.q * V.N + (1 - S.q) * V.Dk
    # MVR-2 without its momentum drift, MVR-3 without its beta D_k correction, inner without D_k
    assert not V.check_star_recursion("mvr2", claimed=(inner, V.beta * V.E_prev + (1 - V.beta) * e_k)).passed
    assert not V.check_star_recursion("mvr3", claimed=(inner, V.beta * V.E_prev + (1 - V.beta) * e_k)).passed
    assert not V.check_star_recursion("mvr2", claimed=(inner - (1 - S.q) * V.Dk,
                                                       V.STAR_CLAIMED_RECURSIONS["mvr2"][1])).passed
    assert V.check_star_recursion("mvr2").passed and V.check_star_recursion("mvr3").passed
    # the unrolled closed form with the drift sum swapped between MVR-2 and MVR-3 is rejected
    swapped = lambda m, *rest: V.star_unrolled("mvr3" if m == "mvr2" else "mvr2", *rest)
    assert not V.check_star_unroll("mvr2", closed=swapped).passed
    assert not V.check_star_unroll("mvr3", closed=swapped).passed
    # u_k <= 2 exp(-q k) is false when h << q (the slow momentum mode), and so is 2 exp(-2 mu k)
    from gluon_mvr.theory.bounds_star import MU
    assert not V.check_star_initial_split(mu=S.q).passed
    assert not V.check_star_initial_split(mu=2 * MU).passed


# ----------------------------------------------------------------------------- theory check
def test_check_schedule_reports_rates():
    r = check_schedule("mvr1", "K**(-3/4)", "K**(-1/2)", None)
    assert r.exponent == sp.Rational(-1, 4) and not r.attained
    assert check_schedule("mvr1", "t0*K^(-2/3)", "c_beta*K**(-2/3)").attained
    assert check_schedule("gluon", "K**(-3/4)", "K**(-1/2)").attained
    assert check_schedule("mvr2", "K**(-2/3)", "0.1", "K**(-2/3)").attained
    assert check_schedule("mvr3", "K**(-2/3)", "1/10", "K**(-1/2)").exponent == sp.Rational(-1, 4)
    # a radius that does not vanish faster than 1-beta breaks gluon's descent condition
    bad = check_schedule("gluon", "K**(-1/2)", "K**(-3/4)")
    assert not bad.attained and bad.exponent is None


@pytest.mark.parametrize("args,field", [(("mvr9", "K", "K", None), "method"),
                                        (("mvr1", "K**(", "K", None), "radius"),
                                        (("mvr1", "K", "foo*K", None), "momentum"),
                                        (("mvr2", "K", "0.1", None), "q"),
                                        (("mvr1", "__import__('os')", "K", None), "radius")])
def test_check_schedule_bad_input(args, field):
    with pytest.raises(BadInput) as exc:
        check_schedule(*args)
    assert exc.value.field == field


# ----------------------------------------------------------------------------- CLI
def _cli(argv):
    parser = argparse.ArgumentParser(prog="gluon-mvr")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_verify_json(tmp_path, capsys):
    path = tmp_path / "v.json"
    # the full run is the fixture above; the CLI is exercised on a subset (the JSON shape is the same)
    assert _cli(["theory", "verify", "--no-progress", "--only", "recursion:,step:martingale,assembly:mvr1,chain:mvr1,"
                 "chain:star-mvr,schedules:numbers:mvr1", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["passed"] and len(data["checks"]) >= 10 and set(data["validity"]) >= {"mvr1", "star-mvr"}
    assert all(set(c) == {"name", "passed", "method", "detail"} for c in data["checks"])
    assert {c["method"] for c in data["checks"]} == {"symbolic", "numeric"}
    assert "checks passed" in capsys.readouterr().out


def test_cli_check_exit_codes(tmp_path, capsys):
    path = tmp_path / "c.json"
    assert _cli(["theory", "check", "--method", "mvr1", "--radius", "K**(-3/4)", "--momentum", "K**(-1/2)",
                 "--json", str(path)]) == 1
    out = capsys.readouterr().out
    assert "K^-1/4" in out and "NOT" in out
    assert json.loads(path.read_text())["exponent"] == "-1/4"
    assert _cli(["theory", "check", "--method", "mvr1", "--radius", "K**(-2/3)", "--momentum", "K**(-2/3)"]) == 0
    capsys.readouterr()
    assert _cli(["theory", "check", "--method", "mvr1", "--radius", "K**(", "--momentum", "K"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "radius" in err[0]


# ----------------------------------------------------------------------------- numbers
CONST = Constants(norms=("spectral", "frobenius"), L0=(2.0, 3.0), L1=(0.5, 0.0), ell=(0.3, 0.0),
                  sigma=(1.0, 1.0), rho=(2.0, 1.0))


@pytest.mark.parametrize("method", ["gluon", "mvr1", "mvr2", "mvr3"])
def test_evaluate_bound_horizon_values(method):
    vals = [evaluate_bound(method, K, horizon_schedule(method, K, CONST.L1), CONST, 5.0) for K in (10, 10 ** 4, 10 ** 7)]
    assert all(v is not None and v > 0 and math.isfinite(v) for v in vals)
    assert vals[0] > vals[1] > vals[2]
    d = bound_details(method, 1000, horizon_schedule(method, 1000, CONST.L1), CONST, 5.0)
    assert abs(sum(d.terms.values()) - d.value) < 1e-12 * d.value and all(p for _, p, _ in d.conditions)


def test_evaluate_bound_none_cases():
    assert evaluate_bound("mvr1", 100, gluon_decreasing_schedule(1.0, 2), CONST, 1.0) is None
    assert evaluate_bound("nope", 100, horizon_schedule("mvr1", 100, CONST.L1), CONST, 1.0) is None
    from gluon_mvr.methods.schedules import constant_schedule
    big = constant_schedule(10.0, 2, beta=0.9)          # c_i < 0 for L1 = 0.5
    d = bound_details("gluon", 100, big, CONST, 1.0)
    assert d.value is None and "c_i > 0" in d.reason
    # kappa unknown for a shape-dependent norm with ell > 0, known once shapes are given
    c = Constants(norms=("scaled-spectral",), L0=1.0, L1=0.0, ell=0.5, sigma=1.0, rho=1.0)
    s = horizon_schedule("mvr1", 100, c.L1)
    assert evaluate_bound("mvr1", 100, s, c, 1.0) is None
    assert evaluate_bound("mvr1", 100, s, c, 1.0, shapes=[(4, 8)]) is not None
    # an inexact LMO weakens the bound
    s1 = horizon_schedule("mvr1", 100, CONST.L1)
    assert evaluate_bound("mvr1", 100, s1, CONST, 1.0, delta=0.2) > evaluate_bound("mvr1", 100, s1, CONST, 1.0)


def test_star_bound_schedule_rates():
    c = Constants(norms=("frobenius",), L0=1.0, L1=0.0, ell=0.5, sigma=1.0, rho=1.0)
    v = {m: [star_bound_details(m, K, c, 1.0, (1.0,)).value for K in (10 ** 4, 10 ** 8)]
         for m in ("star-mvr", "star-momentum")}
    slope = {m: math.log(b / a) / math.log(10 ** 4) for m, (a, b) in v.items()}
    assert -0.55 < slope["star-mvr"] < -0.4 and -0.4 < slope["star-momentum"] < -0.25


STAR_NEW = ("star-mvr2", "star-mvr3")


@pytest.mark.parametrize("method", STAR_NEW)
def test_star_mvr23_bounds_finite_positive(method):
    from gluon_mvr.problems import get_problem
    from gluon_mvr.theory import STAR_METHODS, star_schedule
    assert method in STAR_METHODS
    p = get_problem("star", layers=2, dim=4)
    D = p.ball_radii()
    vals = []
    for K in (2, 10, 200, 1000, 10 ** 6):
        d = star_bound_details(method, K, p.constants, p.delta0(), D, shapes=p.layout.shapes)
        assert d.value is not None and math.isfinite(d.value) and d.value > 0, (K, d.reason)
        assert all(v >= 0 and math.isfinite(v) for v in d.terms.values())
        assert abs(sum(d.terms.values()) - d.value) <= 1e-12 * d.value
        assert all(ok for _, ok, _ in d.conditions) and "0 < q <= 1" in [n for n, _, _ in d.conditions]
        vals.append(d.value)
    assert vals[2] > vals[3] > vals[4]
    sched = star_schedule(method, 1000)
    assert sched["q"] == pytest.approx(sched["a"]) and sched["one_minus_beta"] == pytest.approx(0.5)
    # q is a free parameter: a larger q (more noise admitted) gives a larger bound; out of range -> None
    base = star_bound_details(method, 1000, p.constants, p.delta0(), D)
    assert star_bound_details(method, 1000, p.constants, p.delta0(), D, q=0.5).value > base.value
    bad = star_bound_details(method, 1000, p.constants, p.delta0(), D, q=1.5)
    assert bad.value is None and "0 < q <= 1" in [n for n, ok, _ in bad.conditions if not ok]
    assert star_bound_details(method, 1000, p.constants, p.delta0(), D, one_minus_beta=0.0).value is None


def test_star_mvr23_bound_rates():
    c = Constants(norms=("frobenius",), L0=1.0, L1=0.0, ell=0.5, sigma=1.0, rho=1.0)
    for m in STAR_NEW:
        a, b = (star_bound_details(m, K, c, 1.0, (1.0,)).value for K in (10 ** 4, 10 ** 8))
        assert -0.55 < math.log(b / a) / math.log(10 ** 4) < -0.4
    # MVR-3 has no L0 drift: with ell = 0 it is star-mvr's bound up to the (tiny) initial error
    c0 = Constants(norms=("frobenius",), L0=1.0, L1=0.0, ell=0.0, sigma=1.0, rho=1.0)
    d3, d1 = (star_bound_details(m, 10 ** 4, c0, 1.0, (1.0,)) for m in ("star-mvr3", "star-mvr"))
    assert d3.terms["noise"] == pytest.approx(d1.terms["noise"])
    assert d3.terms["beta correction"] == 0.0 and d3.value == pytest.approx(d1.value, rel=1e-3)


# ----------------------------------------------------------------------------- simulation
STAR_SIM_PROBLEMS = [
    {"layers": 2, "dim": 4},                                                       # the default star problem
    {"layers": 2, "dim": 4, "sigma": 10.0, "norm": "frobenius", "start": "origin",  # noise-dominated
     "distance": 1.0, "modulation": 0.0},
    {"layers": 2, "dim": 4, "sigma": 3.0, "noise": "curvature", "hess_noise": 2.0,  # ell > 0 (A3 terms)
     "region": 8.0, "norm": "frobenius", "modulation": 0.0, "curvature": 0.1},
]


@pytest.mark.parametrize("params", STAR_SIM_PROBLEMS, ids=["default", "noisy", "curvature"])
@pytest.mark.parametrize("method", ["mvr2", "mvr3"])
@pytest.mark.parametrize("K", [200, 1000])
def test_star_mvr23_simulation_below_bound(method, K, params):
    from gluon_mvr.methods import run
    from gluon_mvr.methods.schedules import star_horizon_schedule
    from gluon_mvr.problems import get_problem
    p = get_problem("star", **params)
    D = p.ball_radii()
    sched = star_horizon_schedule(method, K, D)
    traj = run(p, method, K=K, seeds=8, schedule=sched)
    gap = float(numpy.mean(traj.final_value)) - p.f_star
    d = star_bound_details(f"star-{method}", K, p.constants, p.delta0(), D, a=sched.radius[0] / sched.ball[0],
                           one_minus_beta=sched.one_minus_beta, q=sched.q, shapes=p.layout.shapes)
    default = star_bound_details(f"star-{method}", K, p.constants, p.delta0(), D, shapes=p.layout.shapes)
    assert d.value == pytest.approx(default.value, rel=1e-12)     # the run's schedule is the chosen one
    assert numpy.all(numpy.isfinite(traj.final_value)) and 0 <= gap <= d.value, (gap, d.value)

def _simulate(method, K, sched, seeds=48, dim=10, curv=1.0, sigma=1.0, r=3.0, rng_seed=0):
    """Normalized-SGD geometry (Frobenius), f = curv/2 ||x||^2, additive Gaussian noise,
    E||z||^2 = sigma^2.  Returns the seed mean of G_K = (1/K) sum_k ||grad f(x_k)||."""
    rng = numpy.random.default_rng(rng_seed)
    t, h, q = sched.radius[0], sched.one_minus_beta, sched.q
    beta = 1.0 - h
    x = numpy.zeros((seeds, dim))
    x[:, 0] = r
    noise = lambda: rng.standard_normal((seeds, dim)) * sigma / math.sqrt(dim)
    z = noise()
    M = curv * x + z
    g = M.copy()
    total = numpy.zeros(seeds)
    for _ in range(K):
        total += curv * numpy.linalg.norm(x, axis=1)
        x_old = x
        x = x - t * M / numpy.linalg.norm(M, axis=1, keepdims=True)
        z = noise()
        gk, gkm1 = curv * x + z, curv * x_old + z              # same sample at both points
        if method == "gluon":
            M = beta * M + h * gk
        elif method == "mvr1":
            M = gk + beta * (M - gkm1)
        else:
            g_new = gk + (1 - q) * (g - gkm1)
            M = beta * M + h * g_new + (beta * (gk - gkm1) if method == "mvr3" else 0.0)
            g = g_new
    return float(numpy.mean(total / K))


@pytest.mark.parametrize("method", ["gluon", "mvr1", "mvr2", "mvr3"])
@pytest.mark.parametrize("K", [30, 600])
def test_simulation_below_bound(method, K):
    const = Constants(norms=("frobenius",), L0=1.0, L1=0.0, ell=0.0, sigma=1.0, rho=1.0)
    sched = horizon_schedule(method, K, const.L1, radius_scale=1.0, momentum_scale=1.0)
    measured = _simulate(method, K, sched)
    bound = evaluate_bound(method, K, sched, const, delta0=4.5)
    assert bound is not None and measured <= bound, (measured, bound)


def test_deterministic_simulation_below_bound():
    # layer-wise (L0, L1): f(x) = sum_i log cosh-like, here f_i = L0/2 x_i^2 per coordinate block
    const = Constants(norms=("frobenius", "frobenius"), L0=(1.0, 4.0), L1=(0.0, 0.0), ell=0.0, sigma=0.0, rho=1.0)
    sched = adaptive_schedule(const.L0, const.L1)
    x = [numpy.array([3.0, 0.0]), numpy.array([0.0, 1.0])]
    curv = const.L0
    K, total = 200, 0.0
    delta0 = sum(c / 2 * float(v @ v) for c, v in zip(curv, x))
    for _ in range(K):
        grads = [c * v for c, v in zip(curv, x)]
        a = [float(numpy.linalg.norm(gr)) for gr in grads]
        total += sum(a)
        x = [v - (ai / (L0 + L1 * ai)) * gr / max(ai, 1e-300) for v, gr, ai, (L0, L1) in zip(x, grads, a, sched.adaptive)]
    bound = evaluate_bound("gluon-deterministic", K, sched, const, delta0)
    assert total / K <= bound
