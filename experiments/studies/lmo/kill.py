r"""An instance where :math:`\delta` matters, and a seeded search that kills wrong :math:`\delta`-dependences.

The instance (derived here [R], docs/theory.md §6).  Gluon without momentum
(:math:`1-\beta=1`) on the deterministic quadratic :math:`f(X)=\frac12\|X-A\|_F^2` (``sigma = 0``, one
square layer of even size, spectral norm, :math:`L_0=n`), with the stretched rotation oracle
:class:`methods.inexact.RotationErrorLMO` (``stretch=True``): gain exactly :math:`1-\delta` and
every singular value of the step exactly :math:`1+\delta`.  Then, since :math:`\|D\|_F^2=n\|D\|^2`
for a step with equal singular values,

.. math:: f(X^{k+1})=f(X^k)-(1-\delta)t\|\nabla f(X^k)\|_*+\tfrac{L_0}2(1+\delta)^2t^2

*with equality*, so :math:`G_K=\frac{\Delta_0-f(X^K)+KL_0(1+\delta)^2t^2/2}{K(1-\delta)t}`: the
inexact Gluon bound of :mod:`theory.bounds_nonconvex` (its noise and drift terms vanish at
:math:`\sigma=0`, :math:`h=1`) minus :math:`f(X^K)/(K(1-\delta)t)`.  At a fixed effective step
:math:`x=(1-\delta)t`, :math:`G_K=(\Delta_0-f_K)/(Kx)+L_0x(1+\delta)^2/(2(1-\delta)^2)` moves with
:math:`\delta` (the rescaling error :math:`(1-\delta)\mathrm{lmo}` does not: it *is* the exact run at
radius :math:`x`), and the bound is tight to :math:`O(f_K)`, so any bound with a weaker
:math:`\delta`-dependence is exceeded somewhere on it.

:func:`kill_search` is the reusable search: for a bound function and an instance builder it runs
every grid point (and optionally seeded random points inside the grid's ranges), measures
:math:`G_K` (seed mean) and the run's own :math:`\delta_{\rm eff}` (the bound's hypothesis: a point
whose measured :math:`\delta_{\rm eff}` exceeds the declared one is excluded, never a kill), and
returns the worst ratio measured/bound and where.  A ratio above ``1 + RTOL`` kills the bound.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math

import numpy

from gluon_mvr.methods.schedules import Schedule

from gluon_mvr.experiments.studies.lmo.bound import lmo_builder
from gluon_mvr.experiments.studies.lmo.momenta import DeltaTracker, build_family, layer_norm_names
from gluon_mvr.experiments.studies.lmo.replay import replay

#: relative tolerance of "measured > bound": float64 rounding of a sum of K terms, far below the
#: margins the kills have (tests/test_lmo_kill.py)
RTOL = 1e-9
#: the default search grid over the instance: delta, radius scale, horizon
DEFAULT_GRID = {"delta": [0.1, 0.3, 0.5, 0.7, 0.9], "t_scale": [0.25, 1.0, 4.0, 16.0], "K": [20, 100]}


@dataclasses.dataclass
class Instance:
    """One run to hold a bound against: problem, horizon, constant parameters, LMO, declared delta."""

    problem: object
    K: int
    radius: float
    one_minus_beta: float
    lmo: tuple
    delta: float
    method: str = "gluon"
    point: dict = dataclasses.field(default_factory=dict)

    def schedule(self) -> Schedule:
        p = self.problem.layout.n_layers
        return Schedule(radius=(float(self.radius),) * p, one_minus_beta=float(self.one_minus_beta), label="kill")


def delta_instance(point: dict) -> Instance:
    r"""The instance of the module docstring at ``point``.

    Keys (defaults): ``delta`` (0.5), ``t_scale`` (1: radius :math:`t=t_{\rm scale}\,r/(\sqrt nK)`,
    :math:`r` = ``distance``, so that :math:`t_{\rm scale}=1` travels the initial distance in about
    :math:`K` steps), ``K`` (100), ``dim`` (8), ``distance`` (1), ``sigma`` (0), ``h`` (1 - beta, 1),
    ``oracle`` (``rotation-stretch``; also ``rotation``, ``controlled-adversarial``,
    ``controlled-overshoot``, ``exact``).
    """
    pt = {"delta": 0.5, "t_scale": 1.0, "K": 100, "dim": 8, "distance": 1.0, "sigma": 0.0, "h": 1.0,
          "oracle": "rotation-stretch", **point}
    problem = build_family("quadratic", {"layers": 1, "dim": int(pt["dim"]), "sigma": float(pt["sigma"]),
                                         "distance": float(pt["distance"])})
    K = int(pt["K"])
    radius = float(pt["t_scale"]) * float(pt["distance"]) / (math.sqrt(int(pt["dim"])) * K)
    oracle = pt["oracle"]
    kind = {"exact": "exact", "rotation": "rotation", "rotation-stretch": "rotation"}.get(oracle, "controlled")
    delta = 0.0 if kind == "exact" else float(pt["delta"])
    return Instance(problem=problem, K=K, radius=radius, one_minus_beta=float(pt["h"]),
                    lmo=(oracle, kind, delta), delta=delta, point=pt)


def measure(inst: Instance, seeds) -> dict:
    r"""Seed-mean :math:`G_K` of ``inst`` and the run's measured :math:`\delta_{\rm eff}` (max over
    iterations, seeds, layers)."""
    tracker = DeltaTracker(inst.problem.layout, layer_norm_names(inst.problem, inst.method))
    res = replay(inst.problem, inst.method, inst.K, seeds, inst.radius, inst.one_minus_beta,
                 lmo_build=lmo_builder(*inst.lmo), observe=tracker)
    G = float(numpy.mean(res.G)) if not res.diverged.any() else float("nan")
    return {"G": G, "delta_eff": max(tracker.deltas()["effective"]), "diverged": int(res.diverged.sum())}


def inexact_bound(inst: Instance, delta=None):
    r"""The inexact bound of :mod:`theory` for ``inst`` at its declared :math:`\delta` (or ``delta``)."""
    from gluon_mvr.theory import evaluate_bound
    d = inst.delta if delta is None else delta
    p = inst.problem.layout.n_layers
    return evaluate_bound(inst.method, inst.K, inst.schedule(), inst.problem.constants, inst.problem.delta0(),
                          delta=[float(d)] * p, shapes=inst.problem.layout.shapes)


def _map_bound(bound, fn):
    """A copy of a :class:`theory.bounds_nonconvex.NonconvexBound` with ``fn`` applied to every
    expression (numerator, tau, aggregates, conditions)."""
    agg = lambda a: dataclasses.replace(a, layer_expr=fn(a.layer_expr))   # noqa: E731
    return dataclasses.replace(
        bound, numerator=tuple((n, fn(e)) for n, e in bound.numerator), tau=agg(bound.tau),
        aggregates=tuple(agg(a) for a in bound.aggregates),
        conditions=tuple(dataclasses.replace(c, expr=fn(c.expr)) for c in bound.conditions))


@contextlib.contextmanager
def _bound_replaced(method, mutated):
    """Evaluate ``mutated`` in place of ``method``'s bound through :func:`theory.numeric.bound_details`
    (the same conditions and aggregation code path as the real one)."""
    from gluon_mvr.theory import numeric
    original = numeric.get_bound

    def patched(m):
        return mutated if m == method else original(m)
    numeric.get_bound = patched
    try:
        yield
    finally:
        numeric.get_bound = original


def symbolic_mutant(transform):
    r"""``bound_fn(inst)`` evaluating the inexact bound with ``transform`` (a function of sympy
    expressions) applied to every expression of the bound."""
    def bound_fn(inst: Instance):
        from gluon_mvr.theory.bounds_nonconvex import get_bound
        mutated = _map_bound(get_bound(inst.method), transform)
        with _bound_replaced(inst.method, mutated):
            return inexact_bound(inst)
    return bound_fn


def _split_delta(e):
    r"""``(expr, dp)``: ``e`` with every :math:`(1+\delta)` subtree written :math:`(1+\delta_+)`, so the
    two roles of :math:`\delta` (step length :math:`1+\delta`, alignment :math:`1-\delta`) can be mutated
    apart.  (:meth:`sympy.Expr.subs` would not do: substituting :math:`1+\delta\to1` is algebraic in
    sympy and sets :math:`\delta=0` everywhere.)"""
    import sympy as sp

    from gluon_mvr.theory import symbols as S
    dp = sp.Symbol("delta_plus", nonnegative=True)
    return e.xreplace({1 + S.delta: 1 + dp}), dp


def _drop_step_length(e):
    expr, dp = _split_delta(e)
    return expr.subs(dp, 0)


def _drop_alignment(e):
    from gluon_mvr.theory import symbols as S
    expr, dp = _split_delta(e)
    return expr.subs(S.delta, 0).subs(dp, S.delta)


def mutants() -> dict:
    r"""The wrong :math:`\delta`-dependences the search must kill (name -> ``bound_fn``):
    :math:`\delta\to\delta/10`; :math:`(1+\delta)\to1` (the step-length factor dropped, every
    other :math:`\delta` kept); :math:`(1-\delta)\to1` (the alignment factor dropped)."""
    return {"delta -> delta/10": lambda inst: inexact_bound(inst, inst.delta / 10.0),
            "(1+delta) -> 1": symbolic_mutant(_drop_step_length),
            "(1-delta) -> 1": symbolic_mutant(_drop_alignment)}


def grid_points(grid, n_random: int = 0, search_seed: int = 0) -> list:
    """Points of ``grid`` (dict of lists: the Cartesian product; or a list of dicts), then
    ``n_random`` seeded points drawn log-uniformly (uniformly for a range containing 0) within each
    numeric key's range (integers rounded; non-numeric keys drawn from their values)."""
    if isinstance(grid, dict):
        keys = list(grid)
        pts = [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]
        values = grid
    else:
        pts = [dict(p) for p in grid]
        keys = list(dict.fromkeys(k for p in pts for k in p))
        values = {k: [p[k] for p in pts if k in p] for k in keys}
    rng = numpy.random.default_rng(search_seed)
    for _ in range(int(n_random)):
        p = {}
        for k in keys:
            vs = values[k]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vs):
                lo, hi = float(min(vs)), float(max(vs))
                if lo > 0:
                    v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
                else:
                    v = rng.uniform(lo, hi)
                p[k] = int(round(v)) if all(isinstance(x, int) for x in vs) else float(v)
            else:
                p[k] = vs[int(rng.integers(0, len(vs)))]
        pts.append(p)
    return pts


