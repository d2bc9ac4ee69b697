r"""A replay of the run loop that shows the momenta it meets and takes any per-layer LMO.

:func:`methods.loop.run` does not expose :math:`M^k`, and it only knows the Newton–Schulz LMOs by
name.  The inexact-LMO experiments need both: :math:`\delta` is measured on the momenta a run
actually meets (THEORY.md §6), and the controlled-error oracle
:class:`methods.inexact.ControlledErrorLMO` is not one of ``run``'s ``lmo=`` names.  So this
module replays the same iteration (THEORY.md §3, the paper's update rules [C]):

.. math:: M^k = \mathrm{estimator}(M^{k-1}, \nabla f_{\xi^k}(X^k), \nabla f_{\xi^k}(X^{k-1})),
          \qquad X_i^{k+1} = X_i^k + t_i\,\widetilde{\mathrm{lmo}}_i(M_i^k),

with the estimators of :mod:`methods.estimators`, the seed generators of
:func:`methods.loop.seed_generators` and the same order of operations, so that for a constant
schedule and a Newton–Schulz LMO it reproduces ``run`` bit for bit (checked in the tests).
Two things are added: a callback ``observe(k, M, D)`` with the momentum and the step direction
:math:`D=\widetilde{\mathrm{lmo}}(M)` of every iteration, and per-element parameters: the batch
axis may carry different radii and momenta (a whole grid of :math:`(t, 1-\beta)` in one
vectorised run, common random numbers across the grid when the elements share seed ids).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy

from methods.loop import _Geometry, seed_generators
from methods.presets import build_norm, get_method


@dataclass
class ReplayResult:
    r"""Outcome of :func:`replay` (arrays have the batch axis first).

    Attributes
    ----------
    G : (S,)
        :math:`G_K=\frac1K\sum_{k<K}\sum_i\|\nabla_i f(X^k)\|_{(i)*}` per batch element (exact
        gradients, the problem's norms); NaN where the element diverged.
    grad_norms : (S, K, p)
        The exact dual gradient norms per iteration and layer.
    values : (S, K)
        :math:`f(X^k)`.
    final_value : (S,)
    diverged : (S,) bool
    wall_time : float
    """

    G: numpy.ndarray
    grad_norms: numpy.ndarray
    values: numpy.ndarray
    final_value: numpy.ndarray
    diverged: numpy.ndarray
    wall_time: float


def _per_element(name, value, S, shape_tail=()):
    arr = numpy.asarray(value, dtype=float)
    try:
        return numpy.broadcast_to(arr, (S,) + shape_tail) if arr.ndim else arr
    except ValueError:
        raise ValueError(f"{name}: shape {arr.shape} does not broadcast to {(S,) + shape_tail}") from None


def replay(problem, method: str, K: int, seeds, radius, one_minus_beta=1.0, q=1.0, *,
           lmo_build=None, root_seed: int = 0, dtype: str = "float64", observe=None) -> ReplayResult:
    r"""Run ``method`` for ``K`` iterations with constant, possibly per-element, parameters.

    Parameters
    ----------
    problem : problems.Problem
    method : str
        A stochastic preset of :mod:`methods.presets` (``gluon``, ``mvr1``, ...).
    K : int
        Horizon.
    seeds : sequence of int
        Seed id of every batch element (ids may repeat: elements with the same id see the same
        samples).
    radius : float, (p,) or (S, p)
        Radii :math:`t_i` per layer (and per element).
    one_minus_beta, q : float or (S,)
        :math:`1-\beta` and the MVR-2/3 mixing :math:`q` (constant in ``k``).
    lmo_build : callable, optional
        ``lmo_build(norm_name) -> Norm`` giving each layer's (possibly inexact) LMO; default the
        exact one of the method's geometry.
    observe : callable, optional
        ``observe(k, M, D)`` with the lists of per-group momenta and step directions.
    """
    spec = get_method(method)
    if spec.deterministic:
        raise ValueError(f"replay: method {method!r} is deterministic; use a stochastic method")
    K = int(K)
    if K < 1:
        raise ValueError(f"K must be an integer >= 1; got {K}")
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds: at least one seed is needed")
    S, layout, consts = len(seeds), problem.layout, problem.constants
    p = layout.n_layers
    xp = numpy
    build = lmo_build or build_norm
    geometry = _Geometry(layout, spec.layer_norm_names(consts.norms), build)
    measure = _Geometry(layout, consts.norms, build_norm)
    estimator = spec.make_estimator()
    rngs = seed_generators(seeds, root_seed)

    rad = numpy.asarray(radius, dtype=float)
    if rad.ndim <= 1:
        rad = numpy.broadcast_to(rad, (p,))
        radii = [xp.asarray(r, dtype=dtype)[None, :, None, None] for r in layout.split(rad)]
    else:
        rad = _per_element("radius", rad, S, (p,))
        radii = [xp.asarray(r, dtype=dtype)[:, :, None, None] for r in layout.split(rad)]

    def _mix(name, v):
        a = numpy.asarray(v, dtype=float)
        if a.ndim == 0:
            return 1.0 - min(1.0, float(a))          # as Schedule.tables: 1 - min(1, c)
        a = _per_element(name, a, S)
        return (1.0 - numpy.minimum(1.0, a)).astype(dtype)[:, None, None, None]

    beta = _mix("one_minus_beta", one_minus_beta)
    qq = (float(min(1.0, float(q))) if numpy.ndim(q) == 0
          else numpy.minimum(1.0, _per_element("q", q, S)).astype(dtype)[:, None, None, None])

    norms = xp.empty((K, S, p), dtype=dtype)
    values = xp.empty((K, S), dtype=dtype)
    start = time.perf_counter()
    X = problem.initial_point(S, xp, dtype)
    X_prev = None
    sample = problem.sample(rngs, xp, dtype)
    g = problem.stochastic_grad(X, sample)
    states, M = zip(*(estimator.init(gi) for gi in g))
    states, M = list(states), list(M)
    with numpy.errstate(all="ignore"):
        for k in range(K):
            if k > 0:
                sample = problem.sample(rngs, xp, dtype)
                g = problem.stochastic_grad(X, sample)
                gp = problem.stochastic_grad(X_prev, sample) if estimator.same_sample_previous else [None] * len(g)
                M = []
                for j in range(len(g)):
                    Mj, states[j] = estimator.step(states[j], g[j], gp[j], beta, qq)
                    M.append(Mj)
            norms[k] = layout.merge(measure.dual_norm(problem.grad(X), xp))
            values[k] = problem.value(X)
            D = geometry.lmo(M, xp)
            if observe is not None:
                observe(k, M, D)
            X_prev = X
            X = [x + r * d for x, r, d in zip(X, radii, D)]
        final_value = numpy.asarray(problem.value(X), dtype=float)
    wall = time.perf_counter() - start
    grad_norms = numpy.ascontiguousarray(norms.transpose(1, 0, 2))
    vals = numpy.ascontiguousarray(values.T)
    diverged = ~numpy.isfinite(vals).all(axis=1) | ~numpy.isfinite(grad_norms).all(axis=(1, 2)) \
        | ~numpy.isfinite(final_value)
    G = grad_norms.sum(axis=-1).mean(axis=-1)
    G = numpy.where(diverged, numpy.nan, G)
    return ReplayResult(G=G, grad_norms=grad_norms, values=vals, final_value=final_value,
                        diverged=diverged, wall_time=wall)
