r"""Measure a problem's constants: (L0, L1) points and frontier fits, empirical sigma and ell.

**(L0, L1) points.**  For a pair :math:`(X, Y)` and layer :math:`i` the measured point is

.. math::  \hat L_i = \frac{\|\nabla_i f(X)-\nabla_i f(Y)\|_{(i)*}}{\|X_i - Y_i\|_{(i)}},\qquad
           g_i = \|\nabla_i f(X)\|_{(i)*},

and A1 with constants :math:`(L_0, L_1)` says every point lies on or under the line
:math:`L_0 + L_1 g`.  Each pair gives two points (A1 is stated at :math:`X`; swapping the
roles of :math:`X` and :math:`Y` is free).  Pairs come from sampling (the family's stated
region) or from consecutive iterates of a real optimizer run (:func:`trajectory_pairs`).

**Frontier fits** (per layer, both by cvxpy):

- ``envelope``: the certified frontier; the LP :math:`\min L_0 + \bar g L_1` s.t.
  :math:`L_0 + L_1 g_k \ge \hat L_k`, :math:`L_0, L_1\ge0`, with :math:`\bar g` the mean measured
  gradient norm, i.e. the feasible line of least mean height over the data.  Every feasible
  (L0, L1) lies on or above the frontier; the LP picks its point of tangency with slope
  :math:`-\bar g`.  After solving, :math:`L_0` is raised by any solver slack so that no point
  is above the line (exactly zero points above).
- ``penalized`` (the Gluon paper's experiments): :math:`\min\sum_k r_k^2 + W\sum_k
  \max(0, -r_k)^2`, :math:`r_k = L_0 + L_1 g_k - \hat L_k`, :math:`L_0, L_1\ge10^{-6}`; points may
  lie above the line (under-estimates are penalised, not forbidden).

**Noise.**  :func:`noise_variance` is a Monte Carlo estimate of
:math:`E\|\nabla_i f_\xi(X)-\nabla_i f(X)\|_F^2` at given points, :func:`mean_square_smoothness`
of :math:`E\|D_i(X, Y)\|_{(i)*}^2` on pairs (docs/theory.md A3), each with its standard error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy

from gluon_mvr.methods.backend import array_namespace, to_numpy
from gluon_mvr.methods.norms import get_norm

FITS = ("envelope", "penalized")
# relative round-off allowance when a measured ratio is compared with a line: the ratio is a
# difference of gradients divided by a (possibly small) distance
ROUNDOFF = 1e-11


# --------------------------------------------------------------------------------------------
# per-layer norms of stacked parameters
# --------------------------------------------------------------------------------------------
def layer_norms(layout, norm_names, params, dual: bool) -> numpy.ndarray:
    """``(S, p)`` host array of the (dual) layer norms of stacked ``params``."""
    cols = []
    for i in range(layout.n_layers):
        norm = get_norm(norm_names[i])
        A = layout.layer(params, i)
        cols.append(to_numpy(norm.dual_norm(A) if dual else norm.norm(A)))
    return numpy.stack(cols, axis=-1)


def frobenius_sq(layout, params) -> numpy.ndarray:
    """``(S, p)`` host array of :math:`\\|A_i\\|_F^2`."""
    cols = []
    for i in range(layout.n_layers):
        A = layout.layer(params, i)
        xp = array_namespace(A)
        cols.append(to_numpy(xp.sum(A * A, axis=(-2, -1))))
    return numpy.stack(cols, axis=-1)


def _sub(a, b):
    return [x - y for x, y in zip(a, b)]


# --------------------------------------------------------------------------------------------
# (L0, L1) measurements
# --------------------------------------------------------------------------------------------
@dataclass
class SmoothnessPoints:
    """Measured A1 points per layer: ``ratio``, ``grad_norm``, ``slack`` (round-off allowance),
    each a list of ``p`` 1-D host arrays; ``source`` says where the pairs came from."""

    ratio: list
    grad_norm: list
    slack: list
    source: str

    @property
    def n_layers(self):
        return len(self.ratio)

    def extend(self, other: "SmoothnessPoints") -> "SmoothnessPoints":
        cat = lambda a, b: [numpy.concatenate([x, y]) for x, y in zip(a, b)]   # noqa: E731
        return SmoothnessPoints(cat(self.ratio, other.ratio), cat(self.grad_norm, other.grad_norm),
                                cat(self.slack, other.slack), f"{self.source} + {other.source}")


def smoothness_points(problem, X, Y, source: str = "sampled pairs", both_orders: bool = True,
                      norms=None) -> SmoothnessPoints:
    """A1 points of ``problem`` on the pairs ``(X[s], Y[s])`` (stacked params, ``S`` pairs)."""
    layout = problem.layout
    norms = norms or problem.constants.norms
    gX, gY = problem.grad(X), problem.grad(Y)
    dist = layer_norms(layout, norms, _sub(X, Y), dual=False)
    diff = layer_norms(layout, norms, _sub(gX, gY), dual=True)
    nX = layer_norms(layout, norms, gX, dual=True)
    nY = layer_norms(layout, norms, gY, dual=True)
    ratio, gnorm, slack = [], [], []
    with numpy.errstate(divide="ignore", invalid="ignore"):
        for i in range(layout.n_layers):
            ok = (dist[:, i] > 0) & numpy.isfinite(diff[:, i]) & numpy.isfinite(nX[:, i]) & numpy.isfinite(nY[:, i])
            r = diff[ok, i] / dist[ok, i]
            sl = ROUNDOFF * (nX[ok, i] + nY[ok, i]) / dist[ok, i]
            if both_orders:
                ratio.append(numpy.concatenate([r, r]))
                gnorm.append(numpy.concatenate([nX[ok, i], nY[ok, i]]))
                slack.append(numpy.concatenate([sl, sl]))
            else:
                ratio.append(r)
                gnorm.append(nX[ok, i])
                slack.append(sl)
    return SmoothnessPoints(ratio, gnorm, slack, source)


def trajectory_pairs(snapshots):
    """Consecutive iterates of recorded runs -> ``(X, Y)`` stacked params.

    ``snapshots`` is a list of params (each a list of group arrays ``(S, G, m, n)``), in
    iteration order, e.g. ``methods.run(..., record_params=True).params``; pair ``k`` of seed
    ``s`` is :math:`(X_s^{k}, X_s^{k+1})`, all seeds and steps concatenated on the pair axis.
    """
    if len(snapshots) < 2:
        raise ValueError("trajectory: at least two recorded iterates are needed")
    n_groups = len(snapshots[0])
    X = [numpy.concatenate([numpy.asarray(to_numpy(s[g])) for s in snapshots[:-1]], axis=0) for g in range(n_groups)]
    Y = [numpy.concatenate([numpy.asarray(to_numpy(s[g])) for s in snapshots[1:]], axis=0) for g in range(n_groups)]
    return X, Y


def run_trajectory(problem, method: str = "gluon", K: int = 200, seeds: int = 4, record_every: int = 1):
    """Iterates of a real optimizer run (``methods.run`` with ``record_params=True``).

    Returns the recorded snapshots (host params), finite ones only.
    """
    from dataclasses import replace

    from gluon_mvr.methods import run
    from gluon_mvr.methods.presets import get_method

    spec = get_method(method)
    schedule = None
    pair_radius = getattr(problem, "pair_radius", None)
    if pair_radius is not None and not spec.deterministic:
        # the family states A1 only for pairs closer than pair_radius: keep every step inside it
        schedule = spec.build_schedule(K, problem)
        caps = numpy.broadcast_to(numpy.asarray(pair_radius, dtype=float), (problem.layout.n_layers,))
        schedule = replace(schedule, radius=tuple(min(r, float(c)) for r, c in zip(schedule.radius, caps)))
    traj = run(problem, method, K, seeds, schedule=schedule, record_every=record_every, record_params=True)
    snaps = [s for s in traj.params if all(numpy.isfinite(g).all() for g in s)]
    return snaps


# --------------------------------------------------------------------------------------------
# frontier fits
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineFit:
    """A fitted line :math:`L_0 + L_1 g` for one layer."""

    L0: float
    L1: float
    fit: str
    n_points: int
    n_above: int

    @property
    def radius(self):
        """Theory radius :math:`1/L_1` when :math:`L_0 = 0` (at its floor), else ``None``."""
        if self.L1 > 0 and self.L0 <= 1e-6 * (1 + 1e-9):
            return 1.0 / self.L1
        return None


def count_above(L0, L1, ratio, grad_norm, slack=None) -> int:
    """Points strictly above the line :math:`L_0 + L_1 g` (beyond round-off)."""
    ratio, grad_norm = numpy.asarray(ratio, float), numpy.asarray(grad_norm, float)
    line = L0 + L1 * grad_norm
    allowance = 1e-9 * numpy.abs(line) + (0.0 if slack is None else numpy.asarray(slack, float))
    return int(numpy.sum(ratio > line + allowance))


def _scales(ratio, grad_norm):
    rs = float(numpy.max(ratio)) if ratio.size and numpy.max(ratio) > 0 else 1.0
    gs = float(numpy.max(grad_norm)) if grad_norm.size and numpy.max(grad_norm) > 0 else 1.0
    return rs, gs


def fit_envelope(ratio, grad_norm, weight=None) -> LineFit:
    """Certified frontier point (see module docstring); ``weight`` overrides :math:`\\bar g`."""
    import cvxpy as cp
    ratio, grad_norm = numpy.asarray(ratio, float), numpy.asarray(grad_norm, float)
    if ratio.size == 0:
        return LineFit(float("nan"), float("nan"), "envelope", 0, 0)
    rs, gs = _scales(ratio, grad_norm)
    r, g = ratio / rs, grad_norm / gs     # scaled so the LP is well conditioned
    c = float(numpy.mean(g)) if weight is None else float(weight) / gs
    l0, l1 = cp.Variable(nonneg=True), cp.Variable(nonneg=True)
    prob = cp.Problem(cp.Minimize(l0 + c * l1), [l0 + l1 * g >= r])
    _solve(prob)
    L1 = max(float(l1.value), 0.0) * rs / gs
    # lift L0 by the solver's slack: the envelope must be certified, not nearly so
    L0 = max(float(l0.value) * rs, float(numpy.max(ratio - L1 * grad_norm)), 0.0)
    return LineFit(L0, L1, "envelope", int(ratio.size), count_above(L0, L1, ratio, grad_norm))


def fit_penalized(ratio, grad_norm, penalty: float = 5.0, floor: float = 1e-6) -> LineFit:
    """Least squares with a ``penalty``-weighted square on under-estimates, ``L0, L1 >= floor``."""
    import cvxpy as cp
    ratio, grad_norm = numpy.asarray(ratio, float), numpy.asarray(grad_norm, float)
    if ratio.size == 0:
        return LineFit(float("nan"), float("nan"), "penalized", 0, 0)
    rs, gs = _scales(ratio, grad_norm)
    r, g = ratio / rs, grad_norm / gs
    l0, l1 = cp.Variable(), cp.Variable()
    res = l0 + l1 * g - r
    prob = cp.Problem(cp.Minimize(cp.sum_squares(res) + penalty * cp.sum_squares(cp.pos(-res))),
                      [l0 >= floor / rs, l1 >= floor * gs / rs])
    _solve(prob)
    L0 = max(float(l0.value) * rs, floor)
    L1 = max(float(l1.value) * rs / gs, floor)
    return LineFit(L0, L1, "penalized", int(ratio.size), count_above(L0, L1, ratio, grad_norm))


def fit_line(ratio, grad_norm, fit: str = "envelope", penalty: float = 5.0) -> LineFit:
    if fit == "envelope":
        return fit_envelope(ratio, grad_norm)
    if fit == "penalized":
        return fit_penalized(ratio, grad_norm, penalty)
    raise ValueError(f"--fit: allowed values {', '.join(FITS)}; got {fit!r}")


def _solve(prob):
    import cvxpy as cp
    for solver in ("CLARABEL", "HIGHS", "SCS", None):
        if solver is not None and solver not in cp.installed_solvers():
            continue
        try:
            prob.solve(solver=solver) if solver else prob.solve()
        except cp.error.SolverError:
            continue
        if prob.status in ("optimal", "optimal_inaccurate"):
            return
    raise RuntimeError(f"constants fit: the solver failed (status {prob.status})")


# --------------------------------------------------------------------------------------------
# noise: Monte Carlo of A2 and A3
# --------------------------------------------------------------------------------------------
def _generators(S, seed):
    return [numpy.random.default_rng(numpy.random.SeedSequence(seed, spawn_key=(s,))) for s in range(S)]


@dataclass
class MonteCarlo:
    """Per point and layer: ``mean`` and standard error ``se`` of a squared norm, ``(S, p)``."""

    mean: numpy.ndarray
    se: numpy.ndarray
    draws: int


def _accumulate(fn, S, draws, seed):
    rngs = _generators(S, seed)
    total = total_sq = None
    for _ in range(draws):
        v = fn(rngs)
        total = v if total is None else total + v
        total_sq = v * v if total_sq is None else total_sq + v * v
    mean = total / draws
    var = numpy.maximum(total_sq / draws - mean * mean, 0.0)
    return MonteCarlo(mean, numpy.sqrt(var / max(draws - 1, 1)), draws)


def noise_variance(problem, X, draws: int = 200, seed: int = 0) -> MonteCarlo:
    r"""Monte Carlo of :math:`E\|\nabla_i f_\xi(X_s) - \nabla_i f(X_s)\|_F^2` at the ``S``
    points of ``X`` (one generator per point)."""
    layout = problem.layout
    xp = array_namespace(X[0])
    g = problem.grad(X)

    def one(rngs):
        gs = problem.stochastic_grad(X, problem.sample(rngs, xp, X[0].dtype))
        return frobenius_sq(layout, _sub(gs, g))
    return _accumulate(one, X[0].shape[0], draws, seed)


def mean_square_smoothness(problem, X, Y, draws: int = 200, seed: int = 0):
    r"""Monte Carlo of :math:`E\|D_i(X_s, Y_s)\|_{(i)*}^2`, the same sample at both points.

    Returns ``(MonteCarlo, dist, slack)``: ``dist`` ``(S, p)`` the primal distances
    :math:`\|X_i - Y_i\|_{(i)}`, ``slack`` ``(S, p)`` the round-off allowance on
    :math:`E\|D_i\|_*^2` (the difference of four nearly equal gradients).
    """
    layout = problem.layout
    norms = problem.constants.norms
    xp = array_namespace(X[0])
    exact = _sub(problem.grad(X), problem.grad(Y))
    dist = layer_norms(layout, norms, _sub(X, Y), dual=False)
    scale = numpy.zeros_like(dist)

    def one(rngs):
        s = problem.sample(rngs, xp, X[0].dtype)
        gX, gY = problem.stochastic_grad(X, s), problem.stochastic_grad(Y, s)
        scale[...] = numpy.maximum(scale, layer_norms(layout, norms, gX, True) + layer_norms(layout, norms, gY, True))
        return layer_norms(layout, norms, _sub(_sub(gX, gY), exact), dual=True) ** 2
    mc = _accumulate(one, X[0].shape[0], draws, seed)
    return mc, dist, (ROUNDOFF * scale) ** 2
