"""Skewed noise (hard instance 1): zero mean with the stated variance and skewness (statistical
tests, each shown able to fail), the LMO bias it causes, certified constants, and the
mechanism it isolates (beta = 0 stalls; momentum and MVR do not)."""
import numpy
import pytest

from gluon_mvr.methods import run
from gluon_mvr.methods.norms import get_norm
from gluon_mvr.methods.schedules import Schedule, horizon_schedule
from gluon_mvr.problems import get_problem
from gluon_mvr.problems.certify import certify
from gluon_mvr.problems.noise_models import SkewedNoise, skew_two_point

Z = 5.0      # standard errors allowed to a Monte Carlo moment (several are tested)


def moments_agree(x, expected):
    """True when the sample moments of ``x`` (mean, second and third raw moments) each lie
    within ``Z`` standard errors of ``expected = (m1, m2, m3)``."""
    x = numpy.asarray(x, dtype=float)
    n = len(x)
    for k, m in zip((1, 2, 3), expected):
        v = x ** k
        if abs(v.mean() - m) > Z * v.std() / numpy.sqrt(n) + 1e-12:
            return False
    return True


def _projections(problem, n, seed=0):
    """``<Z_i, B_i>`` for ``n`` draws (S = n batch elements from one generator), per layer."""
    rng = numpy.random.default_rng(seed)
    X = problem.initial_point(n)
    Zs = [a - b for a, b in zip(problem.stochastic_grad(X, problem.sample([rng] * n)), problem.grad(X))]
    layers = problem.layout
    return [numpy.einsum("smn,mn->s", layers.layer(Zs, i), problem.directions[i]) for i in range(layers.n_layers)], \
        [layers.layer(Zs, i) for i in range(layers.n_layers)]


def test_two_point_variable_has_the_stated_moments():
    for p in (0.05, 0.1, 0.3, 0.5):
        xp, xm, gamma = skew_two_point(p)
        assert p * xp + (1 - p) * xm == pytest.approx(0.0, abs=1e-15)
        assert p * xp ** 2 + (1 - p) * xm ** 2 == pytest.approx(1.0)
        assert p * xp ** 3 + (1 - p) * xm ** 3 == pytest.approx(gamma)
    assert skew_two_point(0.5)[2] == 0.0
    with pytest.raises(ValueError, match="skew_prob"):
        skew_two_point(1.0)


@pytest.mark.parametrize("weight", [1.0, 0.5])
def test_noise_is_zero_mean_with_stated_variance_and_skewness(weight):
    P = get_problem("skewed-quadratic", layers=2, dim=4, sigma=1.5, skew_weight=weight)
    proj, Zs = _projections(P, 40000)
    for i, (zeta, Zi) in enumerate(zip(proj, Zs)):
        expected = P.noise_model.projection_moments(i, P.layout.shapes[i])
        assert moments_agree(zeta, expected)
        # every entry has mean zero, and E||Z_i||_F^2 = sigma^2 (the declared, exact value)
        se = Zi.std(axis=0) / numpy.sqrt(len(Zi))
        assert numpy.all(numpy.abs(Zi.mean(axis=0)) <= Z * se)
        sq = (Zi ** 2).sum(axis=(1, 2))
        assert abs(sq.mean() - P.constants.sigma[i] ** 2) <= Z * sq.std() / numpy.sqrt(len(sq)) + 1e-12
        if weight == 1.0:   # all the noise lies along B_i: E||Z||^2 = sigma^2 exactly, per draw
            numpy.testing.assert_allclose(sq, zeta ** 2, rtol=1e-12)


def test_moment_check_can_fail():
    """Mutants: a shifted mean, the symmetric (zero-skew) noise of the same variance, and the
    wrong skewness are each rejected by the same check that passes the real noise."""
    P = get_problem("skewed-quadratic", layers=1, dim=4)
    (zeta,), _ = _projections(P, 40000)
    expected = P.noise_model.projection_moments(0, (4, 4))
    assert moments_agree(zeta, expected)
    assert not moments_agree(zeta + 0.05, expected)
    assert not moments_agree(numpy.random.default_rng(1).standard_normal(40000), expected)
    assert not moments_agree(zeta, (expected[0], expected[1], 0.8 * expected[2]))
    Q = get_problem("skewed-quadratic", layers=1, dim=4, noise="additive")
    rng = numpy.random.default_rng(2)
    X = Q.initial_point(40000)
    Zsym = Q.stochastic_grad(X, Q.sample([rng] * 40000))[0][:, 0] - Q.grad(X)[0][:, 0]
    assert not moments_agree(numpy.einsum("smn,mn->s", Zsym, P.directions[0]), expected)


