"""Zero-chain (hard instance 3): the chain's stated facts, the gradient-norm lower bound while
unexplored coordinates remain, and the oracle's variance and mean-squared smoothness, checked
numerically; each check is shown able to fail."""
import numpy
import pytest

from gluon_mvr.methods.norms import get_norm
from gluon_mvr.problems import get_problem
from gluon_mvr.problems.families.zerochain import (GRAD_INF, LIPSCHITZ, chain_grad, chain_value,
                                                  progress)

RNG = numpy.random.default_rng(0)


def _points(n, T, scale=1.5):
    """Points spread over the region where the chain's pieces switch (|u_j| around 1/2 and 1)."""
    return RNG.uniform(-scale, scale, (n, T))


def test_gradient_matches_finite_differences():
    u = _points(50, 6)
    v = RNG.standard_normal(u.shape)
    e = 1e-6
    fd = (chain_value(u + e * v) - chain_value(u - e * v)) / (2 * e)
    numpy.testing.assert_allclose(fd, (chain_grad(u) * v).sum(-1), rtol=1e-6, atol=1e-8)


def test_chain_lipschitz_and_sup_bounds():
    u = _points(4000, 6)
    w = u + 10.0 ** RNG.uniform(-4, 0, (4000, 1)) * RNG.standard_normal(u.shape)
    ratio = numpy.linalg.norm(chain_grad(u) - chain_grad(w), axis=-1) / numpy.linalg.norm(u - w, axis=-1)
    assert ratio.max() <= LIPSCHITZ
    assert numpy.abs(chain_grad(u)).max() <= GRAD_INF


def test_zero_chain_and_large_gradient_properties():
    T = 7
    for k in range(T + 1):       # first k coordinates "explored", the rest below 1/2
        u = numpy.concatenate([RNG.uniform(0.5, 2.0, (500, k)), RNG.uniform(-0.5, 0.5, (500, T - k))], axis=1)
        g = chain_grad(u)
        assert numpy.all(g[:, k + 1:] == 0)                          # zero chain
        assert numpy.all(progress(u, 0.5) <= k)
        if k < T:
            assert numpy.all(numpy.linalg.norm(g, axis=-1) > 1.0)     # large gradient
    # the large-gradient property fails once the chain is explored (the check can fail)
    done = numpy.full((1, T), 3.0)
    assert numpy.linalg.norm(chain_grad(done), axis=-1)[0] < 1.0


def test_gradient_norm_lower_bound_while_unexplored():
    P = get_problem("zero-chain", layers=3, length=6, scale=0.05, L=10.0)
    S = 2000
    u = numpy.where(RNG.random((S, 3, 6)) < 0.5, RNG.uniform(-2, 2, (S, 3, 6)), 0.0)
    u[:, :, -1] = RNG.uniform(-1.3, 1.3, (S, 3))
    X = [u[..., None] * P.lam]
    g = P.grad(X)[0][..., 0]
    per_layer = numpy.linalg.norm(g, axis=-1)
    open_ = numpy.abs(u[..., -1]) < 1.0
    assert numpy.all(per_layer[open_] > P.eps)
    assert numpy.array_equal(P.unexplored_layers(X), open_.sum(-1))
    total = per_layer.sum(-1)
    assert numpy.all(total >= P.eps * open_.sum(-1))


def test_oracle_unbiased_and_variance_within_sigma():
    P = get_problem("zero-chain", layers=2, length=5, scale=0.05, L=4.0, sigma=1.0)
    u = numpy.zeros((6, 2, 5))
    for s in range(6):
        u[s, :, :min(s, 5)] = 0.3 + 0.1 * s        # progress 0..5 in both layers
    n = 20000
    X = [numpy.repeat(u[..., None] * P.lam, n, axis=0)]        # each point n times
    G = P.stochastic_grad(X, P.sample([numpy.random.default_rng(1)] * X[0].shape[0]))[0]
    err = (G - P.grad(X)[0]).reshape(6, n, 2, 5)
    se = err.std(axis=1) / numpy.sqrt(n)
    assert numpy.all(numpy.abs(err.mean(axis=1)) <= 5 * se + 1e-15)
    var = (err ** 2).sum(-1)                       # (6, n, p)
    m, sem = var.mean(1), var.std(1) / numpy.sqrt(n)
    assert numpy.all(m - 5 * sem <= P.constants.sigma[0] ** 2)
    # exact variance (1-q)/q |grad_j f|^2 at the masked coordinate j = prog_1/4 + 1 ...
    g = P.grad([u[..., None] * P.lam])[0][..., 0]
    j = progress(u, 0.25)
    gj = numpy.where(j < 5, numpy.take_along_axis(g, numpy.minimum(j, 4)[..., None], -1)[..., 0], 0.0)
    exact = (1 - P.q) / P.q * gj ** 2
    assert numpy.all(numpy.abs(m - exact) <= 5 * sem + 1e-15)
    # ... which a wrong masking probability (a mutant q) contradicts
    wrong = (1 - 0.8 * P.q) / (0.8 * P.q) * gj ** 2
    assert numpy.any(numpy.abs(m - wrong) > 5 * sem + 1e-15)