def kill_search(bound_fn, instance_builder, grid, seeds=(0,), *, n_random: int = 0, search_seed: int = 0,
                measure_fn=measure, cache=None) -> dict:
    r"""Hold ``bound_fn`` against measured runs over ``grid``: the worst ratio measured/bound and where.

    Parameters
    ----------
    bound_fn : callable
        ``bound_fn(instance) -> float or None`` (``None``: the bound does not apply there).
    instance_builder : callable
        ``instance_builder(point) -> Instance`` (e.g. :func:`delta_instance`).
    grid : dict of lists or list of dicts
        The points (see :func:`grid_points`).
    seeds : sequence of int
        Seeds of every run (:math:`G_K` is their mean).
    n_random, search_seed : int
        Seeded random points added inside the grid's ranges.
    measure_fn : callable
        ``measure_fn(instance, seeds) -> {"G", "delta_eff", ...}``.
    cache : dict, optional
        Measurements by point, shared between calls (one run per point for several bounds).

    Returns
    -------
    dict
        ``worst_ratio`` (``-inf`` if nothing applied), ``where`` (the point), ``killed``
        (``worst_ratio > 1 + RTOL``), ``n_points``, ``n_applicable``, ``n_outside`` (points whose
        measured :math:`\delta_{\rm eff}` exceeds the declared one: excluded) and ``rows``.
    """
    cache = {} if cache is None else cache
    rows, worst, where = [], -math.inf, None
    for pt in grid_points(grid, n_random, search_seed):
        inst = instance_builder(pt)
        key = repr(sorted(pt.items())) + repr(tuple(seeds))
        if key not in cache:
            cache[key] = measure_fn(inst, tuple(seeds))
        m = cache[key]
        outside = m["delta_eff"] > inst.delta + 1e-9
        b = None if outside else bound_fn(inst)
        ratio = (m["G"] / b) if (b is not None and b > 0 and math.isfinite(m["G"])) else None
        rows.append({"point": pt, "G": m["G"], "delta_eff": m["delta_eff"], "delta": inst.delta, "bound": b,
                     "ratio": ratio, "outside_hypotheses": bool(outside)})
        if ratio is not None and ratio > worst:
            worst, where = ratio, pt
    return {"worst_ratio": worst, "where": where, "killed": bool(worst > 1.0 + RTOL), "n_points": len(rows),
            "n_applicable": sum(r["ratio"] is not None for r in rows),
            "n_outside": sum(r["outside_hypotheses"] for r in rows), "rows": rows}