@pytest.mark.parametrize("norm", ["spectral", "frobenius", "sign"])
def test_lmo_of_pure_skewed_noise_is_biased_at_a_stationary_point(norm):
    """At grad f = 0 (w = 1): E lmo(Z) = (2p - 1) lmo(B) exactly (positive homogeneity); the
    symmetric control noise gives a mean LMO near 0."""
    P = get_problem("skewed-quadratic", layers=1, dim=4, norm=norm, skew_prob=0.1)
    geom = get_norm(norm)
    n = 20000
    rng = numpy.random.default_rng(3)
    Xs = P.minimiser(n)
    Zs = P.stochastic_grad(Xs, P.sample([rng] * n))[0][:, 0]
    mean_lmo = geom.lmo(Zs).mean(axis=0)
    B = P.directions[0]
    expected = (2 * 0.1 - 1) * geom.lmo(B[None])[0]
    numpy.testing.assert_allclose(mean_lmo, expected, atol=Z * 1.0 / numpy.sqrt(n) * numpy.abs(geom.lmo(B[None])[0]).max() * 2)
    assert numpy.abs(expected).max() > 0.1
    Q = get_problem("skewed-quadratic", layers=1, dim=4, norm=norm, noise="additive")
    Zq = Q.stochastic_grad(Xs, Q.sample([rng] * n))[0][:, 0]
    assert numpy.abs(geom.lmo(Zq).mean(axis=0)).max() < 0.25 * numpy.abs(expected).max()


def test_declared_constants_are_certified():
    for params in (dict(layers=2, dim=4), dict(shapes="4x3,3x5", skew_weight=0.5, norm="frobenius")):
        cert = certify(get_problem("skewed-quadratic", **params), n_pairs=64, noise_points=6, draws=200,
                       trajectory="run", method="mvr1", steps=30, run_seeds=2)
        assert cert.ok, cert


def test_batch_reproduces_single_draws_bit_for_bit():
    P = get_problem("skewed-quadratic", shapes="4x4,3x5,4x4", skew_weight=0.5)
    seeds = [2, 9]
    X = P.initial_point(2)
    batch = [numpy.random.default_rng(s) for s in seeds]
    singles = [numpy.random.default_rng(s) for s in seeds]
    for _ in range(2):
        gb = P.stochastic_grad(X, P.sample(batch))
        for j, rng in enumerate(singles):
            gs = P.stochastic_grad([x[j:j + 1] for x in X], P.sample([rng]))
            assert all(numpy.array_equal(a[j:j + 1], b) for a, b in zip(gb, gs))


def test_gradient_and_without_noise():
    P = get_problem("skewed-quadratic", layers=2, dim=3, curvature="1,3")
    rng = numpy.random.default_rng(0)
    X = [x + rng.standard_normal(x.shape) for x in P.initial_point(1)]
    V = [rng.standard_normal(x.shape) for x in X]
    e = 1e-6
    fd = (P.value([x + e * v for x, v in zip(X, V)]) - P.value([x - e * v for x, v in zip(X, V)])) / (2 * e)
    an = sum((g * v).sum() for g, v in zip(P.grad(X), V))
    assert fd[0] == pytest.approx(an, rel=1e-7)
    quiet = P.without_noise()
    s = quiet.sample([rng])
    assert all(numpy.array_equal(a, b) for a, b in zip(quiet.stochastic_grad(X, s), quiet.grad(X)))
    assert quiet.constants.sigma == (0.0, 0.0)


def test_bad_params_name_the_field():
    with pytest.raises(ValueError, match="skew_prob"):
        get_problem("skewed-quadratic", skew_prob=0)
    with pytest.raises(ValueError, match="direction"):
        get_problem("skewed-quadratic", direction="diagonal")
    with pytest.raises(ValueError, match="noise"):
        get_problem("skewed-quadratic", noise="heavy")
    with pytest.raises(ValueError, match="unit Frobenius"):
        SkewedNoise(sigma=(1.0,), directions=(numpy.ones((2, 2)),))


def _G(problem, method, K, schedule=None, seeds=4):
    return float(numpy.mean(run(problem, method, K=K, seeds=seeds, schedule=schedule).stationarity))


def test_beta_zero_stalls_under_skewed_noise_but_not_under_symmetric_noise():
    """The mechanism the instance isolates: on MVR-1's schedule, beta = 0 (and mvr1-prev, the
    same direction M^k = g^k) stays at its floor while MVR-1 goes below it; under the
    symmetric control noise of the same sigma, beta = 0 is as good as MVR-1."""
    K = 500
    for noise, stalls in (("skewed", True), ("additive", False)):
        P = get_problem("skewed-quadratic", layers=1, dim=4, noise=noise)
        s = horizon_schedule("mvr1", K, P.constants.L1)
        b0 = _G(P, "gluon", K, Schedule(radius=s.radius, one_minus_beta=1.0))
        mvr = _G(P, "mvr1", K)
        prev = _G(P, "mvr1-prev", K, s)
        assert prev == pytest.approx(b0, rel=1e-9)          # algebraically the same method
        assert (b0 > 2.0 * mvr) is stalls, (noise, b0, mvr)
