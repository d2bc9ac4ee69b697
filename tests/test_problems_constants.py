"""Constants certification: declared constants dominate measurements; the check can fail;
(L0, L1) fits recover known lines."""
import dataclasses

import numpy
import pytest

from gluon_mvr.problems import constants_estimation as est
from gluon_mvr.problems import get_problem
from gluon_mvr.problems.base import Constants
from gluon_mvr.problems.certify import certify, in_region, measure_smoothness, take_batch

SMALL_TWOLAYER = dict(dim=5, n_data=48, batch=4, estimate_pairs=128, estimate_steps=100)

CERT_CASES = [
    ("quadratic", dict(layers=2, dim=4)),
    ("l0l1", dict(layers=2, dim=4)),
    ("l0l1", dict(layers=2, dim=4, noise="curvature", norm="frobenius")),
    ("l0l1", dict(layers=2, dim=4, noise="heavy", df=6, L1="0.5,4")),
    ("nonconvex", dict(layers=2, dim=4)),
    ("nonconvex", dict(layers=2, dim=4, noise="curvature", norm="sign")),
    ("star", dict(layers=2, dim=4)),
    ("star", dict(layers=2, dim=4, growth="linear", norm="frobenius")),
    ("twolayer", SMALL_TWOLAYER),
    ("twolayer", dict(SMALL_TWOLAYER, noise="additive", norm="frobenius")),
]


@pytest.mark.parametrize("name,params", CERT_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CERT_CASES)])
def test_declared_constants_dominate_measured(name, params):
    P = get_problem(name, **params)
    cert = certify(P, n_pairs=96, noise_points=8, draws=60, trajectory="run", method="mvr1", steps=40,
                   run_seeds=2)
    for layer in cert.layers:
        assert layer.dominates, layer
        assert layer.n_trajectory_points > 0
        assert layer.L0_needed <= layer.L0_declared * (1 + 1e-9)
        assert layer.L1_needed <= layer.L1_declared * (1 + 1e-9) + 1e-12
    assert cert.ok


def _with_constants(problem, **changes):
    problem.constants = dataclasses.replace(problem.constants, **changes)
    return problem


def test_under_declared_smoothness_is_a_violation():
    P = get_problem("nonconvex", layers=2, dim=4, norm="frobenius")
    _with_constants(P, L0=tuple(0.5 * v for v in P.constants.L0))
    cert = certify(P, n_pairs=64, noise_points=4, draws=20)
    assert not cert.ok and all(not c.smoothness_ok for c in cert.layers)


def test_under_declared_sigma_and_ell_are_violations():
    P = get_problem("l0l1", layers=2, dim=4, noise="curvature")
    _with_constants(P, sigma=tuple(0.5 * v for v in P.constants.sigma),
                    ell=tuple(0.3 * v for v in P.constants.ell))
    cert = certify(P, n_pairs=32, noise_points=8, draws=100)
    assert not cert.ok and not cert.ell_ok and all(not c.sigma_ok for c in cert.layers)


def test_nonconvex_frobenius_constant_is_tight():
    P = get_problem("nonconvex", layers=1, dim=4, norm="frobenius")
    cert = certify(P, n_pairs=256, noise_points=2, draws=4)
    assert cert.layers[0].L0_needed > 0.9 * P.constants.L0[0]


def test_trajectory_pairs_from_snapshots():
    P = get_problem("quadratic", layers=2, dim=3)
    snaps = [P.initial_point(2), [x + 1.0 for x in P.initial_point(2)], [x + 3.0 for x in P.initial_point(2)]]
    X, Y = est.trajectory_pairs(snaps)
    assert X[0].shape[0] == 4
    numpy.testing.assert_allclose(Y[0] - X[0], numpy.concatenate([numpy.ones((2,) + X[0].shape[1:]),
                                                                  2 * numpy.ones((2,) + X[0].shape[1:])]))
    pts = est.smoothness_points(P, X, Y, source="trajectory")
    numpy.testing.assert_allclose(pts.ratio[0], P.constants.L0[0] / 3, rtol=1e-12)   # h*||.||_* / ||.|| for all-ones moves


