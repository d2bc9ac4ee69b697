"""Gradient estimators (docs/theory.md §3) against hand-written update formulas, and their reductions."""
import numpy
import pytest

from gluon_mvr.methods.estimators import ESTIMATORS, StepParams, get_estimator

SHAPE = (3, 2, 4, 5)          # seeds x layers x m x n


def random_sequence(seed, K=8):
    """``g^k`` (sample xi^k at X^k) and ``g_prev^k`` (same sample at X^{k-1}) for k = 0..K-1."""
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(SHAPE) for _ in range(K)], [rng.standard_normal(SHAPE) for _ in range(K)]


def drive(est, gs, gps, betas, qs):
    """Feed the estimator as the loop does; return M^0..M^{K-1}."""
    state, M = est.init(gs[0])
    out = [M]
    for k in range(1, len(gs)):
        g_prev = gps[k] if est.same_sample_previous else None
        M, state = est.step(state, gs[k], g_prev, StepParams(k, betas[k], qs[k]))
        out.append(M)
    return out


# hand-written recursions, docs/theory.md §3 ("M^0 = g^0 = grad f_xi0(X^0)")

def ref_momentum(gs, gps, betas, qs):
    M = [gs[0]]
    for k in range(1, len(gs)):
        M.append(betas[k] * M[-1] + (1 - betas[k]) * gs[k])
    return M


def ref_mvr1(gs, gps, betas, qs):
    M = [gs[0]]
    for k in range(1, len(gs)):
        M.append(gs[k] + betas[k] * (M[-1] - gps[k]))
    return M


def ref_mvr1_prev(gs, gps, betas, qs):
    # previous iteration's stochastic gradient g^{k-1} in place of the same-sample g_prev
    M = [gs[0]]
    for k in range(1, len(gs)):
        M.append(gs[k] + betas[k] * (M[-1] - gs[k - 1]))
    return M


def _storm_g(gs, gps, qs):
    g = [gs[0]]
    for k in range(1, len(gs)):
        g.append(gs[k] + (1 - qs[k]) * (g[-1] - gps[k]))
    return g


def ref_mvr2(gs, gps, betas, qs):
    g = _storm_g(gs, gps, qs)
    M = [g[0]]
    for k in range(1, len(gs)):
        M.append(betas[k] * M[-1] + (1 - betas[k]) * g[k])
    return M


def ref_mvr3(gs, gps, betas, qs):
    g = _storm_g(gs, gps, qs)
    M = [g[0]]
    for k in range(1, len(gs)):
        M.append(betas[k] * M[-1] + (1 - betas[k]) * g[k] + betas[k] * (gs[k] - gps[k]))
    return M


def ref_mvr3_storm(gs, gps, betas, qs):
    g = _storm_g(gs, gps, qs)
    M = [g[0]]
    for k in range(1, len(gs)):
        M.append(betas[k] * M[-1] + (1 - betas[k]) * g[k] + betas[k] * (g[k] - g[k - 1]))
    return M


CASES = [
    ("momentum", {}, ref_momentum),
    ("mvr1", {}, ref_mvr1),
    ("mvr1-prev", {}, ref_mvr1_prev),
    ("mvr2", {}, ref_mvr2),
    ("mvr3", {}, ref_mvr3),
    ("mvr3", {"correction": "gradient"}, ref_mvr3),
    ("mvr3", {"correction": "storm"}, ref_mvr3_storm),
]


@pytest.mark.parametrize("name, options, reference", CASES,
                         ids=[f"{n}-{o.get('correction', 'default')}" for n, o, _ in CASES])
@pytest.mark.parametrize("schedule", ["constant", "varying"])
def test_update_matches_theory(name, options, reference, schedule):
    gs, gps = random_sequence(1)
    K = len(gs)
    if schedule == "constant":
        betas, qs = [0.7] * K, [0.3] * K
    else:
        rng = numpy.random.default_rng(2)
        betas, qs = list(rng.random(K)), list(rng.random(K))
    got = drive(get_estimator(name, **options), gs, gps, betas, qs)
    want = reference(gs, gps, betas, qs)
    assert numpy.array_equal(got[0], gs[0])           # M^0 = g^0
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.shape == SHAPE
        numpy.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13, err_msg=f"k={k}")