def kill_table(grid=None, seeds=(0,), n_random: int = 0, search_seed: int = 0, instance_builder=delta_instance,
               progress=None) -> list:
    """:func:`kill_search` for the true inexact bound and every mutant of :func:`mutants` (one run per
    point, shared): ``[{bound, worst_ratio, where, killed, ...}]``; the true bound must survive."""
    grid = DEFAULT_GRID if grid is None else grid
    cache, out = {}, []
    for name, fn in {"inexact bound [R]": inexact_bound, **mutants()}.items():
        r = kill_search(fn, instance_builder, grid, seeds, n_random=n_random, search_seed=search_seed, cache=cache)
        out.append({"bound": name, "mutant": name != "inexact bound [R]",
                    **{k: v for k, v in r.items() if k != "rows"}})
        if progress:
            progress(1)
    return out


def fixed_effective_step(deltas=(0.0, 0.2, 0.4, 0.6, 0.8), x_scale: float = 1.0, K: int = 100, dim: int = 8,
                         oracles=("rotation-stretch", "rotation", "controlled-adversarial"), seeds=(0,)) -> list:
    r""":math:`G_K` at a fixed effective step :math:`x=(1-\delta)t` (radius :math:`t=x/(1-\delta)`) per
    oracle and :math:`\delta`, relative to the exact LMO at radius :math:`x`: the instance's
    :math:`\delta`-dependence (the rescaling error must give ratio 1)."""
    base = measure(delta_instance({"oracle": "exact", "t_scale": x_scale, "K": K, "dim": dim}), seeds)["G"]
    rows = []
    for oracle in oracles:
        for d in deltas:
            inst = delta_instance({"oracle": oracle, "delta": d, "t_scale": x_scale / (1.0 - d), "K": K, "dim": dim})
            G = measure(inst, seeds)["G"]
            rows.append({"oracle": oracle, "delta": float(d), "G": G, "G_ratio": G / base,
                         "bound": inexact_bound(inst)})
    return rows