def test_region_filter_and_batch_selection():
    P = get_problem("l0l1", layers=2, dim=3)           # declares A1 for close pairs only
    X = P.initial_point(3)
    step = numpy.array([1e-3, 1e3, 1e-3])                  # pair 1 moves far beyond pair_radius
    Y = [x + step.reshape((-1,) + (1,) * (x.ndim - 1)) for x in X]
    mask = in_region(P, X, Y)
    assert mask.dtype == bool and mask.shape == (3,)
    assert list(mask) == [True, False, True]
    kept = take_batch(X, mask)
    assert [k.shape[0] for k in kept] == [2] * len(X)
    numpy.testing.assert_array_equal(kept[0], X[0][[0, 2]])
    # a family declared everywhere keeps every pair
    Q = get_problem("quadratic", layers=2, dim=3)
    assert in_region(Q, Q.initial_point(4)).all()


def test_measure_smoothness_is_what_certify_judges():
    P = get_problem("l0l1", layers=2, dim=3)
    X0 = P.initial_point(1)
    snaps = [X0, [x + 1e-3 for x in X0], [x + 1e3 for x in X0]]     # one close step, one far one
    m = measure_smoothness(P, n_pairs=16, seed=3, trajectory=snaps)
    cert = certify(P, n_pairs=16, noise_points=2, draws=4, seed=3, trajectory=snaps)
    assert m.n_outside_region == cert.n_outside_region == 1
    assert m.trajectory_note == cert.trajectory == "3 recorded iterates"
    for i, layer in enumerate(cert.layers):
        assert layer.n_points == m.points.ratio[i].size == m.sampled.ratio[i].size + m.trajectory.ratio[i].size
        assert layer.n_trajectory_points == m.trajectory.ratio[i].size == 2
    assert all(in_region(P, m.X, m.Y))
    none = measure_smoothness(P, n_pairs=16, seed=3)
    assert none.trajectory is None and none.trajectory_note == "none"
    numpy.testing.assert_array_equal(none.points.ratio[0], m.sampled.ratio[0])


def _synthetic(L0, L1, n, rng, below=True):
    g = rng.uniform(0.1, 10.0, n)
    line = L0 + L1 * g
    r = line * (rng.uniform(0.3, 1.0, n) if below else 1.0)
    r[:3] = line[:3]                 # points on the line pin the envelope
    r[numpy.argmin(g)] = line[numpy.argmin(g)]
    r[numpy.argmax(g)] = line[numpy.argmax(g)]
    return r, g


def test_envelope_recovers_a_known_line_with_no_point_above():
    rng = numpy.random.default_rng(0)
    r, g = _synthetic(2.0, 0.5, 300, rng)
    fit = est.fit_envelope(r, g)
    assert fit.n_above == 0 and est.count_above(fit.L0, fit.L1, r, g) == 0
    numpy.testing.assert_allclose([fit.L0, fit.L1], [2.0, 0.5], rtol=1e-5)


def test_envelope_with_zero_L0_reports_radius():
    rng = numpy.random.default_rng(1)
    r, g = _synthetic(0.0, 4.0, 100, rng)
    fit = est.fit_envelope(r, g)
    assert fit.L0 == pytest.approx(0.0, abs=1e-7) and fit.L1 == pytest.approx(4.0, rel=1e-6)
    assert fit.radius == pytest.approx(0.25, rel=1e-6)


def test_penalized_recovers_exact_line_and_allows_points_above():
    rng = numpy.random.default_rng(2)
    g = rng.uniform(0.1, 5.0, 200)
    exact = 1.5 + 0.7 * g
    fit = est.fit_penalized(exact, g, penalty=5.0)
    numpy.testing.assert_allclose([fit.L0, fit.L1], [1.5, 0.7], rtol=1e-4)
    noisy = exact * numpy.exp(0.2 * rng.standard_normal(200))
    fit_n = est.fit_penalized(noisy, g, penalty=5.0)
    env = est.fit_envelope(noisy, g)
    assert fit_n.n_above > 0 and env.n_above == 0
    # a larger penalty pushes the line up: fewer points above
    assert est.fit_penalized(noisy, g, penalty=100.0).n_above < fit_n.n_above


def test_constants_validation_names_the_field():
    with pytest.raises(ValueError, match="constants.L1"):
        Constants(norms=("spectral",), L0=1.0, L1=-1.0, ell=0.0, sigma=0.0, rho=1.0)
