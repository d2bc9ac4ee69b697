"""The run loop: batching over seeds, reductions between methods, oracle counts, divergence,
recording, the deterministic adaptive radius, reproducibility, inexact LMOs, GPU parity."""
import numpy
import pytest

from gluon_mvr.methods import METHOD_NAMES, run, seed_generators
from gluon_mvr.methods.norms import get_norm
from gluon_mvr.methods.schedules import Schedule, adaptive_schedule, constant_schedule
from gluon_mvr.problems import get_problem

SHAPES = "3x4,4x3,3x4"          # two groups, one of them with two layers
P = 3


def quadratic(norm="spectral", sigma=0.5, shapes=SHAPES, **kw):
    return get_problem("quadratic", shapes=shapes, sigma=sigma, norm=norm, **kw)


def assert_same_run(a, b, seeds_a=slice(None), seeds_b=slice(None)):
    assert numpy.array_equal(a.iterations, b.iterations)
    assert numpy.array_equal(a.grad_norms[seeds_a], b.grad_norms[seeds_b], equal_nan=True)
    assert numpy.array_equal(a.values[seeds_a], b.values[seeds_b], equal_nan=True)
    assert numpy.array_equal(a.final_value[seeds_a], b.final_value[seeds_b], equal_nan=True)
    assert numpy.array_equal(a.final_grad_norms[seeds_a], b.final_grad_norms[seeds_b], equal_nan=True)
    assert numpy.array_equal(a.diverged_at[seeds_a], b.diverged_at[seeds_b])


# ---------------------------------------------------------------- seeds are a batch axis

@pytest.mark.parametrize("method", METHOD_NAMES)
def test_batch_equals_single_runs_bitwise(method):
    problem = quadratic()
    seeds = [0, 3, 1, 7]
    batch = run(problem, method, K=12, seeds=seeds)
    assert batch.grad_norms.shape == (4, 12, P) and batch.values.shape == (4, 12)
    for i, s in enumerate(seeds):
        single = run(problem, method, K=12, seeds=[s])
        assert_same_run(batch, single, slice(i, i + 1), slice(None))
    if method != "gluon-det":
        # the seeds really are different runs
        assert not numpy.array_equal(batch.values[0], batch.values[1])


def test_int_seeds_means_range():
    problem = quadratic()
    assert_same_run(run(problem, "mvr1", K=5, seeds=3), run(problem, "mvr1", K=5, seeds=[0, 1, 2]))


# ---------------------------------------------------------------- the loop against a hand-rolled one

def reference_run(problem, estimator, K, seeds, radius, beta, q, norms, root_seed=0, correction="gradient"):
    """docs/theory.md §3 written out with the problem's oracle; returns X^0..X^K (lists of groups)."""
    rngs = seed_generators(seeds, root_seed)
    X = problem.initial_point(len(seeds))
    lmos = [get_norm(n) for n in norms]     # one norm per group (uniform norms per group here)
    g = problem.stochastic_grad(X, problem.sample(rngs))
    M, gest, glast = g, g, g
    out = [X]
    X_prev = None
    for k in range(K):
        if k > 0:
            sample = problem.sample(rngs)
            g = problem.stochastic_grad(X, sample)
            gp = problem.stochastic_grad(X_prev, sample)
            if estimator == "momentum":
                M = [beta * m + (1 - beta) * gi for m, gi in zip(M, g)]
            elif estimator == "mvr1":
                M = [gi + beta * (m - gpi) for gi, m, gpi in zip(g, M, gp)]
            elif estimator == "mvr1-prev":
                M = [gi + beta * (m - gl) for gi, m, gl in zip(g, M, glast)]
            elif estimator in ("mvr2", "mvr3"):
                new = [gi + (1 - q) * (ge - gpi) for gi, ge, gpi in zip(g, gest, gp)]
                M = [beta * m + (1 - beta) * n for m, n in zip(M, new)]
                if estimator == "mvr3":
                    corr = [gi - gpi for gi, gpi in zip(g, gp)] if correction == "gradient" else \
                        [n - o for n, o in zip(new, gest)]
                    M = [m + beta * c for m, c in zip(M, corr)]
                gest = new
            glast = g
        X_prev = X
        X = [x + radius * lmo.lmo(m) for x, lmo, m in zip(X, lmos, M)]
        out.append(X)
    return out


