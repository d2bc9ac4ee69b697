"""Layer norms, dual norms and LMOs (docs/theory.md §1): identities, definitions, rho, cvxpy reference.

Every check compares against something computed independently of ``methods.norms``: the
defining identities, ``numpy.linalg`` closed forms, random feasible points, or cvxpy solving
``min <G, S> s.t. ||S|| <= 1`` on the same norm ball.
"""
import math

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gluon_mvr.methods.norms import NORM_NAMES, get_norm

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def inner(A, B):
    return numpy.sum(A * B, axis=(-2, -1))


def independent_norm(name, X):
    """The primal norm of the catalogue written with numpy.linalg (not methods.norms)."""
    m, n = X.shape[-2:]
    if name == "frobenius":
        return numpy.linalg.norm(X, "fro", axis=(-2, -1))
    if name == "spectral":
        return numpy.linalg.norm(X, 2, axis=(-2, -1))
    if name == "scaled-spectral":
        return math.sqrt(n / m) * numpy.linalg.norm(X, 2, axis=(-2, -1))
    if name == "sign":
        return numpy.abs(X).max(axis=(-2, -1))
    if name == "scaled-sign":
        return n * numpy.abs(X).max(axis=(-2, -1))
    if name == "colnorm":
        return numpy.linalg.norm(X, axis=-2).max(axis=-1)
    if name == "rownorm":
        return numpy.linalg.norm(X, axis=-1).max(axis=-1)
    if name == "l1":
        return numpy.abs(X).sum(axis=(-2, -1))
    raise AssertionError(f"no independent formula for norm {name!r}: add one to the tests")


def independent_dual(name, G):
    """The dual norm of the catalogue written with numpy.linalg."""
    m, n = G.shape[-2:]
    if name == "frobenius":
        return numpy.linalg.norm(G, "fro", axis=(-2, -1))
    if name == "spectral":
        return numpy.linalg.norm(G, "nuc", axis=(-2, -1))
    if name == "scaled-spectral":
        return math.sqrt(m / n) * numpy.linalg.norm(G, "nuc", axis=(-2, -1))
    if name == "sign":
        return numpy.abs(G).sum(axis=(-2, -1))
    if name == "scaled-sign":
        return numpy.abs(G).sum(axis=(-2, -1)) / n
    if name == "colnorm":
        return numpy.linalg.norm(G, axis=-2).sum(axis=-1)
    if name == "rownorm":
        return numpy.linalg.norm(G, axis=-1).sum(axis=-1)
    if name == "l1":
        return numpy.abs(G).max(axis=(-2, -1))
    raise AssertionError(f"no independent formula for norm {name!r}: add one to the tests")


def _snap(x):
    # tiny entries to exact zeros: keeps squares away from underflow, and makes ties and zero
    # rows/columns common (the interesting cases for sign, l1, colnorm, rownorm)
    return 0.0 if abs(x) < 1e-6 else x


ELEMENTS = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False).map(_snap)
SHAPES = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 7))
BATCHES = SHAPES.flatmap(lambda s: arrays(numpy.float64, s, elements=ELEMENTS))
NAMES = st.sampled_from(NORM_NAMES)


def test_registry_lists_the_catalogue():
    expected = {"frobenius", "spectral", "scaled-spectral", "sign", "scaled-sign", "colnorm", "rownorm", "l1"}
    assert expected <= set(NORM_NAMES)
    for name in NORM_NAMES:
        assert get_norm(name).name == name


def test_unknown_norm_names_the_allowed_ones():
    with pytest.raises(ValueError, match="spectral"):
        get_norm("no-such-norm")


# ---------------------------------------------------------------- identities (hypothesis)

@PROPERTY
@given(name=NAMES, G=BATCHES)
def test_lmo_identities(name, G):
    """<G, lmo(G)> = -||G||_*, ||lmo(G)|| <= 1 and = 1 for G != 0 (docs/theory.md §1)."""
    norm = get_norm(name)
    D = norm.lmo(G)
    assert D.shape == G.shape and D.dtype == G.dtype
    assert numpy.isfinite(D).all()
    dual = norm.dual_norm(G)
    assert (numpy.abs(inner(G, D) + dual) <= 1e-10 * dual).all(), (inner(G, D), dual)
    nz = numpy.abs(G).max(axis=(-2, -1)) > 0
    lmo_norm = independent_norm(name, D)
    assert (lmo_norm <= 1 + 1e-12).all(), lmo_norm
    numpy.testing.assert_allclose(lmo_norm[nz], 1.0, rtol=0, atol=1e-12)
    # the object's own norm agrees with the numpy formula
    numpy.testing.assert_allclose(norm.norm(D), lmo_norm, rtol=1e-12, atol=1e-12)


