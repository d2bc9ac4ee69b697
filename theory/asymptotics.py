r"""Asymptotics in the horizon ``K``: exponents of terms, of bounds, and minimax schedules.

Every bound of :mod:`theory` is a sum of positive terms, so its rate is governed by its
slowest term: if :math:`B(K)=\sum_j b_j(K)` with :math:`b_j>0`, then

.. math::  \lim_{K\to\infty}\frac{\log B(K)}{\log K} = \max_j \lim_{K\to\infty}\frac{\log b_j(K)}{\log K}.

The *exponent* of a term is this limit (``-1/4`` for :math:`K^{-1/4}`, and also for
:math:`K^{-1/4}\log K`: logarithmic factors do not change it, which is how the star-convex
"up to log factors" rates are compared).  It is computed exactly by :func:`sympy.limit`.

For a schedule :math:`t = t_0K^{-x}`, :math:`1-\beta = c_\beta K^{-y}` each term's exponent is
affine in :math:`(x, y)` (terms are monomials up to factors tending to positive constants); the
best rate a bound allows is the linear programme

.. math::  \min_{x, y}\ \max_j\ e_j(x, y),

solved exactly here by enumerating the vertices of :math:`\{z \ge e_j(x,y)\}` in rationals.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import sympy as sp

_x = sp.Symbol("_x", positive=True)


def additive_terms(expr) -> list:
    """The summands of ``expr`` after distributing top-level products over sums.

    ``(a + b)/c`` gives ``[a/c, b/c]``; powers and functions are left alone, so a square root
    of a sum stays one factor.
    """
    expr = sp.expand(expr, deep=False, mul=True, power_base=False, power_exp=False,
                     log=False, multinomial=False)
    return list(sp.Add.make_args(expr))


def _fast_exponent(expr, K):
    """Exponent by structural recursion, or ``None`` when it cannot be decided this way.

    Products add exponents, constant powers scale them, ``log`` counts 0, and a sum takes the
    exponent of its summand of largest exponent *when that summand is unique* (then no
    cancellation can occur); ties and other functions return ``None`` (the caller takes the limit).
    """
    if not expr.has(K):
        return sp.Integer(0) if expr != 0 else None
    if expr == K:
        return sp.Integer(1)
    if expr.is_Mul:
        parts = [_fast_exponent(f, K) for f in expr.args]
        return None if any(v is None for v in parts) else sp.Add(*parts)
    if expr.is_Pow:
        base, ex = expr.args
        if ex.has(K):
            return None
        v = _fast_exponent(base, K)
        return None if v is None else v * ex
    if isinstance(expr, sp.log) and expr.args[0] == K:
        return sp.Integer(0)
    if expr.is_Add:
        parts = [_fast_exponent(f, K) for f in expr.args]
        if any(v is None or not v.is_number for v in parts):
            return None
        top = max(parts)
        return top if sum(1 for v in parts if v == top) == 1 else None
    return None


@lru_cache(maxsize=4096)
def term_exponent(term, K) -> sp.Rational:
    r""":math:`\lim_{K\to\infty} \log|b(K)|/\log K` for one term ``b``.

    Decided structurally when possible (:func:`_fast_exponent`: monomials, products and powers
    of sums with a unique dominant summand, :math:`\log K`); anything else goes through
    :func:`sympy.limit` after :math:`K = e^x`.
    """
    term = sp.sympify(term)
    if not term.has(K):
        return sp.Integer(0)
    fast = _fast_exponent(term, K)
    if fast is not None and fast.is_number:
        return sp.nsimplify(fast)
    value = sp.limit(sp.log(sp.Abs(term.subs(K, sp.exp(_x)))) / _x, _x, sp.oo)
    if value in (sp.oo, -sp.oo) or value.has(sp.nan, sp.zoo) or not value.is_real:
        raise ValueError(f"term {term} has no power-law exponent in {K} (limit {value})")
    return sp.nsimplify(value)


def leading_exponent(expr, K, terms=None) -> sp.Rational:
    """Exponent of a sum of positive terms: the largest exponent among its summands."""
    terms = additive_terms(expr) if terms is None else terms
    return max(term_exponent(sp.sympify(tm), K) for tm in terms)


def term_exponents(expr, K) -> list:
    """``[(term, exponent), ...]`` for the summands of ``expr`` (for reports)."""
    return [(tm, term_exponent(tm, K)) for tm in additive_terms(expr)]


def affine_exponent(term_of, variables, probe_points) -> tuple:
    r"""Fit the affine exponent :math:`e(v) = e_0 + \sum_k g_k v_k` of a term family.

    ``term_of(point)`` returns the term (an expression in ``K``) for exponents ``point``;
    ``probe_points`` are ``len(variables) + 2`` points in the region where the term behaves as
    a monomial: the first ``len(variables) + 1`` determine the affine map, the last one checks
    it (a ``ValueError`` if the exponent is not affine there, so a non-monomial term cannot
    pass silently).
    """
    from gluon_mvr.theory.symbols import K
    n = len(variables)
    pts = [tuple(sp.Rational(v) for v in pt) for pt in probe_points]
    vals = [term_exponent(term_of(pt), K) for pt in pts]
    A = sp.Matrix([[1, *pt] for pt in pts[: n + 1]])
    coef = A.solve(sp.Matrix(vals[: n + 1]))
    e0, grads = coef[0], tuple(coef[1:])
    for pt, v in zip(pts[n + 1:], vals[n + 1:]):
        pred = e0 + sum(g * x for g, x in zip(grads, pt))
        if sp.simplify(pred - v) != 0:
            raise ValueError(f"exponent not affine: predicted {pred}, got {v} at {pt}")
    return e0, grads


def minimax_exponent(forms, box) -> tuple:
    r"""Solve :math:`\min_{v\in\text{box}}\max_j (e_{0j} + g_j\cdot v)` exactly.

    ``forms`` are ``(e0, grads)`` pairs; ``box`` is a list of ``(low, high)`` per variable plus
    optional extra half-planes given as ``("ge", coeffs, rhs)`` meaning ``coeffs . v >= rhs``.
    Returns ``(value, [optimal vertices])``.  Vertex enumeration: an LP optimum is attained
    at a vertex of the epigraph, i.e. where ``n + 1`` of the constraints are active.
    """
    n = len(forms[0][1])
    # constraints written as  a . (v, z) >= b
    cons = []
    for e0, g in forms:  # z - g.v >= e0
        cons.append(([-gi for gi in g] + [1], e0))
    bounds, extra = box[:n], box[n:]
    for k, (lo, hi) in enumerate(bounds):
        row = [0] * (n + 1)
        row[k] = 1
        cons.append((list(row), sp.Rational(lo)))
        row[k] = -1
        cons.append((list(row), -sp.Rational(hi)))
    for kind, coeffs, rhs in extra:
        assert kind == "ge"
        cons.append(([sp.Rational(c) for c in coeffs] + [0], sp.Rational(rhs)))
    best, argbest = None, []
    for idx in itertools.combinations(range(len(cons)), n + 1):
        M = sp.Matrix([cons[i][0] for i in idx])
        if M.det() == 0:
            continue
        sol = M.solve(sp.Matrix([cons[i][1] for i in idx]))
        if all(sum(c * s for c, s in zip(row, sol)) - rhs >= 0 for row, rhs in cons):
            z = sol[n]
            v = tuple(sol[:n])
            if best is None or z < best:
                best, argbest = z, [v]
            elif z == best and v not in argbest:
                argbest.append(v)
    if best is None:
        raise ValueError("minimax exponent: empty feasible region")
    return best, argbest


def max_affine(forms, point):
    """``max_j e_j(point)`` for affine ``forms`` (the exponent a schedule attains)."""
    return max(e0 + sum(g * sp.Rational(v) for g, v in zip(grads, point)) for e0, grads in forms)