def test_the_two_mvr3_forms_differ():
    gs, gps = random_sequence(3)
    K = len(gs)
    a = drive(get_estimator("mvr3"), gs, gps, [0.6] * K, [0.2] * K)
    b = drive(get_estimator("mvr3", correction="storm"), gs, gps, [0.6] * K, [0.2] * K)
    assert not numpy.allclose(a[-1], b[-1])


def test_mvr3_rejects_unknown_correction():
    with pytest.raises(ValueError, match="correction"):
        get_estimator("mvr3", correction="nope")


def test_unknown_estimator_names_the_allowed_ones():
    with pytest.raises(ValueError) as info:
        get_estimator("adam")
    for name in ESTIMATORS:
        assert name in str(info.value)


@pytest.mark.parametrize("name, calls, same_sample", [
    ("momentum", 1, False), ("mvr1", 2, True), ("mvr2", 2, True), ("mvr3", 2, True), ("mvr1-prev", 1, False)])
def test_calls_per_step(name, calls, same_sample):
    est = get_estimator(name)
    assert est.calls_per_step == calls
    assert est.same_sample_previous is same_sample
    if name == "mvr3":
        assert get_estimator(name, correction="storm").calls_per_step == 2


def test_the_estimators_do_not_mutate_their_inputs():
    gs, gps = random_sequence(4)
    copies = [g.copy() for g in gs], [g.copy() for g in gps]
    for name, options, _ in CASES:
        drive(get_estimator(name, **options), gs, gps, [0.5] * len(gs), [0.5] * len(gs))
    for a, b in zip(gs + gps, copies[0] + copies[1]):
        assert numpy.array_equal(a, b)


# ---------------------------------------------------------------- reductions

@pytest.mark.parametrize("seed", range(5))
def test_mvr2_with_q_one_is_momentum_bitwise(seed):
    gs, gps = random_sequence(seed, K=12)
    rng = numpy.random.default_rng(seed + 100)
    betas = list(rng.random(len(gs)))
    mvr2 = drive(get_estimator("mvr2"), gs, gps, betas, [1.0] * len(gs))
    mom = drive(get_estimator("momentum"), gs, gps, betas, [1.0] * len(gs))
    for a, b in zip(mvr2, mom):
        assert numpy.array_equal(a, b)


@pytest.mark.parametrize("seed", range(3))
def test_mvr1_with_beta_zero_is_the_stochastic_gradient(seed):
    gs, gps = random_sequence(seed)
    for name in ("mvr1", "mvr1-prev"):
        M = drive(get_estimator(name), gs, gps, [0.0] * len(gs), [0.5] * len(gs))
        for a, g in zip(M, gs):
            assert numpy.array_equal(a, g)


def test_momentum_with_beta_zero_is_the_stochastic_gradient():
    gs, gps = random_sequence(7)
    M = drive(get_estimator("momentum"), gs, gps, [0.0] * len(gs), [0.5] * len(gs))
    for a, g in zip(M, gs):
        assert numpy.array_equal(a, g)


def test_mvr_with_identical_points_is_momentum_on_fresh_gradients():
    """When X^k = X^{k-1} the same-sample difference vanishes: MVR-1 is then the running
    average g + beta (M - g) = (1-beta) g + beta M, i.e. Gluon's momentum."""
    gs, _ = random_sequence(8)
    K = len(gs)
    mvr1 = drive(get_estimator("mvr1"), gs, gs, [0.8] * K, [0.3] * K)
    mom = drive(get_estimator("momentum"), gs, gs, [0.8] * K, [0.3] * K)
    for a, b in zip(mvr1, mom):
        numpy.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
