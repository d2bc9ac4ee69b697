r"""Numbers from the symbolic bounds: evaluate them at a problem's certified constants.

The bounds of :mod:`theory.bounds_nonconvex` and :mod:`theory.bounds_star` are lambdified once
(cached) and evaluated on per-layer arrays built from a :class:`problems.base.Constants` and a
:class:`methods.schedules.Schedule`.  Every evaluation also checks the bound's conditions; when
one fails, or a needed constant is unknown, the value is ``None`` and the reason is reported
(:func:`bound_details`) — a bound is never returned outside its hypotheses.

Norm equivalence :math:`\|Z\|_F\le\kappa_i\|Z\|_{(i)*}` (needed for A3 and for a dual-norm
:math:`\sigma`) is not part of ``Constants``; it is taken from ``kappa=`` or computed from the
norm name (and ``shapes=`` for the shape-dependent norms), see :func:`frobenius_ratio`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy
import sympy as sp

from gluon_mvr.theory import symbols as S
from gluon_mvr.theory.bounds_nonconvex import DETERMINISTIC, HORIZON_BOUND_METHODS, get_bound
from gluon_mvr.theory.bounds_star import STAR_METHODS, get_star_bound

_LAYER_ARGS = (S.t, S.delta, S.L0, S.L1, S.ell, S.sigma, S.rho, S.kappa, S.w, S.D,
               S.one_minus_beta, S.q)

#: norms whose ratio ||Z||_F / ||Z||_* is 1 whatever the shape (see frobenius_ratio)
_UNIT_RATIO = ("frobenius", "spectral", "sign", "colnorm", "rownorm")


def frobenius_ratio(norm: str, shape=None):
    r""":math:`\kappa=\sup_Z\|Z\|_F/\|Z\|_*=\sup_X\|X\|/\|X\|_F` for a catalogue norm [standard].

    frobenius, spectral, sign, colnorm, rownorm: 1; scaled-spectral :math:`\sqrt{n/m}`;
    scaled-sign :math:`n`; l1 :math:`\sqrt{mn}`.  Newton-Schulz variants (``*-ns``) share their
    base norm.  ``None`` when unknown (or when a shape is needed and not given).
    """
    base = norm[:-3] if norm.endswith("-ns") else norm
    if base in _UNIT_RATIO:
        return 1.0
    if shape is None:
        return None
    m, n = (int(v) for v in shape)
    return {"scaled-spectral": math.sqrt(n / m), "scaled-sign": float(n),
            "l1": math.sqrt(m * n)}.get(base)


@dataclass
class BoundDetails:
    """Value of a bound with its terms and the conditions checked.

    ``value`` is ``None`` when a condition fails or a constant is missing (``reason`` says why).
    """

    method: str
    value: float | None
    terms: dict = field(default_factory=dict)
    conditions: list = field(default_factory=list)   # (name, passed, detail)
    reason: str | None = None
    provenance: str = ""
    assumptions: tuple = ()

    def as_dict(self) -> dict:
        return {"method": self.method, "value": self.value, "terms": dict(self.terms),
                "conditions": [{"name": n, "passed": bool(p), "detail": d} for n, p, d in self.conditions],
                "reason": self.reason, "provenance": self.provenance, "assumptions": list(self.assumptions)}


@lru_cache(maxsize=None)
def _layer_fn(expr):
    return sp.lambdify(_LAYER_ARGS, expr, "numpy")


@lru_cache(maxsize=None)
def _global_fn(expr, symbols):
    return sp.lambdify(symbols, expr, "numpy")


def _reduce(kind, values):
    values = numpy.asarray(values, dtype=float)
    if kind == "sum":
        return float(numpy.sum(values))
    if kind == "sqrt_sum":
        return float(math.sqrt(max(numpy.sum(values), 0.0)))
    if kind == "min":
        return float(numpy.min(values))
    if kind == "max":
        return float(numpy.max(values))
    raise ValueError(kind)


def _per_layer(name, values, p):
    arr = numpy.broadcast_to(numpy.asarray(values, dtype=float), (p,)).astype(float)
    if numpy.any(~numpy.isfinite(arr)) or numpy.any(arr < 0):
        raise ValueError(f"{name}: per-layer values must be finite and >= 0; got {arr.tolist()}")
    return arr


def _layer_values(constants, radius, delta, weights, shapes, kappa, D=None):
    """Per-layer arrays for the lambdified layer expressions, or ``(None, reason)``."""
    p = constants.n_layers
    t = _per_layer("radius", radius, p)
    if len(t) != p:
        return None, f"schedule has {len(t)} radii, constants have {p} layers"
    dl = _per_layer("delta", 0.0 if delta is None else delta, p)
    w = _per_layer("weights", 1.0 if weights is None else weights, p)
    L0, L1, ell = (numpy.asarray(getattr(constants, n), dtype=float) for n in ("L0", "L1", "ell"))
    sig, rho = numpy.asarray(constants.sigma, dtype=float), numpy.asarray(constants.rho, dtype=float)
    if kappa is not None:
        kap = _per_layer("kappa", kappa, p)
    else:
        shp = [None] * p if shapes is None else list(shapes)
        kap = numpy.array([numpy.nan if (r := frobenius_ratio(nm, s)) is None else r
                           for nm, s in zip(constants.norms, shp)], dtype=float)
    dual = constants.sigma_norm == "dual"
    needs = (ell > 0) | ((sig > 0) & dual)
    missing = numpy.isnan(kap) & needs
    if numpy.any(missing):
        idx = [int(i) for i in numpy.nonzero(missing)[0]]
        return None, (f"layers {idx}: the Frobenius/dual ratio kappa of norm "
                      f"{[constants.norms[i] for i in idx]} is unknown; pass kappa= or shapes=")
    kap = numpy.where(numpy.isnan(kap), 1.0, kap)   # unused where not needed (ell = 0, sigma Frobenius)
    sigF = kap * sig if dual else sig
    Dv = numpy.zeros(p) if D is None else _per_layer("D", D, p)
    return dict(t=t, delta=dl, L0=L0, L1=L1, ell=ell, sigma=sigF, rho=rho, kappa=kap, w=w, D=Dv), None


def _call_layer(expr, lv, h, q):
    fn = _layer_fn(expr)
    out = fn(lv["t"], lv["delta"], lv["L0"], lv["L1"], lv["ell"], lv["sigma"], lv["rho"], lv["kappa"],
             lv["w"], lv["D"], h, q)
    return numpy.broadcast_to(numpy.asarray(out, dtype=float), lv["t"].shape)


def _fail(method, reason, conditions=(), provenance="", assumptions=()):
    return BoundDetails(method=method, value=None, conditions=list(conditions), reason=reason,
                        provenance=provenance, assumptions=tuple(assumptions))


def bound_details(method: str, K: int, schedule, constants, delta0: float, weights=None, *,
                  delta=None, shapes=None, kappa=None) -> BoundDetails:
    r"""The bound on :math:`G_K` of ``method`` for a run of ``K`` iterations, with its parts.

    Parameters
    ----------
    method : {"gluon", "mvr1", "mvr2", "mvr3", "gluon-deterministic"}
    K : int
    schedule : methods.schedules.Schedule
        Constant for the four stochastic methods (``radius`` per layer, ``one_minus_beta``,
        ``q``); adaptive (``schedule.adaptive`` = per-layer ``(L0', L1')``) for
        ``gluon-deterministic``.
    constants : problems.base.Constants
    delta0 : float
        :math:`f(X^0)-\inf f` (an upper bound is fine).
    weights : sequence of float, optional
        :math:`w_i` of :math:`G_K` (default 1).
    delta : float or sequence, optional
        Inexact-LMO errors :math:`\delta_i` (default 0, exact LMO).
    shapes, kappa : optional
        Layer shapes or the ratios :math:`\kappa_i` directly (see the module docstring).
    """
    K = int(K)
    if K < 1:
        return _fail(method, f"K must be >= 1; got {K}")
    if delta0 is None or not math.isfinite(float(delta0)) or float(delta0) < 0:
        return _fail(method, f"delta0 must be a finite number >= 0; got {delta0!r}")
    if method == "gluon-deterministic":
        return _deterministic_details(K, schedule, constants, float(delta0), weights, delta)
    if method not in HORIZON_BOUND_METHODS:
        return _fail(method, f"no bound for method {method!r}; allowed: "
                             f"{', '.join((*HORIZON_BOUND_METHODS, 'gluon-deterministic'))}")
    bound = get_bound(method)
    if not schedule.is_constant():
        return _fail(method, "the bound needs constant parameters (schedule is decreasing or adaptive)",
                     provenance=bound.provenance, assumptions=bound.assumptions)
    h, q = float(schedule.one_minus_beta), float(schedule.q)
    lv, reason = _layer_values(constants, schedule.radius, delta, weights, shapes, kappa)
    if lv is None:
        return _fail(method, reason, provenance=bound.provenance, assumptions=bound.assumptions)
    conditions, ok = [], True
    for cond in bound.conditions:
        vals = _call_layer(cond.expr, lv, h, q)
        passed = bool(numpy.all(vals > 0) if cond.strict else numpy.all(vals >= 0))
        if cond.name.startswith("0 < 1-beta"):
            passed = passed and h > 0
        if cond.name.startswith("0 < q"):
            passed = passed and q > 0
        shown = (f"1-beta = {h}" if "1-beta" in cond.name else f"q = {q}" if cond.name.startswith("0 < q")
                 else f"values {numpy.round(vals, 6).tolist()}")
        conditions.append((cond.name, passed, f"{cond.description}; {shown}"))
        ok = ok and passed
    if not ok:
        failed = [n for n, p_, _ in conditions if not p_]
        return _fail(method, f"condition(s) {failed} fail for this schedule", conditions,
                     bound.provenance, bound.assumptions)
    agg = {ag.symbol: _reduce(ag.kind, _call_layer(ag.layer_expr, lv, h, q))
           for ag in (*bound.aggregates, bound.tau)}
    syms = (S.K, S.Delta0, S.one_minus_beta, S.q, *agg)
    args = (float(K), float(delta0), h, q, *agg.values())
    den = K * agg[bound.tau.symbol]
    terms = {name: float(_global_fn(e, syms)(*args)) / den for name, e in bound.numerator}
    value = float(sum(terms.values()))
    return BoundDetails(method=method, value=value, terms=terms, conditions=conditions,
                        provenance=bound.provenance, assumptions=bound.assumptions)


def _deterministic_details(K, schedule, constants, delta0, weights, delta):
    b = DETERMINISTIC
    if schedule.adaptive is None:
        return _fail(b.method, "gluon-deterministic needs the adaptive schedule", provenance=b.provenance)
    p = constants.n_layers
    L0s = numpy.array([float(v[0]) for v in schedule.adaptive])
    L1s = numpy.array([float(v[1]) for v in schedule.adaptive])
    if len(L0s) != p:
        return _fail(b.method, f"schedule has {len(L0s)} layers, constants have {p}", provenance=b.provenance)
    dom = bool(numpy.all(L0s >= numpy.asarray(constants.L0)) and numpy.all(L1s >= numpy.asarray(constants.L1)))
    dl = _per_layer("delta", 0.0 if delta is None else delta, p)
    w = _per_layer("weights", 1.0 if weights is None else weights, p)
    gamma = _call_layer(b.gamma, dict(t=numpy.ones(p), delta=dl, L0=L0s, L1=L1s, ell=numpy.zeros(p),
                                      sigma=numpy.zeros(p), rho=numpy.ones(p), kappa=numpy.ones(p), w=w,
                                      D=numpy.zeros(p)), 1.0, 1.0)
    conditions = [("schedule constants dominate (L0', L1') >= (L0, L1)", dom,
                   f"schedule {list(zip(L0s.tolist(), L1s.tolist()))}"),
                  ("gamma_i = (1-delta) - (1+delta)^2/2 > 0", bool(numpy.all(gamma > 0)),
                   f"gamma {numpy.round(gamma, 6).tolist()}"),
                  ("exact gradients", True, "the bound is for full gradients (no noise enters)")]
    if not all(c[1] for c in conditions):
        return _fail(b.method, "a condition of the deterministic bound fails", conditions, b.provenance)
    lv = dict(t=numpy.ones(p), delta=dl, L0=L0s, L1=L1s, ell=numpy.zeros(p), sigma=numpy.zeros(p),
              rho=numpy.ones(p), kappa=numpy.ones(p), w=w, D=numpy.zeros(p))
    agg = {ag.symbol: _reduce(ag.kind, _call_layer(ag.layer_expr, lv, 1.0, 1.0)) for ag in b.aggregates}
    syms = (S.K, S.Delta0, *agg)
    value = float(_global_fn(b.expr, syms)(float(K), delta0, *agg.values()))
    return BoundDetails(method=b.method, value=value, terms={"bound": value}, conditions=conditions,
                        provenance=b.provenance, assumptions=("A1 (exact gradients)",))


def evaluate_bound(method: str, K: int, schedule, constants, delta0: float, weights=None, **options):
    """The bound's value (``float``) or ``None`` when it does not apply; see :func:`bound_details`."""
    return bound_details(method, K, schedule, constants, delta0, weights, **options).value


