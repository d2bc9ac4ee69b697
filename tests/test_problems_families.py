"""Families: gradients by finite differences, batch = single runs bit for bit, noise, params."""
import numpy
import pytest

from gluon_mvr.methods.norms import NORM_NAMES, get_norm
from gluon_mvr.problems import get_problem
from gluon_mvr.problems.norm_equivalence import kappa, rho

SMALL_TWOLAYER = dict(dim=5, n_data=48, batch=4, estimate_pairs=16, estimate_steps=20)

# (family, params) covering every family, every noise model and a few norms
CASES = [
    ("quadratic", dict(layers=2, dim=4)),
    ("l0l1", dict(layers=2, dim=4)),
    ("l0l1", dict(shapes="4x3,3x4,5x5", noise="heavy", norm="frobenius", L0="1,2,3", L1="0.5,1,2")),
    ("l0l1", dict(layers=2, dim=4, noise="curvature", norm="sign")),
    ("nonconvex", dict(layers=2, dim=4)),
    ("nonconvex", dict(shapes="4x3,4x3", noise="curvature", norm="colnorm")),
    ("star", dict(layers=2, dim=4)),
    ("star", dict(layers=2, dim=4, growth="linear", noise="heavy", norm="scaled-spectral")),
    ("twolayer", SMALL_TWOLAYER),
    ("twolayer", dict(SMALL_TWOLAYER, layers=3, noise="additive", norm="frobenius")),
    ("twolayer", dict(SMALL_TWOLAYER, shapes="3x5,2x3", noise="heavy")),
]
IDS = [f"{f}-{'-'.join(f'{k}={v}' for k, v in p.items() if k not in SMALL_TWOLAYER)}" for f, p in CASES]


@pytest.fixture(scope="module", params=range(len(CASES)), ids=IDS)
def problem(request):
    name, params = CASES[request.param]
    return get_problem(name, **params)


def _random_points(problem, S, rng, scale=1.0):
    X0 = problem.initial_point(S)
    return [x + scale * rng.standard_normal(x.shape) / numpy.sqrt(x.shape[-1] * x.shape[-2]) for x in X0]


def test_gradient_matches_finite_differences(problem):
    rng = numpy.random.default_rng(0)
    X = _random_points(problem, 3, rng)
    V = [rng.standard_normal(x.shape) for x in X]
    h = 1e-5
    fd = (problem.value([x + h * v for x, v in zip(X, V)]) - problem.value([x - h * v for x, v in zip(X, V)])) / (2 * h)
    an = sum(numpy.sum(g * v, axis=(1, 2, 3)) for g, v in zip(problem.grad(X), V))
    numpy.testing.assert_allclose(fd, an, rtol=1e-6, atol=1e-7 * (1 + numpy.abs(an).max()))


def test_value_shape_and_minimum(problem):
    X0 = problem.initial_point(4)
    v = problem.value(X0)
    assert v.shape == (4,) and numpy.all(v == v[0])
    if problem.f_star is not None:
        assert problem.delta0() > 0
        best = getattr(problem, "minimiser", None) or getattr(problem, "teacher", None)
        if best is not None:
            assert abs(float(problem.value(best(1))[0]) - problem.f_star) < 1e-12


def test_batch_reproduces_single_runs_bit_for_bit(problem):
    seeds = [3, 7, 11]
    X = _random_points(problem, len(seeds), numpy.random.default_rng(1))
    batch_rngs = [numpy.random.default_rng(s) for s in seeds]
    single_rngs = [numpy.random.default_rng(s) for s in seeds]
    for _ in range(2):   # two iterations: the streams must stay in step
        sb = problem.sample(batch_rngs)
        gb = problem.stochastic_grad(X, sb)
        for j, rng in enumerate(single_rngs):
            ss = problem.sample([rng])
            gs = problem.stochastic_grad([x[j:j + 1] for x in X], ss)
            for a, b in zip(gb, gs):
                assert numpy.array_equal(a[j:j + 1], b)


