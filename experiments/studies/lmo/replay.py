r"""A replay of the run loop that shows the momenta it meets and takes any per-layer LMO.

The inexact-LMO experiments need :math:`\delta` measured on the momenta a run actually meets
(docs/theory.md §6) and LMOs that are not among :func:`methods.loop.run`'s ``lmo=`` names (the
controlled-error oracle :class:`methods.inexact.ControlledErrorLMO`).  :func:`replay` is
:func:`methods.loop.run` with constant parameters (docs/theory.md §3, the paper's update rules [C]):

.. math:: M^k = \mathrm{estimator}(M^{k-1}, \nabla f_{\xi^k}(X^k), \nabla f_{\xi^k}(X^{k-1})),
          \qquad X_i^{k+1} = X_i^k + t_i\,\widetilde{\mathrm{lmo}}_i(M_i^k),

with an ``observe(k, M, D)`` callback seeing the momentum and the step direction
:math:`D=\widetilde{\mathrm{lmo}}(M)` of every iteration, and per-element parameters: the batch
axis may carry different radii and momenta (a whole grid of :math:`(t, 1-\beta)` in one
vectorised run, common random numbers across the grid when the elements share seed ids).  It
records every iteration and flags divergence its own way (any non-finite record), returning the
records as computed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy

from gluon_mvr.methods.loop import run
from gluon_mvr.methods.presets import get_method
from gluon_mvr.methods.schedules import Schedule


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
        Radii :math:`t_i > 0` per layer (and per element).
    one_minus_beta, q : float or (S,)
        :math:`1-\beta` and the MVR-2/3 mixing :math:`q` (constant in ``k``), :math:`\ge 0`;
        values above 1 act as 1.
    lmo_build : callable, optional
        ``lmo_build(norm_name) -> Norm`` giving each layer's (possibly inexact) LMO; default the
        exact one of the method's geometry.
    observe : callable, optional
        ``observe(k, M, D)`` with the lists of per-group momenta and step directions.
    """
    if get_method(method).deterministic:
        raise ValueError(f"replay: method {method!r} is deterministic; use a stochastic method")
    K = int(K)
    if K < 1:
        raise ValueError(f"K must be an integer >= 1; got {K}")
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds: at least one seed is needed")
    S, p = len(seeds), problem.layout.n_layers

    rad = numpy.asarray(radius, dtype=float)
    rad = numpy.broadcast_to(rad, (p,)) if rad.ndim <= 1 else _per_element("radius", rad, S, (p,))

    def clipped(name, v):      # as Schedule.tables: min(1, c) (values above 1 allowed here)
        a = numpy.asarray(v, dtype=float)
        return min(1.0, float(a)) if a.ndim == 0 else numpy.minimum(1.0, _per_element(name, a, S))

    schedule = Schedule(radius=rad, one_minus_beta=clipped("one_minus_beta", one_minus_beta),
                        q=clipped("q", q), label="replay")
    tr = run(problem, method, K, seeds, schedule, record_every=1, root_seed=root_seed, dtype=dtype,
             observe=observe, norm_builder=lmo_build, nan_after_divergence=False)
    grad_norms, vals = tr.grad_norms, tr.values
    final_value = numpy.asarray(tr.final_value, dtype=float)
    diverged = ~numpy.isfinite(vals).all(axis=1) | ~numpy.isfinite(grad_norms).all(axis=(1, 2)) \
        | ~numpy.isfinite(final_value)
    G = grad_norms.sum(axis=-1).mean(axis=-1)
    G = numpy.where(diverged, numpy.nan, G)
    return ReplayResult(G=G, grad_norms=grad_norms, values=vals, final_value=final_value,
                        diverged=diverged, wall_time=tr.wall_time)