def star_bound_details(method: str, K: int, constants, r0: float, radii, *, a=None,
                       one_minus_beta=None, q=None, shapes=None, kappa=None) -> BoundDetails:
    r"""Star-convex bound on :math:`Ef(X^K)-f^*` (:mod:`theory.bounds_star`).

    ``radii`` are the ball radii :math:`D_i` (with :math:`\|X^*_i\|,\|X^0_i\|\le D_i`); ``a`` and
    ``one_minus_beta`` default to the chosen schedule for horizon ``K``.  ``q`` (``star-mvr2``,
    ``star-mvr3`` only) defaults to ``a`` (the chosen schedule :math:`q=a`; pass it for a
    schedule :math:`q=c\,a` with ``c != 1``), and their ``one_minus_beta`` to
    :math:`1-\beta=1/2` (``methods.schedules.DEFAULT_BETA``).
    """
    from gluon_mvr.theory.bounds_star import star_schedule
    if method not in STAR_METHODS:
        return _fail(method, f"no star-convex bound for {method!r}; allowed: {', '.join(STAR_METHODS)}")
    b = get_star_bound(method)
    if int(K) < 2:
        return _fail(method, f"K must be >= 2; got {K}", provenance=b.provenance)
    sched = star_schedule(method, K)
    a = float(sched["a"] if a is None else a)
    h = float(sched["one_minus_beta"] if one_minus_beta is None else one_minus_beta)
    conds = [("0 < a <= 1", 0 < a <= 1, f"a = {a}"), ("0 < 1-beta <= 1", 0 < h <= 1, f"1-beta = {h}")]
    if b.uses_q:
        q = a if q is None else float(q)
        conds.append(("0 < q <= 1", 0 < q <= 1, f"q = {q}"))
    else:
        q = 1.0
    if not all(c[1] for c in conds):
        return _fail(method, "schedule out of range", conds, b.provenance)
    lv, reason = _layer_values(constants, numpy.ones(constants.n_layers), None, None, shapes, kappa, D=radii)
    if lv is None:
        return _fail(method, reason, conds, b.provenance)
    agg = {ag.symbol: _reduce(ag.kind, _call_layer(ag.layer_expr, lv, h, q)) for ag in b.aggregates}
    syms = (S.K, S.r0, S.a, S.one_minus_beta, S.q, *agg)
    args = (float(K), float(r0), a, h, q, *agg.values())
    terms = {n: float(_global_fn(e, syms)(*args)) for n, e in b.numerator}
    return BoundDetails(method=method, value=float(sum(terms.values())), terms=terms, conditions=conds,
                        provenance=b.provenance, assumptions=("A1", "A2", "A3", "A4"))