@PROPERTY
@given(name=NAMES, G=BATCHES)
def test_norm_and_dual_match_closed_forms(name, G):
    norm = get_norm(name)
    numpy.testing.assert_allclose(norm.norm(G), independent_norm(name, G), rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(norm.dual_norm(G), independent_dual(name, G), rtol=1e-12, atol=1e-12)


@PROPERTY
@given(name=NAMES, G=BATCHES, seed=st.integers(0, 2 ** 32 - 1))
def test_dual_norm_is_the_sup_over_the_unit_ball(name, G, seed):
    """||G||_* = sup_{||S|| <= 1} <G, S>: (a) no unit-norm S beats it, (b) lmo attains it."""
    norm = get_norm(name)
    rng = numpy.random.default_rng(seed)
    dual = norm.dual_norm(G)
    tol = 1e-10 * numpy.maximum(dual, 1.0)
    R = rng.standard_normal((200,) + G.shape)
    # sparse and sign-pattern directions as well, closer to the faces of polyhedral balls
    R[100:150] = numpy.sign(R[100:150])
    R[150:] *= rng.random(R[150:].shape) < 0.2
    r_norm = independent_norm(name, R)[..., None, None]
    R = numpy.where(r_norm > 0, R / numpy.where(r_norm > 0, r_norm, 1.0), 0.0)
    numpy.testing.assert_allclose(independent_norm(name, R)[r_norm[..., 0, 0] > 0], 1.0, rtol=1e-12)
    assert (inner(G[None], R) <= dual[None] + tol[None]).all()
    # the LMO's point is feasible and gives the sup exactly, and beats every random point
    D = norm.lmo(G)
    numpy.testing.assert_allclose(-inner(G, D), dual, rtol=1e-10, atol=1e-300)
    assert (inner(G, D)[None] <= inner(G[None], R) + tol[None]).all()


@pytest.mark.parametrize("name", NORM_NAMES)
def test_lmo_of_zero_is_zero(name):
    norm = get_norm(name)
    for shape in [(3, 4), (2, 3, 4), (4, 1, 1), (2, 5, 2)]:
        Z = numpy.zeros(shape)
        D = norm.lmo(Z)
        assert numpy.array_equal(D, Z) and numpy.isfinite(D).all()
        assert numpy.array_equal(norm.dual_norm(Z), numpy.zeros(shape[:-2]))
    # a zero matrix inside a batch of nonzero ones is still mapped to 0
    G = numpy.random.default_rng(1).standard_normal((3, 4, 5))
    G[1] = 0.0
    D = norm.lmo(G)
    assert numpy.array_equal(D[1], numpy.zeros((4, 5)))
    numpy.testing.assert_allclose(independent_norm(name, D[[0, 2]]), 1.0, atol=1e-12)


@PROPERTY
@given(name=NAMES, G=BATCHES)
def test_batch_equals_per_matrix(name, G):
    norm = get_norm(name)
    D, dual, prim = norm.lmo(G), norm.dual_norm(G), norm.norm(G)
    for b in range(G.shape[0]):
        numpy.testing.assert_allclose(D[b], norm.lmo(G[b]), rtol=1e-13, atol=1e-15)
        numpy.testing.assert_allclose(dual[b], norm.dual_norm(G[b]), rtol=1e-13, atol=1e-300)
        numpy.testing.assert_allclose(prim[b], norm.norm(G[b]), rtol=1e-13, atol=1e-300)
    # two batch axes (seeds x layers) as well
    G4 = numpy.stack([G, -2.0 * G])
    numpy.testing.assert_allclose(norm.lmo(G4)[0], D, rtol=1e-13, atol=1e-15)
    numpy.testing.assert_allclose(norm.dual_norm(G4)[1], 2.0 * dual, rtol=1e-12, atol=1e-300)


# ---------------------------------------------------------------- rho

@PROPERTY
@given(name=NAMES, Z=BATCHES)
def test_rho_bounds_hold(name, Z):
    norm = get_norm(name)
    rho = norm.rho(Z.shape[-2:])
    fro = numpy.linalg.norm(Z, "fro", axis=(-2, -1))
    assert (norm.dual_norm(Z) <= rho * fro * (1 + 1e-12) + 1e-300).all()
    assert (fro <= rho * norm.norm(Z) * (1 + 1e-12) + 1e-300).all()


def _structured(shape):
    m, n = shape
    e11 = numpy.zeros(shape)
    e11[0, 0] = 1.0
    return [numpy.eye(m, n), numpy.ones(shape), e11]


@pytest.mark.parametrize("name", NORM_NAMES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (3, 5), (5, 2), (1, 4), (6, 1)])
def test_rho_is_tight(name, shape):
    """rho is the best constant: some identity / all-ones / unit matrix attains both bounds."""
    norm = get_norm(name)
    rho = norm.rho(shape)
    Zs = _structured(shape)
    dual_ratio = max(float(norm.dual_norm(Z) / numpy.linalg.norm(Z)) for Z in Zs)
    primal_ratio = max(float(numpy.linalg.norm(Z) / norm.norm(Z)) for Z in Zs)
    assert dual_ratio == pytest.approx(rho, rel=1e-12)
    assert primal_ratio == pytest.approx(rho, rel=1e-12)
    # and random matrices never beat it
    R = numpy.random.default_rng(0).standard_normal((500,) + shape)
    fro = numpy.linalg.norm(R, axis=(-2, -1))
    assert (norm.dual_norm(R) <= rho * fro * (1 + 1e-12)).all()
    assert (fro <= rho * norm.norm(R) * (1 + 1e-12)).all()