def _same_sample_D2(P, X, Y, draws, seed):
    """Monte Carlo of E||D||^2 per pair (X, Y share each sample), mean and standard error."""
    S = X[0].shape[0]
    Xr, Yr = [numpy.repeat(X[0], draws, axis=0)], [numpy.repeat(Y[0], draws, axis=0)]
    s = P.sample([numpy.random.default_rng(seed)] * (S * draws))
    D = (P.stochastic_grad(Xr, s)[0] - P.stochastic_grad(Yr, s)[0]) - (P.grad(Xr)[0] - P.grad(Yr)[0])
    d2 = (D ** 2).sum(axis=(1, 2, 3)).reshape(S, draws)
    return d2.mean(1), d2.std(1) / numpy.sqrt(draws)


def test_mean_squared_smoothness_on_equal_progress_pairs_and_its_failure_across():
    P = get_problem("zero-chain", layers=1, length=5, scale=0.05, L=4.0, sigma=1.0)
    ell = P.constants.ell[0]
    n_pairs = 64
    u = RNG.uniform(-1.2, 1.2, (n_pairs, 1, 5))
    w = u + 10.0 ** RNG.uniform(-3, -1, (n_pairs, 1, 1)) * RNG.standard_normal(u.shape)
    same = (progress(u, 0.25) == progress(w, 0.25))[:, 0]
    X, Y = [u[..., None] * P.lam], [w[..., None] * P.lam]
    mean, se = _same_sample_D2(P, X, Y, 3000, 5)
    dist2 = ((X[0] - Y[0]) ** 2).sum(axis=(1, 2, 3))
    assert same.sum() > 10 and (~same).sum() > 0
    assert numpy.all(mean[same] - 5 * se[same] <= ell ** 2 * dist2[same] * (1 + 1e-9))
    # exact value (1-q)/q (grad_j f(x) - grad_j f(y))^2 at the shared masked coordinate j ...
    j = numpy.minimum(progress(u, 0.25)[:, 0], 4)
    dg = (P.grad(X)[0] - P.grad(Y)[0])[:, 0, :, 0]
    exact = (1 - P.q) / P.q * dg[numpy.arange(n_pairs), j] ** 2 * (progress(u, 0.25)[:, 0] < 5)
    assert numpy.all(numpy.abs(mean[same] - exact[same]) <= 5 * se[same] + 1e-30)
    # ... which a mutant masking probability contradicts (the check can fail)
    wrong = (1 - 0.8 * P.q) / (0.8 * P.q) * dg[numpy.arange(n_pairs), j] ** 2
    assert numpy.any(numpy.abs(mean[same] - wrong[same]) > 5 * se[same] + 1e-30)
    # pairs straddling a change of progress: no finite ell (far above the declared one)
    u0 = numpy.zeros((1, 1, 5))
    u0[0, 0, 0] = 0.25 - 1e-6
    u1 = u0.copy()
    u1[0, 0, 0] = 0.25 + 1e-6
    Xa, Xb = [u0[..., None] * P.lam], [u1[..., None] * P.lam]
    m, _ = _same_sample_D2(P, Xa, Xb, 2000, 9)
    assert m[0] > 1e6 * ell ** 2 * ((Xa[0] - Xb[0]) ** 2).sum()


@pytest.mark.parametrize("norm", ["spectral", "frobenius", "sign"])
def test_layer_lmos_are_zero_respecting(norm):
    """The lower bound needs zero-respecting steps: lmo(M) is supported where M is."""
    geom = get_norm(norm)
    M = numpy.zeros((50, 1, 9, 1))
    for s in range(50):
        M[s, 0, :s % 9 + 1, 0] = RNG.standard_normal(s % 9 + 1)
    D = geom.lmo(M)
    assert numpy.all(D[M == 0] == 0)


def test_constants_and_params():
    P = get_problem("zero-chain", layers=2, length=4, scale=0.1, L=2.0, sigma=0.5)
    assert P.lam == pytest.approx(LIPSCHITZ * 0.1 / 2.0)
    top = (GRAD_INF * 0.1) ** 2
    assert P.q == pytest.approx(top / (0.25 + top))
    assert P.constants.sigma == (0.5, 0.5) and P.constants.L0 == (2.0, 2.0)
    assert P.constants.ell[0] == pytest.approx(2.0 * numpy.sqrt((1 - P.q) / P.q))
    Q = get_problem("zero-chain", layers=2, scale=0.1, L=2.0, delta0=50.0)
    assert Q.T == int(50.0 // (12 * 0.1 * Q.lam * 2))
    assert get_problem("zero-chain", norm="sign", length=9).constants.L0[0] == pytest.approx(9.0)
    quiet = P.without_noise()
    X = [numpy.full((1, 2, 4, 1), 0.3 * P.lam)]
    s = quiet.sample([numpy.random.default_rng(0)])
    assert numpy.array_equal(quiet.stochastic_grad(X, s)[0], quiet.grad(X)[0])
    with pytest.raises(ValueError, match="norm"):
        get_problem("zero-chain", norm="colnorm")
