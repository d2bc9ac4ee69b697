r"""The run loop: one method on one problem for ``K`` iterations, a batch of seeds at once.

At iteration ``k`` (``X^0`` the problem's initial point, the same for every seed):

1. draw :math:`\xi^k` (one sample per seed), evaluate :math:`\nabla f_{\xi^k}(X^k)` and, for
   MVR estimators, :math:`\nabla f_{\xi^k}(X^{k-1})` with the same sample;
2. form :math:`M^k` with the estimator (:math:`M^0 = \nabla f_{\xi^0}(X^0)`);
3. record, every ``record_every`` iterations, the exact layer-wise dual gradient norms
   :math:`\|\nabla_i f(X^k)\|_{(i)*}` in the problem's norms, :math:`f(X^k)`, the oracle calls;
4. step :math:`X_i^{k+1} = X_i^k + t_i^k\,\mathrm{lmo}_i(M_i^k)` (or, for a schedule with a
   ball, the Frank–Wolfe form :math:`X_i^{k+1} = (1-a_k)X_i^k + a_k D_i\,\mathrm{lmo}_i(M_i^k)`),
   after handing :math:`M^k` and :math:`\mathrm{lmo}(M^k)` to an optional observer.

Everything stays on the device during the loop (records are written into preallocated device
arrays and copied to the host once); divergence is found afterwards from the records: a seed
whose recorded value or norm is not finite is marked diverged at the first such iteration and
its later records are NaN, never dropped silently.

The batch axis need not be seeds only: seed ids may repeat (common random numbers), the
schedule's constants may differ per batch element (:class:`methods.schedules.Schedule`), and
any per-layer LMO may replace the method's (``norm_builder``), so a whole parameter grid with,
say, a controlled-error LMO runs as one vectorised batch.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy

from gluon_mvr.methods.backend import get_backend, to_numpy
from gluon_mvr.methods.estimators import StepParams
from gluon_mvr.methods.geometry import build_norm, lmo_from_name
from gluon_mvr.methods.method import Method
from gluon_mvr.methods.presets import get_method
from gluon_mvr.methods.schedules import Schedule


def seed_generators(seeds, root_seed: int = 0):
    """One ``numpy.random.Generator`` per seed id, derived from ``root_seed`` with the
    ``SeedSequence`` spawn tree, so seed ``s`` draws the same numbers in any batch."""
    return [numpy.random.default_rng(numpy.random.SeedSequence(root_seed, spawn_key=(int(s),)))
            for s in seeds]


@dataclass
class Trajectory:
    """Host-side record of a batched run (arrays have the seed axis first).

    Attributes
    ----------
    iterations : (R,) int
        Recorded iterations ``k``.
    grad_norms : (S, R, p)
        Exact dual gradient norms per layer at the recorded iterations.
    values : (S, R)
        :math:`f(X^k)` at the recorded iterations.
    oracle_calls : (R,)
        Stochastic-gradient calls per seed spent up to and including iteration ``k``.
    total_oracle_calls : int
        Calls per seed for the whole run (iterations ``0..K-1``).
    final_value, final_grad_norms : (S,), (S, p)
        At :math:`X^K`.
    diverged_at : (S,) int
        First recorded iteration with a non-finite value (``-1``: never).
    radius : (R, p) or (S, R, p)
        Radii used at the recorded iterations (per seed for the adaptive radius and for
        per-element radii).
    """

    method: str
    K: int
    seeds: tuple
    iterations: numpy.ndarray
    grad_norms: numpy.ndarray
    values: numpy.ndarray
    oracle_calls: numpy.ndarray
    final_value: numpy.ndarray
    final_grad_norms: numpy.ndarray
    diverged_at: numpy.ndarray
    radius: numpy.ndarray
    schedule: dict
    wall_time: float
    total_oracle_calls: int = 0
    params: list | None = field(default=None, repr=False)
    # region_usage: per seed max_k max_i ||X_i^k - C_i||_F / R_i over every iterate k = 0..K for a
    # problem whose constants hold only in balls (Problem.hypotheses_region); above 1 means the run
    # left the region where its bound's hypotheses hold.  None otherwise.
    region_usage: numpy.ndarray | None = None

    @property
    def stationarity(self):
        r"""Per seed :math:`G_K = \frac1R\sum_{\text{recorded }k}\sum_i \|\nabla_i f(X^k)\|_*`
        (the mean over all ``k < K`` when ``record_every = 1``); NaN for diverged seeds."""
        return self.grad_norms.sum(axis=-1).mean(axis=-1)

    @property
    def min_stationarity(self):
        """Per seed :math:`\\min_k \\sum_i \\|\\nabla_i f(X^k)\\|_*` over recorded iterations."""
        return self.grad_norms.sum(axis=-1).min(axis=-1)

    @property
    def n_diverged(self) -> int:
        return int((self.diverged_at >= 0).sum())


def _finalise_divergence(iterations, grad_norms, values):
    bad = ~numpy.isfinite(values) | ~numpy.isfinite(grad_norms).all(axis=-1)   # (S, R)
    first = numpy.where(bad.any(axis=1), bad.argmax(axis=1), -1)
    for s in numpy.nonzero(first >= 0)[0]:
        values[s, first[s]:] = numpy.nan
        grad_norms[s, first[s]:] = numpy.nan
    return numpy.where(first >= 0, iterations[numpy.maximum(first, 0)], -1)


def _mixing(table, constant: bool, xp, dtype):
    """``k -> beta_k`` (or ``q_k``) from a schedule table: a host float when the table is shared
    ``(K,)``, a device array ``(S, 1, 1, 1)`` when it is per element ``(K, S)`` (made once when
    it does not change with ``k``)."""
    if table.ndim == 1:
        return lambda k: float(table[k])
    if constant:
        value = xp.asarray(table[0], dtype=dtype)[:, None, None, None]
        return lambda k: value
    return lambda k: xp.asarray(table[k], dtype=dtype)[:, None, None, None]


class _Geometry:
    """Per-group LMOs and dual norms; layers of one group that use different norms are
    handled on index slices (rare: Scion's head shaped like a hidden layer)."""

    def __init__(self, layout, norm_names, build):
        self.parts = []
        for ls in layout.group_layers:
            names = [norm_names[i] for i in ls]
            if len(set(names)) == 1:
                self.parts.append([(build(names[0]), None)])
            else:
                self.parts.append([(build(n), [j for j, m in enumerate(names) if m == n])
                                   for n in dict.fromkeys(names)])

    def _apply(self, fn_name, arrays, xp, out_like):
        out = []
        for parts, A in zip(self.parts, arrays):
            if len(parts) == 1:
                out.append(getattr(parts[0][0], fn_name)(A))
                continue
            R = out_like(A)
            for norm, idx in parts:
                R[:, idx] = getattr(norm, fn_name)(A[:, idx])
            out.append(R)
        return out

    def lmo(self, arrays, xp):
        return self._apply("lmo", arrays, xp, xp.empty_like)

    def dual_norm(self, arrays, xp):
        return self._apply("dual_norm", arrays, xp, lambda A: xp.empty(A.shape[:2], dtype=A.dtype))


def run(problem, method: str | Method = "mvr1", K: int = 1000, seeds=16, schedule: Schedule | None = None, *,
        record_every: int = 1, root_seed: int = 0, device: str = "cpu", dtype: str = "float64",
        lmo: str | None = None, ns_steps: int = 5, ns_dtype=None, radius_scale: float | None = None,
        momentum_scale: float | None = None, beta: float | None = None, record_params: bool = False,
        progress=None, observe=None, norm_builder=None, nan_after_divergence: bool = True) -> Trajectory:
    r"""Run ``method`` on ``problem`` for ``K`` iterations over a batch of seeds.

    Parameters
    ----------
    problem : problems.Problem
    method : str or Method
        A preset name (:data:`gluon_mvr.methods.presets.METHOD_NAMES`) or a composition
        :class:`gluon_mvr.methods.Method` (geometry x estimator x schedule rule).
    K : int
        Number of iterations (the horizon).
    seeds : int or sequence of int
        Seed ids (an int ``S`` means ``range(S)``); seed ``s`` draws from
        :func:`seed_generators`, so the batch reproduces single-seed runs bit for bit.  Ids may
        repeat: batch elements with the same id see the same samples.
    schedule : Schedule, optional
        Defaults to the method's own schedule rule for horizon ``K`` (for the presets, the
        horizon-K theory schedule of :mod:`gluon_mvr.theory.claims`, or the adaptive radius for
        ``gluon-det``); ``radius_scale``, ``momentum_scale``, ``beta`` (``None``: the rule's own)
        change the free constants of a theory schedule.  Its constants may be per batch
        element (:attr:`Schedule.n_elements` must then equal the number of seeds): element
        ``s`` runs with :math:`t_{s,i}^k`, :math:`\beta_{s,k}`, :math:`q_{s,k}` and equals the run
        of the shared schedule with element ``s``'s constants, bit for bit in float64 (in a
        lower ``dtype`` to rounding: per-element :math:`\beta, q` are rounded to ``dtype`` before
        :math:`1-\beta`, :math:`1-q` are formed, shared ones after).
    record_every : int
        Record every ``r``-th iteration (``k = 0, r, 2r, ...``).
    lmo, ns_steps, ns_dtype :
        Replace the geometry's LMO by a named one (``'exact'``, ``'ns-jordan'``, ``'ns-cubic'``,
        ``'ns-quintic'``, ``'polar-express'``) with its steps and working dtype; ``None`` keeps
        the method's own (:meth:`Method.with_lmo` does the same on the value).
    record_params : bool
        Keep host copies of the parameters at recorded iterations (for constants estimation).
    progress : callable, optional
        Called as ``progress(k)`` every recorded iteration.
    observe : callable, optional
        Called every iteration as ``observe(k, M, D)`` with the lists of per-group arrays
        :math:`M^k` and :math:`D^k = \mathrm{lmo}(M^k)` (shape ``(S, G_g, m_g, n_g)``, on the
        device), after the LMO and before the step :math:`X^{k+1} = X^k + t^k D^k`; it must not
        modify them.
    norm_builder : callable, optional
        ``norm_builder(norm_name) -> Norm`` building the LMO of every layer of the method's
        geometry (e.g. a :class:`methods.inexact.ControlledErrorLMO` for spectral layers) in
        place of the geometry's own LMO; not together with ``lmo``.
        The recorded gradient norms stay exact, in the problem's norms.
    nan_after_divergence : bool
        Replace a seed's records from its first non-finite one on (and its values after a
        non-finite :math:`M^k`) by NaN.  ``False`` returns the records as computed, for callers
        with their own rule; ``diverged_at`` is the same either way.

    Returns
    -------
    Trajectory
    """
    spec = get_method(method)
    if norm_builder is not None and lmo not in (None, "exact"):
        raise ValueError(f"give either lmo ({lmo!r}) or norm_builder, not both")
    if lmo is not None:
        spec = spec.with_lmo(lmo_from_name(lmo, ns_steps, ns_dtype))
    spec = spec.with_schedule_scales(radius_scale, momentum_scale, beta)
    K = int(K)
    if K < 1:
        raise ValueError(f"K must be an integer >= 1; got {K}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1; got {record_every}")
    seeds = tuple(range(seeds)) if isinstance(seeds, (int, numpy.integer)) else tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds: at least one seed is needed")
    xp = get_backend(device)
    layout = problem.layout
    S, p = len(seeds), layout.n_layers
    consts = problem.constants

    if schedule is None:
        schedule = spec.build_schedule(K, problem)
    if schedule.n_layers != p:
        raise ValueError(f"schedule has {schedule.n_layers} radii but the problem has {p} layers")
    if schedule.n_elements not in (None, S):
        raise ValueError(f"schedule has constants for {schedule.n_elements} batch elements but there "
                         f"are {S} seeds")

    if norm_builder is None:
        norm_builder = spec.geometry.norm_builder()
    geometry = _Geometry(layout, spec.layer_norm_names(consts.norms), norm_builder)
    measure = _Geometry(layout, consts.norms, build_norm)
    estimator = spec.estimator
    deterministic = estimator.exact_gradient
    rngs = seed_generators(seeds, root_seed)
    factor, betas, qs = schedule.tables(K)
    beta_at = _mixing(betas, schedule.beta_decay == 0, xp, dtype)
    q_at = _mixing(qs, schedule.q_decay == 0, xp, dtype)
    base_radius = [xp.asarray(r.reshape(-1, r.shape[-1], 1, 1), dtype=dtype)   # (1 or S, G_g, 1, 1)
                   for r in layout.split(schedule.radius)]
    shrink = None
    if schedule.ball is not None:   # Frank–Wolfe form: X <- X + t lmo(M) - (t / D) X
        shrink = [xp.asarray(1.0 / d, dtype=dtype)[None, :, None, None] for d in layout.split(schedule.ball)]
    if schedule.adaptive is not None:
        L0s = [xp.asarray(v, dtype=dtype)[None, :] for v in layout.split([a for a, _ in schedule.adaptive])]
        L1s = [xp.asarray(v, dtype=dtype)[None, :] for v in layout.split([b for _, b in schedule.adaptive])]

    rec_iters = numpy.arange(0, K, record_every)
    R = len(rec_iters)
    rec_norms = xp.empty((R, S, p), dtype=dtype)
    rec_values = xp.empty((R, S), dtype=dtype)
    rec_corrupted = xp.empty((R, S), dtype=bool)
    # only the adaptive radius needs recording; otherwise it is base * factor[k] (derived below)
    rec_radius = xp.empty((R, S, p), dtype=dtype) if schedule.adaptive is not None else None
    kept = [] if record_params else None
    # deterministic Gluon calls the exact gradient once per iteration: counted as one oracle call
    calls_per_step = spec.calls_per_step

    def oracle(X, sample):
        return problem.grad(X) if deterministic else problem.stochastic_grad(X, sample)

    # A non-finite estimator M^k (an oracle that returned inf or NaN) corrupts X^{k+1} even where
    # the LMO hides it (sign-type LMOs map inf to a finite step): such a seed is marked diverged
    # from the next recorded iterate on (the NaNs are written after the loop).
    corrupted = xp.zeros(S, dtype=bool)

    def record(slot, X, radii, M):
        nonlocal corrupted
        rec_norms[slot] = layout.merge(measure.dual_norm(problem.grad(X), xp))
        rec_values[slot] = problem.value(X)
        rec_corrupted[slot] = corrupted
        corrupted = corrupted | ~xp.isfinite(sum(xp.sum(m, axis=(1, 2, 3)) for m in M))
        if rec_radius is not None:
            rec_radius[slot] = layout.merge([r.reshape(r.shape[:2]) for r in radii])
        if kept is not None:
            kept.append([to_numpy(x) for x in X])

    # where the problem's declared constants hold: track how far each seed goes (cheap: one
    # subtraction and reduction per iteration, only for problems declared on balls)
    region = problem.hypotheses_region(xp, dtype)
    usage = None
    if region is not None:
        centres, radii_R = region
        inv_R = [1.0 / xp.asarray(r, dtype=dtype)[None, :] for r in layout.split(list(radii_R))]
        usage = xp.zeros(S, dtype=dtype)

    def track(X):
        nonlocal usage
        for x, c, ir in zip(X, centres, inv_R):
            d = x - c
            usage = xp.maximum(usage, (xp.sqrt(xp.sum(d * d, axis=(2, 3))) * ir).max(axis=1))

    start = time.perf_counter()
    X = problem.initial_point(S, xp, dtype)
    if usage is not None:
        track(X)
    X_prev = None
    sample = None if deterministic else problem.sample(rngs, xp, dtype)
    g = oracle(X, sample)
    states, M = zip(*(estimator.init(gi) for gi in g))
    states, M = list(states), list(M)
    slot = 0
    with numpy.errstate(all="ignore"):
        for k in range(K):
            if k > 0:
                sample = None if deterministic else problem.sample(rngs, xp, dtype)
                g = oracle(X, sample)
                gp = oracle(X_prev, sample) if estimator.same_sample_previous else [None] * len(g)
                params = StepParams(k, beta_at(k), q_at(k))
                M = []
                for j in range(len(g)):
                    Mj, states[j] = estimator.step(states[j], g[j], gp[j], params)
                    M.append(Mj)
            if schedule.adaptive is not None:
                a = geometry.dual_norm(M, xp)
                radii = [(ai / (l0 + l1 * ai))[:, :, None, None] for ai, l0, l1 in zip(a, L0s, L1s)]
            else:
                f = float(factor[k])
                radii = [f * r for r in base_radius]
            if slot < R and rec_iters[slot] == k:
                record(slot, X, radii, M)
                slot += 1
                if progress is not None:
                    progress(k)
            D = geometry.lmo(M, xp)
            if observe is not None:
                observe(k, M, D)
            X_prev = X
            if shrink is None:
                X = [x + r * d for x, r, d in zip(X, radii, D)]
            else:
                X = [x + r * d - (r * c) * x for x, r, d, c in zip(X, radii, D, shrink)]
            if usage is not None:
                track(X)
        final_norms = to_numpy(layout.merge(measure.dual_norm(problem.grad(X), xp)))
        final_value = to_numpy(problem.value(X))
    wall = time.perf_counter() - start

    grad_norms = numpy.ascontiguousarray(to_numpy(rec_norms).transpose(1, 0, 2))
    values = numpy.ascontiguousarray(to_numpy(rec_values).T)
    masked_values = numpy.where(to_numpy(rec_corrupted).T, numpy.nan, values)
    masked_norms = grad_norms if nan_after_divergence else grad_norms.copy()
    diverged = _finalise_divergence(rec_iters, masked_norms, masked_values)
    masked_final = numpy.where(to_numpy(corrupted), numpy.nan, final_value)
    bad_final = ~numpy.isfinite(masked_final) | ~numpy.isfinite(final_norms).all(axis=-1)
    diverged = numpy.where((diverged < 0) & bad_final, K, diverged)
    if nan_after_divergence:
        values, final_value = masked_values, masked_final
    if rec_radius is not None:
        radius = numpy.ascontiguousarray(to_numpy(rec_radius).transpose(1, 0, 2))
    elif numpy.ndim(schedule.radius) == 1:
        radius = factor[rec_iters][:, None] * numpy.asarray(schedule.radius)[None, :]
    else:   # per-element radii: (S, R, p)
        radius = factor[rec_iters][None, :, None] * numpy.asarray(schedule.radius)[:, None, :]
    return Trajectory(method=spec.name, K=K, seeds=seeds, iterations=rec_iters, grad_norms=grad_norms,
                      values=values, oracle_calls=1 + calls_per_step * rec_iters,
                      final_value=final_value, final_grad_norms=final_norms, diverged_at=diverged,
                      radius=radius, schedule=schedule.describe(), wall_time=wall,
                      total_oracle_calls=1 + calls_per_step * (K - 1), params=kept,
                      region_usage=None if usage is None else to_numpy(usage))