@pytest.mark.parametrize("method, estimator, norm, correction", [
    ("gluon", "momentum", "spectral", None),
    ("gluon", "momentum", "colnorm", None),
    ("mvr1", "mvr1", "spectral", None),
    ("mvr1", "mvr1", "sign", None),
    ("mvr2", "mvr2", "frobenius", None),
    ("mvr3", "mvr3", "spectral", "gradient"),
    ("mvr3-storm", "mvr3", "spectral", "storm"),
    ("mvr1-prev", "mvr1-prev", "rownorm", None),
])
def test_loop_matches_hand_rolled_iteration(method, estimator, norm, correction):
    problem = quadratic(norm=norm, sigma=0.7)
    K, t, beta, q = 6, 0.05, 0.6, 0.3
    traj = run(problem, method, K=K, seeds=[2, 5], schedule=constant_schedule(t, P, beta=beta, q=q),
               record_params=True)
    ref = reference_run(problem, estimator, K, [2, 5], t, traj_beta(beta), q, [norm] * 2,
                        correction=correction or "gradient")
    assert len(traj.params) == K
    for k in range(K):
        for got, want in zip(traj.params[k], ref[k]):
            numpy.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=f"k={k}")
    final = problem.value(ref[K])
    numpy.testing.assert_allclose(traj.final_value, final, rtol=1e-12)
    # recorded values and gradient norms are those of the iterates
    for k in range(K):
        numpy.testing.assert_allclose(traj.values[:, k], problem.value(ref[k]), rtol=1e-12)
        dual = get_norm(norm).dual_norm
        by_group = [dual(gr) for gr in problem.grad(ref[k])]
        numpy.testing.assert_allclose(traj.grad_norms[:, k], problem.layout.merge(by_group), rtol=1e-12)
    numpy.testing.assert_allclose(traj.radius, numpy.full((K, P), t))


def traj_beta(beta):
    # the schedule stores 1 - beta; the loop uses 1 - (1 - beta), which may differ in the last bit
    return 1.0 - (1.0 - beta)


@pytest.mark.parametrize("method, hidden, head", [("muon", "spectral", "spectral"),
                                                   ("scion", "scaled-spectral", "scaled-sign"),
                                                   ("normalized-sgd", "frobenius", "frobenius"),
                                                   ("sign-sgd", "sign", "sign")])