def test_rho_values_from_the_catalogue():
    m, n = 3, 5
    assert get_norm("spectral").rho((m, n)) == pytest.approx(math.sqrt(3))
    assert get_norm("frobenius").rho((m, n)) == pytest.approx(1.0)
    assert get_norm("sign").rho((m, n)) == pytest.approx(math.sqrt(15))
    assert get_norm("colnorm").rho((m, n)) == pytest.approx(math.sqrt(n))
    assert get_norm("rownorm").rho((m, n)) == pytest.approx(math.sqrt(m))
    assert get_norm("l1").rho((m, n)) == pytest.approx(1.0)


# ---------------------------------------------------------------- scaled norms

@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (4, 4), (1, 6)])
def test_scaled_norms_take_their_factors_from_the_shape(shape):
    m, n = shape
    rng = numpy.random.default_rng(5)
    X = rng.standard_normal((2,) + shape)
    U, s, Vh = numpy.linalg.svd(X, full_matrices=False)
    spec = get_norm("scaled-spectral")
    numpy.testing.assert_allclose(spec.norm(X), math.sqrt(n / m) * s[:, 0], rtol=1e-12)
    numpy.testing.assert_allclose(spec.dual_norm(X), math.sqrt(m / n) * s.sum(-1), rtol=1e-12)
    numpy.testing.assert_allclose(spec.lmo(X), -math.sqrt(m / n) * U @ Vh, rtol=1e-10, atol=1e-12)
    sgn = get_norm("scaled-sign")
    numpy.testing.assert_allclose(sgn.norm(X), n * numpy.abs(X).max(axis=(-2, -1)), rtol=1e-12)
    numpy.testing.assert_allclose(sgn.dual_norm(X), numpy.abs(X).sum(axis=(-2, -1)) / n, rtol=1e-12)
    numpy.testing.assert_array_equal(sgn.lmo(X), -numpy.sign(X) / n)


def test_unscaled_spectral_lmo_is_minus_polar_factor():
    G = numpy.random.default_rng(2).standard_normal((3, 5, 3))
    U, s, Vh = numpy.linalg.svd(G, full_matrices=False)
    numpy.testing.assert_allclose(get_norm("spectral").lmo(G), -U @ Vh, atol=1e-12)


def test_l1_lmo_picks_a_largest_entry():
    G = numpy.array([[0.5, -3.0, 1.0], [2.0, 0.1, -0.2]])
    expected = numpy.zeros_like(G)
    expected[0, 1] = 1.0
    numpy.testing.assert_array_equal(get_norm("l1").lmo(G), expected)