@pytest.mark.parametrize("df", [None, 5.0])
def test_threaded_noise_draw_equals_per_seed_draws(df, monkeypatch):
    """Large per-seed Gaussian blocks are drawn on threads: same numbers as one seed at a time,
    two draws in a row (the streams stay in step); Student-t samples (drawn serially) likewise."""
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    from gluon_mvr.problems.noise import _THREADED_BLOCK, draw_gaussian
    from gluon_mvr.methods.layout import Layout
    layout = Layout(((64, _THREADED_BLOCK // 64), (8, 8)))
    seeds = [0, 5, 9]
    batch = [numpy.random.default_rng(s) for s in seeds]
    singles = [numpy.random.default_rng(s) for s in seeds]
    for _ in range(2):
        zb = draw_gaussian(batch, layout, [1.0, 2.0], df=df)
        for j, rng in enumerate(singles):
            for a, b in zip(zb, draw_gaussian([rng], layout, [1.0, 2.0], df=df)):
                assert numpy.array_equal(a[j:j + 1], b)


def test_one_generator_listed_twice_draws_its_blocks_in_order(monkeypatch):
    """The threaded draw must not reorder the blocks of a generator that appears twice."""
    from gluon_mvr.problems.noise import _THREADED_BLOCK, draw_gaussian
    from gluon_mvr.methods.layout import Layout
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    layout = Layout(((64, _THREADED_BLOCK // 64),))
    g = numpy.random.default_rng(4)
    (z,) = draw_gaussian([g, g], layout, [1.0])
    ref = numpy.random.default_rng(4)
    scale = 1.0 / numpy.sqrt(_THREADED_BLOCK)
    for j in range(2):
        assert numpy.array_equal(z[j, 0], ref.standard_normal((64, _THREADED_BLOCK // 64)) * scale)


def test_noise_is_unbiased_and_same_sample_reusable(problem):
    S = 400
    X = [numpy.repeat(x, S, axis=0) for x in _random_points(problem, 1, numpy.random.default_rng(2))]
    rngs = [numpy.random.default_rng(numpy.random.SeedSequence(5, spawn_key=(s,))) for s in range(S)]
    sample = problem.sample(rngs)
    g = problem.grad(X)
    gs = problem.stochastic_grad(X, sample)
    assert numpy.array_equal(problem.stochastic_grad(X, sample)[0], gs[0])   # pure function of the sample
    for a, b in zip(gs, g):
        err = a - b
        se = err.std(axis=0) / numpy.sqrt(S)
        assert numpy.all(numpy.abs(err.mean(axis=0)) <= 5 * se + 1e-12)


def test_without_noise(problem):
    quiet = problem.without_noise()
    X = _random_points(problem, 2, numpy.random.default_rng(3))
    assert all(numpy.array_equal(a, b) for a, b in zip(quiet.initial_point(2), problem.initial_point(2)))
    numpy.testing.assert_array_equal(quiet.value(X), problem.value(X))
    s = quiet.sample([numpy.random.default_rng(0), numpy.random.default_rng(1)])
    for a, b in zip(quiet.stochastic_grad(X, s), quiet.grad(X)):
        numpy.testing.assert_array_equal(a, b)
    assert all(v == 0 for v in quiet.constants.sigma) and all(v == 0 for v in quiet.constants.ell)
    assert quiet.constants.L0 == problem.constants.L0 and quiet.constants.L1 == problem.constants.L1


# --- family-specific facts --------------------------------------------------------------------

@pytest.mark.parametrize("growth", ["quadratic", "linear"])
def test_star_convexity_on_sampled_points(growth):
    P = get_problem("star", layers=2, dim=4, growth=growth, modulation=0.9, frequency=6.0)
    rng = numpy.random.default_rng(4)
    X = _random_points(P, 64, rng, scale=5.0)
    for alpha in numpy.linspace(0, 1, 11):
        gap = P.star_gap(X, alpha)
        assert numpy.all(gap <= 1e-10 * (1 + numpy.abs(P.value(X))))


def test_star_is_not_convex():
    P = get_problem("star", layers=1, dim=4)
    # at D orthogonal to A the Hessian's angular eigenvalue is 1 + eps - eps omega^2 / 2 < 0,
    # along A: midpoint convexity fails there (module docstring)
    rng = numpy.random.default_rng(5)
    C = P.minimiser(1)[0][0, 0]
    A = P._A[0]
    f = lambda Z: float(P.value([Z[None, None]])[0])   # noqa: E731
    for _ in range(5):
        U = rng.standard_normal(A.shape)
        U -= numpy.sum(U * A) * A
        U /= numpy.linalg.norm(U)
        assert f(C + U) > 0.5 * (f(C + U + 0.05 * A) + f(C + U - 0.05 * A))


def test_nonconvex_stationary_points():
    P = get_problem("nonconvex", layers=2, dim=3, ripple=1.0, frequency=3.0)
    assert not P.is_convex(0)
    roots, is_min = P.scalar_stationary_points(0)
    assert len(roots) > 3 and is_min.sum() >= 3 and (~is_min).sum() >= 2
    for k in range(len(roots)):
        X = P.stationary_point([k, 0])
        assert max(float(numpy.abs(g).max()) for g in P.grad(X)) < 1e-10
    assert float(P.value(P.stationary_point([0, 0]))[0]) >= 0


def test_l0l1_declared_constants_in_frobenius():
    P = get_problem("l0l1", layers=2, dim=4, norm="frobenius", L0="2", L1="3", radius=0.2, start=2.0)
    g = numpy.exp(3 * 0.2)
    numpy.testing.assert_allclose(P.constants.L0, [2 * g] * 2)
    numpy.testing.assert_allclose(P.constants.L1, [3 * g] * 2)
    G = P.grad(P.initial_point(1))[0][0]
    numpy.testing.assert_allclose(numpy.linalg.norm(G, axis=(1, 2)), 2 / 3 * numpy.sinh(2.0))


@pytest.mark.parametrize("name", NORM_NAMES)
def test_kappa_and_rho_are_valid(name):
    rng = numpy.random.default_rng(6)
    norm = get_norm(name)
    for shape in [(4, 3), (3, 5)]:
        A = rng.standard_normal((500,) + shape) * (rng.uniform(size=(500, 1, 1)) < 0.5) + \
            numpy.eye(*shape)[None] * rng.standard_normal((500, 1, 1))
        F = numpy.linalg.norm(A, axis=(1, 2))
        k, r = kappa(name, shape), rho(name, shape)
        assert numpy.all(norm.norm(A) <= k * F * (1 + 1e-12))
        assert numpy.all(F <= k * norm.dual_norm(A) * (1 + 1e-12))
        assert numpy.all(norm.dual_norm(A) <= r * F * (1 + 1e-12))
        assert numpy.all(F <= r * norm.norm(A) * (1 + 1e-12))


@pytest.mark.parametrize("family,params,field", [
    ("l0l1", {"L1": "-1"}, "'L1'"),
    ("l0l1", {"L0": "1,2"}, "'L0'"),
    ("l0l1", {"noise": "gauss"}, "'noise'"),
    ("l0l1", {"bogus": "1"}, "'bogus'"),
    ("l0l1", {"noise": "heavy", "df": "2"}, "'df'"),
    ("nonconvex", {"frequency": "0"}, "'frequency'"),
    ("star", {"modulation": "1.0"}, "'modulation'"),
    ("star", {"growth": "cubic"}, "'growth'"),
    ("twolayer", {"layers": "1"}, "'layers'"),
    ("twolayer", {"shapes": "3x4,3x4"}, "'shapes'"),
    ("twolayer", {"noise": "curvature"}, "'noise'"),
    ("quadratic", {"dim": "x"}, "'dim'"),
])
def test_bad_params_are_rejected_naming_the_field(family, params, field):
    with pytest.raises(ValueError, match=field):
        get_problem(family, **params)