def test_preset_geometries_first_step(method, hidden, head):
    """X^1 = X^0 + t lmo(g^0) with the preset's norms; scion's head shares its shape (and so its
    stacked group) with a hidden layer, which exercises the mixed-norm group path."""
    problem = quadratic(norm="frobenius", shapes="4x4,3x4,4x4")
    t = 0.1
    traj = run(problem, method, K=2, seeds=[0, 1], schedule=constant_schedule(t, 3, beta=0.5),
               record_params=True)
    rngs = seed_generators([0, 1])
    X0 = problem.initial_point(2)
    g0 = problem.layout.to_layers(problem.stochastic_grad(X0, problem.sample(rngs)))
    X0l = problem.layout.to_layers(X0)
    X1l = problem.layout.to_layers(traj.params[1])
    for i, name in enumerate([hidden, hidden, head]):
        numpy.testing.assert_allclose(X1l[i], X0l[i] + t * get_norm(name).lmo(g0[i]), rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------- reductions on trajectories

def test_mvr2_with_q_one_is_gluon():
    problem = quadratic()
    sched = constant_schedule(0.05, P, beta=0.8, q=1.0)
    a = run(problem, "mvr2", K=25, seeds=3, schedule=sched)
    b = run(problem, "gluon", K=25, seeds=3, schedule=sched)
    assert_same_run(a, b)
    assert not numpy.array_equal(a.oracle_calls, b.oracle_calls)   # but MVR-2 pays two calls


def test_mvr1_with_beta_zero_and_frobenius_is_normalized_sgd():
    problem = quadratic(norm="frobenius")
    sched = constant_schedule(0.05, P, beta=0.0)
    a = run(problem, "mvr1", K=25, seeds=3, schedule=sched)
    b = run(problem, "normalized-sgd", K=25, seeds=3, schedule=sched)
    assert_same_run(a, b)
    # beta really is used: with beta > 0 the two differ
    sched = constant_schedule(0.05, P, beta=0.5)
    c = run(problem, "mvr1", K=25, seeds=3, schedule=sched)
    d = run(problem, "normalized-sgd", K=25, seeds=3, schedule=sched)
    assert not numpy.array_equal(c.values, d.values)


def test_gluon_in_spectral_geometry_is_muon():
    problem = quadratic(norm="spectral")
    sched = constant_schedule(0.05, P, beta=0.7)
    assert_same_run(run(problem, "gluon", K=15, seeds=2, schedule=sched),
                    run(problem, "muon", K=15, seeds=2, schedule=sched))


# ---------------------------------------------------------------- oracle calls

@pytest.mark.parametrize("method, per_step", [("gluon", 1), ("muon", 1), ("mvr1", 2), ("mvr2", 2), ("mvr3", 2),
                                              ("mvr3-storm", 2), ("mvr1-prev", 1)])
def test_oracle_calls(method, per_step, monkeypatch):
    problem = quadratic()
    calls = [0]
    original = problem.stochastic_grad

    def counted(X, sample):
        calls[0] += 1
        return original(X, sample)

    monkeypatch.setattr(problem, "stochastic_grad", counted)
    K = 9
    traj = run(problem, method, K=K, seeds=2, record_every=2)
    numpy.testing.assert_array_equal(traj.oracle_calls, 1 + per_step * traj.iterations)
    # the count is what the oracle really saw: 1 at k = 0, per_step at each k = 1..K-1
    assert calls[0] == 1 + per_step * (K - 1)


def test_oracle_calls_deterministic():
    traj = run(quadratic(sigma=0.0), "gluon-det", K=6, seeds=1)
    numpy.testing.assert_array_equal(traj.oracle_calls, 1 + traj.iterations)


# ---------------------------------------------------------------- divergence

def test_huge_radius_diverges_and_is_recorded():
    problem = quadratic(norm="frobenius")
    traj = run(problem, "gluon", K=6, seeds=3, schedule=constant_schedule(1e200, P, beta=0.5))
    assert traj.n_diverged == 3
    numpy.testing.assert_array_equal(traj.diverged_at, [1, 1, 1])
    assert numpy.isfinite(traj.values[:, 0]).all() and numpy.isfinite(traj.grad_norms[:, 0]).all()
    assert numpy.isnan(traj.values[:, 1:]).all() and numpy.isnan(traj.grad_norms[:, 1:]).all()
    assert numpy.isnan(traj.stationarity).all()


def _poison(problem, monkeypatch, seed_index, after_calls):
    """Make the stochastic oracle return +inf for one seed from call number ``after_calls`` on."""
    original = problem.stochastic_grad
    calls = [0]

    def poisoned(X, sample):
        out = original(X, sample)
        calls[0] += 1
        if calls[0] > after_calls:
            out = [o.copy() for o in out]
            out[0][seed_index] = numpy.inf
        return out

    monkeypatch.setattr(problem, "stochastic_grad", poisoned)


def _check_seed_one_diverged(problem, monkeypatch, method="gluon", K=8):
    sched = constant_schedule(0.1, P, beta=0.5)
    clean = run(problem, method, K=K, seeds=2, schedule=sched)
    _poison(problem, monkeypatch, seed_index=1, after_calls=4)     # gluon: M^4 of seed 1 is inf
    traj = run(problem, method, K=K, seeds=2, schedule=sched)
    assert traj.diverged_at[0] == -1
    assert traj.diverged_at[1] == 5                                  # X^5 is the first bad iterate
    assert numpy.isfinite(traj.values[1, :5]).all()
    assert numpy.isnan(traj.values[1, 5:]).all() and numpy.isnan(traj.grad_norms[1, 5:]).all()
    # the healthy seed is untouched, bit for bit
    assert_same_run(traj, clean, slice(0, 1), slice(0, 1))
    assert traj.n_diverged == 1


def test_one_seed_diverging_frobenius(monkeypatch):
    _check_seed_one_diverged(quadratic(norm="frobenius"), monkeypatch)


def test_one_seed_diverging_spectral(monkeypatch):
    _check_seed_one_diverged(quadratic(norm="spectral"), monkeypatch)


def test_natural_divergence_in_spectral_geometry_is_recorded():
    problem = get_problem("l0l1", layers=2, dim=4)
    traj = run(problem, "muon", K=30, seeds=2, schedule=constant_schedule(1e30, 2, beta=0.5))
    assert (traj.diverged_at >= 0).all()
    assert numpy.isnan(traj.values[:, -1]).all()


def test_one_seed_diverging_sign(monkeypatch):
    _check_seed_one_diverged(quadratic(norm="sign"), monkeypatch)


def test_divergence_at_the_last_step_is_recorded_as_K(monkeypatch):
    problem = quadratic(norm="frobenius")
    K = 6
    _poison(problem, monkeypatch, seed_index=0, after_calls=K - 1)  # only M^{K-1} is bad: X^K is NaN
    traj = run(problem, "gluon", K=K, seeds=2, schedule=constant_schedule(0.1, P, beta=0.5))
    assert numpy.isfinite(traj.values).all()
    numpy.testing.assert_array_equal(traj.diverged_at, [K, -1])
    assert not numpy.isfinite(traj.final_value[0]) and numpy.isfinite(traj.final_value[1])


def test_divergence_with_record_every(monkeypatch):
    problem = quadratic(norm="frobenius")
    _poison(problem, monkeypatch, seed_index=1, after_calls=4)      # X^5 of seed 1 is the first bad one
    traj = run(problem, "gluon", K=12, seeds=2, record_every=3, schedule=constant_schedule(0.1, P, beta=0.5))
    numpy.testing.assert_array_equal(traj.iterations, [0, 3, 6, 9])
    numpy.testing.assert_array_equal(traj.diverged_at, [-1, 6])    # the first RECORDED bad iteration
    assert numpy.isnan(traj.values[1, 2:]).all() and numpy.isfinite(traj.values[1, :2]).all()


# ---------------------------------------------------------------- recording

@pytest.mark.parametrize("method", ["gluon", "mvr2", "gluon-det"])
def test_record_every_subsamples(method):
    problem = quadratic(sigma=0.0 if method == "gluon-det" else 0.5)
    K, r = 10, 3
    full = run(problem, method, K=K, seeds=2)
    sub = run(problem, method, K=K, seeds=2, record_every=r)
    numpy.testing.assert_array_equal(sub.iterations, [0, 3, 6, 9])
    assert numpy.array_equal(sub.grad_norms, full.grad_norms[:, ::r])
    assert numpy.array_equal(sub.values, full.values[:, ::r])
    assert numpy.array_equal(sub.oracle_calls, full.oracle_calls[::r])
    assert numpy.array_equal(sub.radius, full.radius[..., ::r, :])
    assert numpy.array_equal(sub.final_value, full.final_value)
    assert numpy.array_equal(sub.final_grad_norms, full.final_grad_norms)
    # K not a multiple of r: the last recorded k is the largest multiple below K
    assert run(problem, method, K=7, seeds=1, record_every=3).iterations.tolist() == [0, 3, 6]


def test_progress_callback_and_record_params():
    seen = []
    traj = run(quadratic(), "gluon", K=7, seeds=1, record_every=2, progress=seen.append, record_params=True)
    assert seen == [0, 2, 4, 6]
    assert len(traj.params) == 4
    numpy.testing.assert_allclose(quadratic().value(traj.params[2]), traj.values[:, 2])


# ---------------------------------------------------------------- deterministic Gluon

def test_deterministic_gluon_decreases_monotonically():
    problem = quadratic(sigma=0.0)
    traj = run(problem, "gluon-det", K=30, seeds=1)
    v = numpy.concatenate([traj.values[0], traj.final_value])
    assert (numpy.diff(v) < 0).all(), v
    assert v[-1] < 0.5 * v[0]
    # adaptive radius t_i = a_i / (L0_i + L1_i a_i), a_i the dual norm of the exact gradient
    L0 = numpy.asarray(problem.constants.L0)
    numpy.testing.assert_allclose(traj.radius[0], traj.grad_norms[0] / L0, rtol=1e-12)


def test_adaptive_radius_with_L1():
    problem = quadratic(sigma=0.0)
    L0, L1 = [2.0, 3.0, 4.0], [0.5, 1.0, 0.0]
    traj = run(problem, "gluon-det", K=8, seeds=1, schedule=adaptive_schedule(L0, L1))
    a = traj.grad_norms[0]
    numpy.testing.assert_allclose(traj.radius[0], a / (numpy.asarray(L0) + numpy.asarray(L1) * a), rtol=1e-12)


# ---------------------------------------------------------------- reproducibility and errors

def test_reproducible_and_root_seed_matters():
    problem = quadratic()
    a = run(problem, "mvr1", K=10, seeds=2, root_seed=11)
    b = run(problem, "mvr1", K=10, seeds=2, root_seed=11)
    c = run(problem, "mvr1", K=10, seeds=2, root_seed=12)
    assert_same_run(a, b)
    assert not numpy.array_equal(a.values, c.values)
    assert numpy.array_equal(a.values[:, 0], c.values[:, 0])   # same X^0, different noise


def test_unknown_method_names_the_allowed_ones():
    with pytest.raises(ValueError) as info:
        run(quadratic(), "adamw", K=3, seeds=1)
    for name in METHOD_NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("kwargs, word", [
    (dict(K=0), "K"), (dict(K=-3), "K"), (dict(K=3, record_every=0), "record_every"),
    (dict(K=3, seeds=[]), "seed"), (dict(K=3, lmo="svd-ish"), "lmo"),
    (dict(K=3, schedule=constant_schedule(0.1, 2)), "layers"),
    (dict(K=3, device="tpu"), "device")])
def test_bad_arguments_are_rejected(kwargs, word):
    kwargs = dict(dict(seeds=1), **kwargs)
    with pytest.raises(ValueError, match=word):
        run(quadratic(), "gluon", **kwargs)


# ---------------------------------------------------------------- inexact LMOs in the loop

@pytest.mark.parametrize("lmo", ["ns-jordan", "ns-cubic", "ns-quintic", "polar-express"])
def test_inexact_lmo_runs(lmo):
    problem = quadratic()
    sched = constant_schedule(0.05, P, beta=0.7)
    exact = run(problem, "muon", K=10, seeds=2, schedule=sched)
    approx = run(problem, "muon", K=10, seeds=2, schedule=sched, lmo=lmo)
    assert numpy.isfinite(approx.values).all() and numpy.isfinite(approx.grad_norms).all()
    assert (approx.diverged_at == -1).all()
    assert not numpy.array_equal(approx.values[:, 1:], exact.values[:, 1:])   # the option is used
    # float32 working precision also runs
    f32 = run(problem, "muon", K=10, seeds=2, schedule=sched, lmo=lmo, ns_dtype="float32")
    assert numpy.isfinite(f32.values).all()


def test_polar_express_with_many_steps_tracks_the_exact_run():
    problem = quadratic()
    sched = constant_schedule(0.05, P, beta=0.7)
    exact = run(problem, "muon", K=10, seeds=2, schedule=sched)
    pe = run(problem, "muon", K=10, seeds=2, schedule=sched, lmo="polar-express", ns_steps=10)
    numpy.testing.assert_allclose(pe.values, exact.values, rtol=1e-5)


def test_inexact_lmo_leaves_non_spectral_layers_exact():
    problem = quadratic(norm="frobenius")
    sched = constant_schedule(0.05, P, beta=0.7)
    assert_same_run(run(problem, "gluon", K=8, seeds=2, schedule=sched),
                    run(problem, "gluon", K=8, seeds=2, schedule=sched, lmo="ns-jordan"))


# ---------------------------------------------------------------- observe, per-element schedules, norm_builder

@pytest.mark.parametrize("method", ["mvr1", "gluon-det"])
def test_observe_sees_every_momentum_and_step(method):
    problem = quadratic(sigma=0.0 if method == "gluon-det" else 0.5)
    K, t = 7, 0.05
    sched = constant_schedule(t, P, beta=0.6) if method == "mvr1" else None
    seen = []
    traj = run(problem, method, K=K, seeds=[0, 3], schedule=sched, record_params=True,
               observe=lambda k, M, D: seen.append((k, [m.copy() for m in M], [d.copy() for d in D])))
    assert [k for k, _, _ in seen] == list(range(K))
    shapes = [(2, len(ls), m, n) for ls, (m, n) in zip(problem.layout.group_layers, problem.layout.group_shapes)]
    for k, M, D in seen:
        assert [m.shape for m in M] == shapes and [d.shape for d in D] == shapes
        for m, d in zip(M, D):
            numpy.testing.assert_array_equal(d, get_norm("spectral").lmo(m))      # D = lmo(M)
        if k + 1 < K:                                                             # X^{k+1} = X^k + t^k D^k
            t_k = traj.radius[:, k] if traj.radius.ndim == 3 else traj.radius[k]   # adaptive: per seed
            for x1, x0, d, t in zip(traj.params[k + 1], traj.params[k], D, problem.layout.split(t_k)):
                numpy.testing.assert_array_equal(x1, x0 + t.reshape(-1, t.shape[-1], 1, 1) * d)
    if method == "mvr1":
        assert_same_run(traj, run(problem, method, K=K, seeds=[0, 3], schedule=sched))  # observing changes nothing


def per_element_schedule(rows, **decays):
    return Schedule(radius=[r for r, _, _ in rows], one_minus_beta=[c for _, c, _ in rows],
                    q=[q for _, _, q in rows], **decays)


ROWS = [((0.05, 0.02, 0.03), 0.3, 0.2), ((0.01, 0.04, 0.02), 0.7, 0.9), ((0.03, 0.03, 0.03), 1.0, 0.5)]


@pytest.mark.parametrize("method", ["gluon", "mvr1", "mvr1-prev", "mvr2", "mvr3"])
@pytest.mark.parametrize("decays", [{}, {"radius_decay": 0.5, "beta_decay": 0.5, "q_decay": 2 / 3}])
def test_per_element_schedule_equals_separate_runs_bitwise(method, decays):
    problem = quadratic()
    seeds = [0, 3, 0]                          # a repeated id: the same samples, other parameters
    batch = run(problem, method, K=10, seeds=seeds, schedule=per_element_schedule(ROWS, **decays))
    assert batch.radius.shape == (3, 10, P)
    for i, (s, (r, c, q)) in enumerate(zip(seeds, ROWS)):
        single = run(problem, method, K=10, seeds=[s], schedule=Schedule(radius=r, one_minus_beta=c, q=q, **decays))
        assert_same_run(batch, single, slice(i, i + 1))
        assert numpy.array_equal(batch.radius[i], single.radius)
    assert not numpy.array_equal(batch.values[0], batch.values[2])   # same seed, other parameters


def test_per_element_schedule_mixes_shared_and_per_element_constants():
    problem = get_problem("star", layers=2, dim=4)
    ball = problem.ball_radii()                  # and the Frank–Wolfe form
    cases = [(Schedule(radius=(0.02, 0.03), one_minus_beta=[0.2, 0.6], q=0.5, ball=ball),
              [{"radius": (0.02, 0.03), "one_minus_beta": 0.2, "q": 0.5},
               {"radius": (0.02, 0.03), "one_minus_beta": 0.6, "q": 0.5}]),
             (Schedule(radius=[(0.02, 0.03), (0.01, 0.05)], one_minus_beta=0.4, q=[0.3, 1.0], ball=ball),
              [{"radius": (0.02, 0.03), "one_minus_beta": 0.4, "q": 0.3},
               {"radius": (0.01, 0.05), "one_minus_beta": 0.4, "q": 1.0}])]
    for sched, rows in cases:
        batch = run(problem, "mvr2", K=12, seeds=[1, 2], schedule=sched)
        for i, (s, row) in enumerate(zip([1, 2], rows)):
            single = run(problem, "mvr2", K=12, seeds=[s], schedule=Schedule(ball=ball, **row))
            assert_same_run(batch, single, slice(i, i + 1))


def test_per_element_schedule_in_float32_agrees_to_rounding():
    problem = quadratic()
    batch = run(problem, "mvr2", K=10, seeds=[0, 3, 0], schedule=per_element_schedule(ROWS), dtype="float32")
    for i, (s, (r, c, q)) in enumerate(zip([0, 3, 0], ROWS)):
        single = run(problem, "mvr2", K=10, seeds=[s], schedule=Schedule(radius=r, one_minus_beta=c, q=q),
                     dtype="float32")
        numpy.testing.assert_allclose(batch.values[i], single.values[0], rtol=1e-5)


def test_per_element_schedule_validation():
    sched = per_element_schedule(ROWS)
    assert sched.n_elements == 3 and sched.n_layers == P and constant_schedule(0.1, P).n_elements is None
    factor, beta, q = sched.tables(4)
    assert factor.shape == (4,) and beta.shape == (4, 3) and q.shape == (4, 3)
    for i, (_, c, qi) in enumerate(ROWS):
        _, b1, q1 = Schedule(radius=(1.0,) * P, one_minus_beta=c, q=qi).tables(4)
        assert numpy.array_equal(beta[:, i], b1) and numpy.array_equal(q[:, i], q1)
    d = sched.describe()
    assert d["radius"] == [list(r) for r, _, _ in ROWS] and d["one_minus_beta"] == [0.3, 0.7, 1.0]
    with pytest.raises(ValueError, match="one batch size"):
        Schedule(radius=[(0.1,), (0.1,)], one_minus_beta=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"schedule\.one_minus_beta\[1\]"):
        Schedule(radius=(0.1,), one_minus_beta=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"schedule\.radius\[1\]\[0\]"):
        Schedule(radius=[(0.1,), (-1.0,)])
    with pytest.raises(ValueError, match="adaptive"):
        Schedule(radius=(1.0,), q=[0.5, 0.5], adaptive=((1.0, 0.0),))
    with pytest.raises(ValueError, match="2 seeds"):
        run(quadratic(), "mvr1", K=3, seeds=2, schedule=sched)


def test_norm_builder_replaces_the_geometry_not_the_measurement():
    from gluon_mvr.methods.inexact import ControlledErrorLMO
    from gluon_mvr.methods.presets import build_norm
    problem = quadratic()
    sched = constant_schedule(0.05, P, beta=0.7)
    asked = []

    def ns(name):
        asked.append(name)
        return build_norm(name, lmo="ns-jordan", ns_steps=5)
    # the builder is what the geometry uses: same run as the named inexact LMO, bit for bit
    assert_same_run(run(problem, "muon", K=8, seeds=2, schedule=sched, norm_builder=ns),
                    run(problem, "muon", K=8, seeds=2, schedule=sched, lmo="ns-jordan", ns_steps=5))
    assert asked == ["spectral", "spectral"]                 # once per group
    # an LMO no lmo= name gives: lmo~ = (1 + delta) lmo; the recorded gradient norms stay exact
    seen = []
    over = run(problem, "muon", K=8, seeds=2, schedule=sched,
               norm_builder=lambda n: ControlledErrorLMO(base=n, delta=0.25, mode="overshoot"),
               observe=lambda k, M, D: seen.append([get_norm("spectral").norm(d) for d in D]))
    assert all(numpy.allclose(v, 1.25) for norms in seen for v in norms)
    exact = run(problem, "muon", K=8, seeds=2, schedule=sched)
    assert numpy.array_equal(over.grad_norms[:, 0], exact.grad_norms[:, 0])    # X^0 alike, exact norms
    assert not numpy.array_equal(over.values[:, 1:], exact.values[:, 1:])
    with pytest.raises(ValueError, match="norm_builder"):
        run(problem, "muon", K=2, seeds=1, lmo="ns-jordan", norm_builder=ns)


def test_records_as_computed_keep_the_divergence_verdict(monkeypatch):
    sched = constant_schedule(0.1, P, beta=0.5)
    runs = []
    for nan_after in (True, False):
        problem = quadratic(norm="sign")
        _poison(problem, monkeypatch, seed_index=1, after_calls=4)    # M^4 of seed 1 is inf
        runs.append(run(problem, "gluon", K=8, seeds=2, schedule=sched, nan_after_divergence=nan_after))
    masked, raw = runs
    numpy.testing.assert_array_equal(raw.diverged_at, masked.diverged_at)
    numpy.testing.assert_array_equal(raw.diverged_at, [-1, 5])
    assert numpy.isfinite(raw.values).all()                          # the sign LMO hides the inf
    assert numpy.isnan(masked.values[1, 5:]).all()
    finite = numpy.isfinite(masked.values)
    assert numpy.array_equal(raw.values[finite], masked.values[finite])
    huge = constant_schedule(1e200, P, beta=0.5)
    raw = run(quadratic(norm="frobenius"), "gluon", K=6, seeds=2, schedule=huge, nan_after_divergence=False)
    numpy.testing.assert_array_equal(raw.diverged_at, [1, 1])
    assert numpy.isinf(raw.values[:, 1:]).all()                      # not NaN: as computed


# GPU parity: tests/test_device_path.py (the CPU stand-in for CuPy always, a real GPU with -m gpu)
