r"""Inexact LMO (docs/theory.md §6, [INEXACT]): consequences of the error model, step choices.

Error model [R, form fairly confident]: :math:`\|\widetilde{\mathrm{lmo}}(M)-\mathrm{lmo}(M)\|\le\delta<1`
in the primal norm.  Consequences (derived here [R], one line each, checked in
:mod:`theory.verify`):

.. math:: \langle M,\widetilde{\mathrm{lmo}}(M)\rangle=\langle M,\mathrm{lmo}(M)\rangle
          +\langle M,\widetilde{\mathrm{lmo}}-\mathrm{lmo}\rangle\le-\|M\|_*+\delta\|M\|_*
          =-(1-\delta)\|M\|_*,\qquad \|\widetilde{\mathrm{lmo}}(M)\|\le1+\delta.

The non-convex bounds of :mod:`theory.bounds_nonconvex` carry per-layer :math:`\delta_i`
throughout (``delta=`` in :func:`theory.evaluate_bound`); this module holds the closed forms.

Deterministic, one layer, :math:`L`-smooth [R]: the descent step (L1) with :math:`E=0` gives
:math:`(1-\delta)t\sum_k\|\nabla f(X^k)\|_*\le\Delta_0+KL(1+\delta)^2t^2/2`, so

.. math:: \min_k\|\nabla f(X^k)\|_*\le\frac1K\sum_k\|\nabla f(X^k)\|_*\le
          \frac{\Delta_0}{(1-\delta)tK}+\frac{L(1+\delta)^2t}{2(1-\delta)},\qquad
          t^*=\frac{1}{1+\delta}\sqrt{\frac{2\Delta_0}{LK}},\qquad
          B(t^*)=\frac{1+\delta}{1-\delta}\sqrt{\frac{2L\Delta_0}{K}}.

Layer-wise adaptive radius [R]: maximising the one-layer decrease
:math:`(1-\delta_i)t a_i-(L_{0,i}+L_{1,i}a_i)(1+\delta_i)^2t^2/2` gives
:math:`t_i=\frac{1-\delta_i}{(1+\delta_i)^2}\frac{a_i}{L_{0,i}+L_{1,i}a_i}` and decrease
:math:`\frac{(1-\delta_i)^2}{2(1+\delta_i)^2}\frac{a_i^2}{L_{0,i}+L_{1,i}a_i}`.

Stochastic (Gluon momentum, one layer, :math:`L_1=0`, leading order as :math:`h=1-\beta\to0`)
[R]: the Gluon bound with :math:`\delta` is, to leading order,
:math:`B=\frac{\Delta_0}{(1-\delta)tK}+\frac{\sqrt2\rho\sigma\sqrt h}{1-\delta}
+\frac{2L_0(1+\delta)t}{(1-\delta)h}`.  Its stationary point is

.. math:: h^*=\frac{2}{\rho\sigma}\sqrt{\frac{\Delta_0L_0(1+\delta)}{K}}\propto(1+\delta)^{1/2}K^{-1/2},
          \qquad t^*=\sqrt{\frac{\Delta_0h^*}{2L_0(1+\delta)K}}\propto(1+\delta)^{-1/4}K^{-3/4}:

lower precision (larger :math:`\delta`) needs a smaller radius and a larger :math:`1-\beta`
(docs/theory.md §6 [C, abstract], with the constants derived here).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from gluon_mvr.theory import symbols as S

L = sp.Symbol("L", positive=True)
A_GRAD = sp.Symbol("a_grad", positive=True)   # ||grad_i f||_* (or ||M_i||_*)


def alignment_consequence():
    """``(lhs, rhs)``: the previous line and the claimed one for ``<M, lmo~(M)>`` (equal)."""
    g = sp.Symbol("dual_norm_M", positive=True)
    return -g + S.delta * g, -(1 - S.delta) * g


def descent_consequence():
    r"""``(lhs, rhs)`` for :math:`\langle\nabla f,\widetilde{\mathrm{lmo}}(M)\rangle` (L1): the line
    :math:`-(1-\delta)\|M\|_*+(1+\delta)\|E\|_*` with :math:`\|M\|_*\ge\|\nabla f\|_*-\|E\|_*`
    substituted, versus the claim :math:`-(1-\delta)\|\nabla f\|_*+2\|E\|_*`."""
    gnorm, enorm = sp.symbols("grad_norm err_norm", positive=True)
    return -(1 - S.delta) * (gnorm - enorm) + (1 + S.delta) * enorm, -(1 - S.delta) * gnorm + 2 * enorm


def deterministic_bound():
    """:math:`B(t)` of the module docstring (one layer, :math:`L`-smooth, exact gradients) [R]."""
    return S.Delta0 / ((1 - S.delta) * S.t * S.K) + L * (1 + S.delta) ** 2 * S.t / (2 * (1 - S.delta))


def deterministic_optimal_radius():
    """:math:`t^*(\\delta)=\\sqrt{2\\Delta_0/(LK)}/(1+\\delta)` [R, docs/theory.md §6]."""
    return sp.sqrt(2 * S.Delta0 / (L * S.K)) / (1 + S.delta)


def deterministic_optimal_rate():
    """:math:`(1+\\delta)/(1-\\delta)\\sqrt{2L\\Delta_0/K}` [R, docs/theory.md §6]."""
    return (1 + S.delta) / (1 - S.delta) * sp.sqrt(2 * L * S.Delta0 / S.K)


def layer_decrease(radius):
    """One-layer guaranteed decrease at ``radius`` under the inexact model (L1 with E = 0)."""
    return (1 - S.delta) * radius * A_GRAD - (S.L0 + S.L1 * A_GRAD) * (1 + S.delta) ** 2 * radius ** 2 / 2


def adaptive_radius():
    """Layer-wise adaptive radius :math:`(1-\\delta)/(1+\\delta)^2\\,a/(L_0+L_1a)` [R, docs/theory.md §6]."""
    return (1 - S.delta) / (1 + S.delta) ** 2 * A_GRAD / (S.L0 + S.L1 * A_GRAD)


def stochastic_leading_bound():
    """Leading-order Gluon bound with an inexact LMO (module docstring) [R]."""
    h = S.one_minus_beta
    return (S.Delta0 / ((1 - S.delta) * S.t * S.K) + sp.sqrt(2) * S.rho * S.sigma * sp.sqrt(h) / (1 - S.delta)
            + 2 * S.L0 * (1 + S.delta) * S.t / ((1 - S.delta) * h))


def stochastic_optimal_parameters():
    """``(t*, (1-beta)*)`` of the module docstring, closed forms [R]."""
    h_star = 2 / (S.rho * S.sigma) * sp.sqrt(S.Delta0 * S.L0 * (1 + S.delta) / S.K)
    t_star = sp.sqrt(S.Delta0 * h_star / (2 * S.L0 * (1 + S.delta) * S.K))
    return t_star, h_star


def stochastic_leading_bound_full():
    """The same leading-order bound read off :func:`theory.bounds_nonconvex.gluon_bound`.

    One layer, :math:`L_1=0`, :math:`w=1`: the Gluon bound's terms whose order is not
    higher than :math:`K^{-1/4}` under the horizon scaling, with :math:`2-h\\to2`, :math:`1-h\\to1`;
    :mod:`theory.verify` checks that this reproduces :func:`stochastic_leading_bound`.
    """
    from gluon_mvr.theory.bounds_nonconvex import get_bound
    b = get_bound("gluon")
    h = S.one_minus_beta
    terms = dict(b.homogeneous_terms(p=1, w=1))
    lead = terms["transient"] + terms["noise"] + terms["momentum drift"]
    lead = lead.subs(S.L1, 0) if lead.has(S.L1) else lead
    # leading order in h: (2 - h) -> 2, (1 - h) -> 1
    hh = sp.Symbol("hh", positive=True)
    lead = lead.subs(h, hh)
    lead = lead.subs({2 - hh: 2, 1 - hh: 1}).subs(hh, h)
    return sp.simplify(lead.subs(S.L1, 0))


@lru_cache(maxsize=None)
def _numeric():
    args = (S.K, S.delta, S.Delta0, S.L0, S.rho, S.sigma)
    t_star, h_star = stochastic_optimal_parameters()
    return sp.lambdify(args, t_star, "math"), sp.lambdify(args, h_star, "math")


def stochastic_parameters(K, delta, Delta0, L0, rho, sigma):
    """Numeric ``(t*, 1-beta*)`` of the leading-order inexact Gluon bound (capped at 1 for 1-beta)."""
    ft, fh = _numeric()
    return ft(K, delta, Delta0, L0, rho, sigma), min(1.0, fh(K, delta, Delta0, L0, rho, sigma))