def test_colnorm_and_rownorm_zero_columns_rows():
    G = numpy.array([[3.0, 0.0, 1.0], [4.0, 0.0, -1.0]])
    C = get_norm("colnorm").lmo(G)
    numpy.testing.assert_allclose(C, [[-0.6, 0.0, -1 / math.sqrt(2)], [-0.8, 0.0, 1 / math.sqrt(2)]])
    R = get_norm("rownorm").lmo(G.T)
    numpy.testing.assert_allclose(R, C.T)


# ---------------------------------------------------------------- cvxpy reference

cp = pytest.importorskip("cvxpy")


def _cvx_constraint(name, S, m, n):
    if name == "frobenius":
        return cp.norm(S, "fro") <= 1
    if name == "spectral":
        return cp.sigma_max(S) <= 1
    if name == "scaled-spectral":
        return math.sqrt(n / m) * cp.sigma_max(S) <= 1
    if name == "sign":
        return cp.max(cp.abs(S)) <= 1
    if name == "scaled-sign":
        return n * cp.max(cp.abs(S)) <= 1
    if name == "colnorm":
        return cp.max(cp.norm(S, 2, axis=0)) <= 1
    if name == "rownorm":
        return cp.max(cp.norm(S, 2, axis=1)) <= 1
    if name == "l1":
        return cp.sum(cp.abs(S)) <= 1
    raise AssertionError(f"no cvxpy formulation for norm {name!r}: add one to the tests")


def _solve_lmo(name, G):
    m, n = G.shape
    S = cp.Variable((m, n))
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(G, S))), [_cvx_constraint(name, S, m, n)])
    solver = cp.CLARABEL if cp.CLARABEL in cp.installed_solvers() else cp.SCS
    prob.solve(solver=solver)
    assert prob.status == cp.OPTIMAL, prob.status
    return prob.value, S.value


@pytest.mark.parametrize("name", NORM_NAMES)
@pytest.mark.parametrize("shape", [(3, 4), (4, 3)])
def test_lmo_matches_cvxpy(name, shape):
    norm = get_norm(name)
    rng = numpy.random.default_rng(100 * NORM_NAMES.index(name) + shape[0])
    for _ in range(2):
        # continuous random G: distinct singular values, no zero entries/columns/rows, a unique
        # largest |entry|, so every LMO of the catalogue has a unique minimiser
        G = rng.standard_normal(shape)
        value, S = _solve_lmo(name, G)
        dual = float(norm.dual_norm(G))
        D = norm.lmo(G)
        assert value == pytest.approx(-dual, rel=1e-5, abs=1e-6)
        assert float(inner(G, D)) == pytest.approx(value, rel=1e-5, abs=1e-6)
        numpy.testing.assert_allclose(D, S, atol=1e-4)


@pytest.mark.parametrize("shape", [(6, 8, 8), (5, 7, 4), (5, 4, 7)])
def test_spectral_fast_path_agrees_with_the_svd_and_falls_back_when_ill_conditioned(shape):
    """The Gram-eigh fast path must give the SVD's polar factor and nuclear norm; matrices with
    sigma_min/sigma_max < 1e-3 (and zero ones) must take the SVD path."""
    rng = numpy.random.default_rng(3)
    spec = get_norm("spectral")
    G = rng.standard_normal(shape)
    m, n = shape[-2:]
    r = min(m, n)
    U, _ = numpy.linalg.qr(rng.standard_normal((m, m)))
    V, _ = numpy.linalg.qr(rng.standard_normal((n, n)))
    S = numpy.zeros((m, n))
    S[numpy.arange(r), numpy.arange(r)] = numpy.geomspace(1.0, 1e-9, r)
    G[1] = U @ S @ V.T                 # kappa = 1e9: the fast path would lose ~all digits
    G[2] = 0.0
    Us, s, Vh = numpy.linalg.svd(G, full_matrices=False)
    exact = Us @ Vh
    exact[2] = 0.0
    numpy.testing.assert_allclose(-spec.lmo(G), exact, atol=1e-9)
    numpy.testing.assert_allclose(spec.dual_norm(G), s.sum(axis=-1), rtol=1e-12)
