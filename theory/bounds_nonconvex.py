r"""Non-convex bounds on :math:`G_K` for Gluon and Gluon-MVR-1/2/3 with constant parameters.

Measured quantity (docs/theory.md §4): :math:`G_K = \frac1K\sum_{k<K}\sum_i w_i
E\|\nabla_i f(X^k)\|_{(i)*}`.  Every bound below holds for **any** constant radii
:math:`t_i>0`, momentum :math:`1-\beta = h\in(0,1]`, mixing :math:`q\in(0,1]` and LMO errors
:math:`\delta_i\in[0,1)` satisfying the stated conditions, under

- A1 layer-wise :math:`(L_0,L_1)` smoothness (used between consecutive iterates only),
- A2 :math:`E\|N_i\|_F^2\le\sigma_i^2` for the noise :math:`N=\nabla f_\xi(X)-\nabla f(X)`
  (a dual-norm :math:`\sigma_i` enters as :math:`\kappa_i\sigma_i`),
- A3 :math:`E\sum_i\|D_i\|_{(i)*}^2\le\sum_i\ell_i^2\|X_i-Y_i\|_{(i)}^2` (MVR only),
- norm equivalences :math:`\|Z\|_{(i)*}\le\rho_i\|Z\|_F` and :math:`\|Z\|_F\le\kappa_i\|Z\|_{(i)*}`,
- an inexact LMO with :math:`\langle M,\widetilde{\mathrm{lmo}}(M)\rangle\le-(1-\delta_i)\|M\|_*`,
  :math:`\|\widetilde{\mathrm{lmo}}(M)\|\le 1+\delta_i` (docs/theory.md §6; :math:`\delta=0` is exact).

All results here are **derived here [R]**; only the update rules (docs/theory.md §3) and the
headline rates :math:`K^{-1/4}` (Gluon) and :math:`K^{-1/3}` (MVR) are the paper's [C].

Shared derivation
-----------------
Write :math:`E^k = M^k-\nabla f(X^k)`, :math:`N_k` the noise of sample :math:`\xi_k` at
:math:`X^k`, :math:`D_k = D(X^k,X^{k-1})` (same sample), :math:`S_k=\nabla f(X^{k-1})-\nabla f(X^k)`,
:math:`\mathcal F_{k-1}` the history before :math:`\xi_k`.

(L1) Descent step [R].  A1 along the segment gives the standard consequence
:math:`f(Y)\le f(X)+\langle\nabla f(X),Y-X\rangle+\sum_i\frac{L_{0,i}+L_{1,i}\|\nabla_i f(X)\|_*}{2}\|Y_i-X_i\|^2`.
With :math:`Y_i-X_i = t_i\widetilde{\mathrm{lmo}}(M_i)`:
:math:`\langle\nabla_i f,\widetilde{\mathrm{lmo}}(M_i)\rangle\le-(1-\delta_i)\|M_i\|_*+(1+\delta_i)\|E_i\|_*
\le-(1-\delta_i)\|\nabla_i f\|_*+2\|E_i\|_*` (triangle inequality
:math:`\|M_i\|_*\ge\|\nabla_i f\|_*-\|E_i\|_*`), hence

.. math:: f(X^{k+1})\le f(X^k)-\sum_i\Big[(1-\delta_i)-\tfrac{L_{1,i}(1+\delta_i)^2t_i}{2}\Big]t_i\|\nabla_if(X^k)\|_*
          +2\sum_it_i\|E_i^k\|_*+\sum_i\tfrac{L_{0,i}(1+\delta_i)^2t_i^2}{2}.

(L2) Martingale sums [R].  :math:`N_k` and :math:`D_k` are martingale differences (mean zero
given :math:`\mathcal F_{k-1}`), so for deterministic :math:`c_j`,
:math:`E\|\sum_jc_jN_{j,i}\|_F^2=\sum_jc_j^2E\|N_{j,i}\|_F^2`; then Jensen and
:math:`\|\cdot\|_*\le\rho_i\|\cdot\|_F`.  With geometric weights :math:`c_j=h\beta^{k-j}`:
:math:`E\|h\sum_{j=1}^k\beta^{k-j}N_{j,i}\|_*\le\rho_i\sigma_i\,h/\sqrt{1-\beta^2}
=\rho_i\sigma_i\sqrt{h/(2-h)}`.  For the A3 part, :math:`\|D_{j,i}\|_F\le\kappa_i\|D_{j,i}\|_*`,
Cauchy-Schwarz over layers and A3 with step :math:`\|X^j_i-X^{j-1}_i\|\le(1+\delta_i)t_i`:

.. math:: \sum_it_iE\Big\|\beta\sum_{j\le k}\beta^{k-j}D_{j,i}\Big\|_*\le
          \underbrace{\sqrt{\textstyle\sum_it_i^2\rho_i^2\kappa_i^2}}_{A_{\rho\kappa}}\,
          \underbrace{\sqrt{\textstyle\sum_i\ell_i^2(1+\delta_i)^2t_i^2}}_{A_\ell}\,
          \frac{\beta}{\sqrt{1-\beta^2}},\qquad \frac{\beta}{\sqrt{1-\beta^2}}=\frac{1-h}{\sqrt{h(2-h)}}.

(L3) Initial error [R].  :math:`M^0=g^0=\nabla f_{\xi_0}(X^0)` gives :math:`E^0=N_0`, and its
trace :math:`\beta^kN_0` sums to :math:`\sum_{k<K}\beta^k\rho_i\sigma_i\le\rho_i\sigma_i/h`.

(L4) Summation [R].  Summing (L1) over :math:`k<K`, moving every term proportional to
:math:`E\|\nabla_if\|_*` to the left (coefficient :math:`c_i t_i`, see each method), and using
:math:`\sum_ic_it_iu_i\ge\tau\sum_iw_iu_i` with :math:`\tau=\min_ic_it_i/w_i`:

.. math:: G_K\le\frac{\Delta_0+2\sum_{k<K}\sum_it_iE\|E_i^k\|_*+K\sum_iL_{0,i}(1+\delta_i)^2t_i^2/2}{K\tau},
          \qquad\text{valid when } c_i>0\ \forall i.

The per-method error sums are in each constructor's docstring.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

from gluon_mvr.theory import symbols as S
from gluon_mvr.theory.claims import get_claim


def _claimed(claim: str, criterion: str = "stationarity") -> sp.Rational:
    """The claimed exponent of :mod:`gluon_mvr.theory.claims` (the one source) as a sympy Rational."""
    f = get_claim(claim).stationarity if criterion == "stationarity" else get_claim(claim).gap
    return sp.Rational(f.numerator, f.denominator)

h = S.one_minus_beta


@dataclass(frozen=True)
class Aggregate:
    """A symbol standing for a reduction over layers of a layer expression.

    ``kind`` is ``"sum"`` (:math:`\\sum_i e_i`), ``"sqrt_sum"`` (:math:`\\sqrt{\\sum_i e_i}`) or
    ``"min"`` (:math:`\\min_i e_i`) or ``"max"``.
    """

    symbol: sp.Symbol
    kind: str
    layer_expr: sp.Expr
    description: str

    def homogeneous(self, p=1):
        """Value for ``p`` identical layers (layer symbols shared)."""
        e = self.layer_expr
        return {"sum": p * e, "sqrt_sum": sp.sqrt(p * e), "min": e, "max": e}[self.kind]


@dataclass(frozen=True)
class Condition:
    """``expr > 0`` (``strict``) or ``expr >= 0`` is required; ``per_layer`` if it has layer symbols."""

    name: str
    expr: sp.Expr
    per_layer: bool
    description: str
    strict: bool = True


@dataclass(frozen=True)
class NonconvexBound:
    r"""A bound :math:`G_K\le(\sum_j n_j)/(K\tau)` written once in aggregate symbols.

    Attributes
    ----------
    method, title, provenance : str
    numerator : tuple of (name, sympy expr)
        The summands :math:`n_j` of the numerator (global and aggregate symbols).
    tau : Aggregate
        :math:`\tau=\min_i c_it_i/w_i`.
    aggregates : tuple of Aggregate
    conditions : tuple of Condition
    claimed_exponent : sympy.Rational
        The rate's exponent in ``K`` claimed for the horizon schedule.
    horizon : dict
        Symbolic horizon choices ``{"t": ..., "one_minus_beta": ..., "q": ...}`` in ``K``.
    exponent_params : tuple
        Which two parameters the horizon exponents refer to (``("t", "one_minus_beta")`` or
        ``("t", "q")``), in the order of :func:`methods.schedules.horizon_exponents`.
    """

    method: str
    title: str
    provenance: str
    numerator: tuple
    tau: Aggregate
    aggregates: tuple
    conditions: tuple
    claimed_exponent: sp.Rational
    horizon: dict
    exponent_params: tuple
    assumptions: tuple = field(default=("A1", "A2"))

    @property
    def coefficient(self):
        """:math:`c_i` (layer expression), recovered from ``tau = min c_i t_i / w_i``."""
        return sp.simplify(self.tau.layer_expr * S.w / S.t)

    @property
    def expr(self):
        """The bound in aggregate symbols."""
        return sp.Add(*[e for _, e in self.numerator]) / (S.K * self.tau.symbol)

    def substitutions(self, p=1):
        """Aggregate symbol -> value for ``p`` identical layers."""
        return {ag.symbol: ag.homogeneous(p) for ag in (*self.aggregates, self.tau)}

    def homogeneous(self, p=1, **values):
        """The bound for ``p`` identical layers, then ``values`` substituted (by symbol name)."""
        e = self.expr.subs(self.substitutions(p))
        return e.subs(_by_name(values)) if values else e

    def homogeneous_terms(self, p=1, **values):
        """``[(name, term / (K tau))]`` for identical layers (the bound's summands)."""
        sub = self.substitutions(p)
        den = S.K * self.tau.homogeneous(p)
        out = []
        for name, e in self.numerator:
            term = (e / den).subs(sub)
            out.append((name, term.subs(_by_name(values)) if values else term))
        return out

    def horizon_values(self, symbolic_t=None):
        """Substitution dict for the symbolic horizon schedule (uncapped radius)."""
        d = {S.t: self.horizon["t"] if symbolic_t is None else symbolic_t,
             S.one_minus_beta: self.horizon["one_minus_beta"], S.q: self.horizon["q"]}
        return d


def _by_name(values):
    table = {s.name: s for s in (S.K, S.Delta0, S.one_minus_beta, S.q, S.t0, S.c_beta, S.c_q, *S.LAYER)}
    return {table[k] if isinstance(k, str) else k: v for k, v in values.items()}


# --- aggregates shared by the four methods ----------------------------------------------------
S_sigma = Aggregate(sp.Symbol("S_sigma", positive=True), "sum", S.t * S.rho * S.sigma,
                    r"\sum_i t_i\rho_i\sigma_i")
S_quad = Aggregate(sp.Symbol("S_quad", positive=True), "sum",
                   S.L0 * (1 + S.delta) ** 2 * S.t ** 2, r"\sum_i L_{0,i}(1+\delta_i)^2t_i^2")
S_drift = Aggregate(sp.Symbol("S_drift", positive=True), "sum", S.L0 * (1 + S.delta) * S.t ** 2,
                    r"\sum_i L_{0,i}(1+\delta_i)t_i^2")
A_rk = Aggregate(sp.Symbol("A_rk", positive=True), "sqrt_sum", S.t ** 2 * S.rho ** 2 * S.kappa ** 2,
                 r"\sqrt{\sum_i t_i^2\rho_i^2\kappa_i^2}")
A_ell = Aggregate(sp.Symbol("A_ell", nonnegative=True), "sqrt_sum",
                  S.ell ** 2 * (1 + S.delta) ** 2 * S.t ** 2, r"\sqrt{\sum_i\ell_i^2(1+\delta_i)^2t_i^2}")

#: :math:`c_i` when the estimator has no momentum drift (MVR-1, MVR-3) [R].
C_NO_DRIFT = (1 - S.delta) - S.L1 * (1 + S.delta) ** 2 * S.t / 2
#: :math:`c_i` with the momentum drift :math:`\beta S_k` (Gluon, MVR-2) [R].
C_DRIFT = C_NO_DRIFT - 2 * (1 - h) * S.L1 * (1 + S.delta) * S.t / h

#: the mixing factors of (L2)/(L3), derived here [R]
NOISE_H = sp.sqrt(h / (2 - h))                 # (1-beta)/sqrt(1-beta^2)
CORR_H = (1 - h) / sp.sqrt(h * (2 - h))        # beta/sqrt(1-beta^2)
NOISE_Q = sp.sqrt(S.q / (2 - S.q))
CORR_Q = (1 - S.q) / sp.sqrt(S.q * (2 - S.q))


def _tau(c):
    return Aggregate(sp.Symbol("tau", positive=True), "min", c * S.t / S.w, r"\min_i c_it_i/w_i")


def _conditions(c, with_q):
    conds = [Condition("c_i > 0", c, True, "descent coefficient positive (L4)"),
             Condition("delta_i < 1", 1 - S.delta, True, "inexact LMO still a descent direction"),
             Condition("0 < 1-beta <= 1", 1 - h, False, "momentum weight in [0, 1)", strict=False)]
    if with_q:
        conds.append(Condition("0 < q <= 1", 1 - S.q, False, "mixing in (0, 1]", strict=False))
    return tuple(conds)


_K34 = S.K ** sp.Rational(-3, 4)
_K23 = S.K ** sp.Rational(-2, 3)


def gluon_bound() -> NonconvexBound:
    r"""Gluon with vanilla momentum, constant parameters: :math:`G_K = O(K^{-1/4})` [R].

    Update [C]: :math:`M^k=\beta M^{k-1}+(1-\beta)\nabla f_{\xi_k}(X^k)`, :math:`M^0=g^0`.

    1. Error recursion (exact algebra, checked in :mod:`theory.verify`):
       :math:`E^k=\beta E^{k-1}+\beta S_k+hN_k`, :math:`E^0=N_0` [R].
    2. Unrolled, triangle inequality:
       :math:`\|E^k_i\|_*\le\beta^k\|N_{0,i}\|_*+\|h\sum_{j=1}^k\beta^{k-j}N_{j,i}\|_*
       +\sum_{j=1}^k\beta^{k-j+1}\|S_{j,i}\|_*` [R].
    3. A1 between :math:`X^{j-1}` and :math:`X^j`:
       :math:`\|S_{j,i}\|_*\le(L_{0,i}+L_{1,i}\|\nabla_if(X^{j-1})\|_*)(1+\delta_i)t_i`, and
       :math:`\sum_{k\ge j}\beta^{k-j+1}\le\beta/h` [R].
    4. (L2), (L3): :math:`\sum_{k<K}\sum_it_iE\|E^k_i\|_*\le S_\sigma/h+KS_\sigma\sqrt{h/(2-h)}
       +K\frac{1-h}{h}\sum_iL_{0,i}(1+\delta_i)t_i^2+\sum_i\frac{(1-h)(1+\delta_i)L_{1,i}t_i^2}{h}
       \sum_kE\|\nabla_if(X^k)\|_*` [R].
    5. (L4) with the last sum moved left:
       :math:`c_i=(1-\delta_i)-\frac{L_{1,i}(1+\delta_i)^2t_i}{2}-\frac{2(1-h)L_{1,i}(1+\delta_i)t_i}{h}`:

    .. math:: G_K\le\frac{1}{K\tau}\Big[\Delta_0+\frac{2S_\sigma}{h}+2KS_\sigma\sqrt{\tfrac{h}{2-h}}
              +\frac{2K(1-h)}{h}S_{\rm drift}+\frac K2S_{\rm quad}\Big].

    Horizon choice (docs/theory.md §4 [R]): :math:`h=c_\beta K^{-1/2}`, :math:`t=t_0K^{-3/4}`:
    every term is :math:`O(K^{-1/4})`.
    """
    c = C_DRIFT
    return NonconvexBound(
        method="gluon", title="Gluon (vanilla momentum), constant parameters",
        provenance="derived here [R]; rate K^-1/4 is the paper's [C]",
        numerator=(("transient", S.Delta0),
                   ("initial error", 2 * S_sigma.symbol / h),
                   ("noise", 2 * S.K * S_sigma.symbol * NOISE_H),
                   ("momentum drift", 2 * S.K * (1 - h) * S_drift.symbol / h),
                   ("smoothness", S.K * S_quad.symbol / 2)),
        tau=_tau(c), aggregates=(S_sigma, S_quad, S_drift), conditions=_conditions(c, False),
        claimed_exponent=_claimed("gluon"),
        horizon={"t": S.t0 * _K34, "one_minus_beta": S.c_beta * S.K ** sp.Rational(-1, 2),
                 "q": sp.Integer(1)},
        exponent_params=("t", "one_minus_beta"))


def mvr1_bound() -> NonconvexBound:
    r"""Gluon-MVR-1, constant parameters: :math:`G_K=O(K^{-1/3})` [R].

    Update [C]: :math:`M^k=\nabla f_{\xi_k}(X^k)+\beta(M^{k-1}-\nabla f_{\xi_k}(X^{k-1}))`.

    1. Error recursion (exact; the gradient difference cancels, no drift):
       :math:`E^k=\beta E^{k-1}+hN_k+\beta D_k`, :math:`E^0=N_0` [R, as in docs/theory.md §4].
    2. Unrolled with the triangle inequality between the noise part and the A3 part (they share
       the sample, so they are separated before squaring):
       :math:`\|E^k_i\|_*\le\beta^k\|N_{0,i}\|_*+\|h\sum_j\beta^{k-j}N_{j,i}\|_*+\|\beta\sum_j\beta^{k-j}D_{j,i}\|_*` [R].
    3. (L2), (L3): :math:`\sum_{k<K}\sum_it_iE\|E^k_i\|_*\le S_\sigma/h+KS_\sigma\sqrt{h/(2-h)}
       +KA_{\rho\kappa}A_\ell\frac{1-h}{\sqrt{h(2-h)}}` [R].
    4. (L4) with :math:`c_i=(1-\delta_i)-L_{1,i}(1+\delta_i)^2t_i/2` (:math:`\ge 1/2` when
       :math:`t_i\le1/L_{1,i}`, :math:`\delta_i=0`):

    .. math:: G_K\le\frac{1}{K\tau}\Big[\Delta_0+\frac{2S_\sigma}{h}+2KS_\sigma\sqrt{\tfrac{h}{2-h}}
              +2KA_{\rho\kappa}A_\ell\frac{1-h}{\sqrt{h(2-h)}}+\frac K2S_{\rm quad}\Big].

    For one layer, :math:`\delta=0`, :math:`t\le1/L_1` this is at most
    :math:`\frac{2\Delta_0}{tK}+\frac{4\rho\sigma}{hK}+4\rho\sigma\sqrt h+\frac{4\rho\kappa\ell t}{\sqrt h}+L_0t`,
    docs/theory.md's reconstruction without its :math:`\sqrt2` factors.  Horizon choice [R]:
    :math:`h=c_\beta K^{-2/3}`, :math:`t=t_0K^{-2/3}`.
    """
    c = C_NO_DRIFT
    return NonconvexBound(
        method="mvr1", title="Gluon-MVR-1, constant parameters",
        provenance="derived here [R]; rate K^-1/3 is the paper's [C]",
        numerator=(("transient", S.Delta0),
                   ("initial error", 2 * S_sigma.symbol / h),
                   ("noise", 2 * S.K * S_sigma.symbol * NOISE_H),
                   ("mvr correction", 2 * S.K * A_rk.symbol * A_ell.symbol * CORR_H),
                   ("smoothness", S.K * S_quad.symbol / 2)),
        tau=_tau(c), aggregates=(S_sigma, S_quad, A_rk, A_ell), conditions=_conditions(c, False),
        claimed_exponent=_claimed("mvr1"),
        horizon={"t": S.t0 * _K23, "one_minus_beta": S.c_beta * _K23, "q": sp.Integer(1)},
        exponent_params=("t", "one_minus_beta"), assumptions=("A1", "A2", "A3"))


def mvr2_bound() -> NonconvexBound:
    r"""Gluon-MVR-2, constant parameters: :math:`G_K=O(K^{-1/3})` with :math:`\beta` constant [R].

    Update [C]: :math:`g^k=\nabla f_{\xi_k}(X^k)+(1-q)(g^{k-1}-\nabla f_{\xi_k}(X^{k-1}))`,
    :math:`M^k=\beta M^{k-1}+(1-\beta)g^k`.

    1. Inner error :math:`e^k=g^k-\nabla f(X^k)` follows MVR-1's recursion with
       :math:`\beta\to1-q`: :math:`e^k=(1-q)e^{k-1}+qN_k+(1-q)D_k`, :math:`e^0=N_0`; outer:
       :math:`E^k=\beta E^{k-1}+\beta S_k+he^k`, :math:`E^0=N_0` [R].
    2. :math:`\|E^k_i\|_*\le\beta^k\|N_{0,i}\|_*+\sum_{j\le k}\beta^{k-j+1}\|S_{j,i}\|_*
       +h\sum_{1\le j\le k}\beta^{k-j}\|e^j_i\|_*`, and :math:`h\sum_{k\ge j}\beta^{k-j}\le1`,
       so the last part sums to at most :math:`\sum_{1\le j<K}E\|e^j_i\|_*` [R].
    3. MVR-1's step 3 for :math:`e^j` (:math:`j\ge1`, :math:`\sum_{j\ge1}(1-q)^j\le(1-q)/q`) and
       gluon's step 3 for the drift:

    .. math:: G_K\le\frac{1}{K\tau}\Big[\Delta_0+2S_\sigma\Big(\frac1h+\frac{1-q}{q}\Big)
              +2KS_\sigma\sqrt{\tfrac{q}{2-q}}+2KA_{\rho\kappa}A_\ell\frac{1-q}{\sqrt{q(2-q)}}
              +\frac{2K(1-h)}{h}S_{\rm drift}+\frac K2S_{\rm quad}\Big],

    with gluon's :math:`c_i` (the momentum drift is present).  Horizon choice [R]:
    :math:`q=c_qK^{-2/3}`, :math:`t=t_0K^{-2/3}`, :math:`\beta` constant.
    """
    c = C_DRIFT
    return NonconvexBound(
        method="mvr2", title="Gluon-MVR-2, constant parameters",
        provenance="derived here [R]; rate K^-1/3 is the paper's [C]",
        numerator=(("transient", S.Delta0),
                   ("initial error", 2 * S_sigma.symbol * (1 / h + (1 - S.q) / S.q)),
                   ("noise", 2 * S.K * S_sigma.symbol * NOISE_Q),
                   ("mvr correction", 2 * S.K * A_rk.symbol * A_ell.symbol * CORR_Q),
                   ("momentum drift", 2 * S.K * (1 - h) * S_drift.symbol / h),
                   ("smoothness", S.K * S_quad.symbol / 2)),
        tau=_tau(c), aggregates=(S_sigma, S_quad, S_drift, A_rk, A_ell),
        conditions=_conditions(c, True), claimed_exponent=_claimed("mvr2"),
        horizon={"t": S.t0 * _K23, "one_minus_beta": h, "q": S.c_q * _K23},
        exponent_params=("t", "q"), assumptions=("A1", "A2", "A3"))


def mvr3_bound() -> NonconvexBound:
    r"""Gluon-MVR-3 (default form), constant parameters: :math:`G_K=O(K^{-1/3})` [R].

    Update [R, docs/theory.md §3]: :math:`g^k` as MVR-2,
    :math:`M^k=\beta M^{k-1}+(1-\beta)g^k+\beta(\nabla f_{\xi_k}(X^k)-\nabla f_{\xi_k}(X^{k-1}))`.

    1. The correction cancels the drift: :math:`E^k=\beta E^{k-1}+he^k+\beta D_k`,
       :math:`E^0=N_0` [R].
    2. As MVR-2 for the :math:`e^j` part and as MVR-1 for the :math:`D` part; no :math:`L_1`
       drift, so :math:`c_i` is MVR-1's:

    .. math:: G_K\le\frac{1}{K\tau}\Big[\Delta_0+2S_\sigma\Big(\frac1h+\frac{1-q}{q}\Big)
              +2KS_\sigma\sqrt{\tfrac{q}{2-q}}+2KA_{\rho\kappa}A_\ell\Big(\frac{1-q}{\sqrt{q(2-q)}}
              +\frac{1-h}{\sqrt{h(2-h)}}\Big)+\frac K2S_{\rm quad}\Big].

    The alternative form (correction :math:`\beta(g^k-g^{k-1})`) gives
    :math:`M^k-g^k=\beta(M^{k-1}-g^{k-1})=0`, i.e. :math:`M^k=g^k`: it is MVR-1 with
    :math:`1-\beta\to q`, so MVR-1's bound applies with ``one_minus_beta = q`` (checked in
    :mod:`theory.verify`).
    """
    c = C_NO_DRIFT
    return NonconvexBound(
        method="mvr3", title="Gluon-MVR-3 (default form), constant parameters",
        provenance="derived here [R]; rate K^-1/3 is the paper's [C]",
        numerator=(("transient", S.Delta0),
                   ("initial error", 2 * S_sigma.symbol * (1 / h + (1 - S.q) / S.q)),
                   ("noise", 2 * S.K * S_sigma.symbol * NOISE_Q),
                   ("mvr correction", 2 * S.K * A_rk.symbol * A_ell.symbol * (CORR_Q + CORR_H)),
                   ("smoothness", S.K * S_quad.symbol / 2)),
        tau=_tau(c), aggregates=(S_sigma, S_quad, A_rk, A_ell), conditions=_conditions(c, True),
        claimed_exponent=_claimed("mvr3"),
        horizon={"t": S.t0 * _K23, "one_minus_beta": h, "q": S.c_q * _K23},
        exponent_params=("t", "q"), assumptions=("A1", "A2", "A3"))


_CONSTRUCTORS = {"gluon": gluon_bound, "mvr1": mvr1_bound, "mvr2": mvr2_bound, "mvr3": mvr3_bound}
HORIZON_BOUND_METHODS = tuple(_CONSTRUCTORS)


@lru_cache(maxsize=None)
def get_bound(method: str) -> NonconvexBound:
    """The :class:`NonconvexBound` of ``method`` (``gluon``, ``mvr1``, ``mvr2``, ``mvr3``)."""
    try:
        return _CONSTRUCTORS[method]()
    except KeyError:
        raise ValueError(f"no non-convex bound for method {method!r}; allowed: "
                         f"{', '.join(_CONSTRUCTORS)}") from None


# --- radius caps of the horizon schedules, symbolically ---------------------------------------
def symbolic_cap(method: str):
    r"""The radius cap of :func:`methods.schedules.radius_cap`, as a sympy expression [R].

    ``mvr1``: :math:`1/L_1`; others: :math:`\min\{1/L_1, (1-\beta)/(8\beta L_1)\}`.  Under
    these caps :math:`c_i\ge1/4` when :math:`\delta=0` (checked in :mod:`theory.verify`).
    """
    if method == "mvr1":
        return 1 / S.L1
    return sp.Min(1 / S.L1, h / (8 * (1 - h) * S.L1))


# --- deterministic Gluon ------------------------------------------------------------------------
@dataclass(frozen=True)
class DeterministicBound:
    r"""Deterministic Gluon with the adaptive radius (docs/theory.md §4, GLUON Thm 1).

    Method [C]: exact gradients, no momentum, :math:`t_i=a_i/(L'_{0,i}+L'_{1,i}a_i)`,
    :math:`a_i=\|\nabla_if(X^k)\|_*`, with schedule constants :math:`L'\ge L` (componentwise).

    Derivation [R] (recovers the paper's complexity [C], checked symbolically):

    1. (L1) with :math:`E=0`, :math:`\|Y_i-X_i\|\le(1+\delta_i)t_i`:
       :math:`f(X^{k+1})\le f(X^k)-\sum_i[(1-\delta_i)t_ia_i-(L_{0,i}+L_{1,i}a_i)(1+\delta_i)^2t_i^2/2]`.
    2. With the adaptive radius and :math:`L\le L'`, each layer decreases by at least
       :math:`\gamma_i a_i^2/(L'_{0,i}+L'_{1,i}a_i)`, :math:`\gamma_i=(1-\delta_i)-(1+\delta_i)^2/2`
       (:math:`=1/2` exactly; the radius maximises the exact-LMO decrease).
    3. Titu/Cauchy-Schwarz with :math:`v_i=w_ia_i`:
       :math:`\sum_i\frac{\gamma_ia_i^2}{L'_{0,i}+L'_{1,i}a_i}\ge\frac{V^2}{R+\Lambda V}`,
       :math:`V=\sum_iw_ia_i`, :math:`R=\sum_iw_i^2L'_{0,i}/\gamma_i`,
       :math:`\Lambda=\max_iw_iL'_{1,i}/\gamma_i`.
    4. :math:`\psi(V)=V^2/(R+\Lambda V)` is convex and increasing; Jensen over :math:`k`:
       :math:`\psi(\bar V)\le\Delta_0/K`, i.e.

    .. math:: G_K=\bar V\le\frac12\Big[\frac{\Lambda\Delta_0}{K}
              +\sqrt{\Big(\frac{\Lambda\Delta_0}{K}\Big)^2+\frac{4R\Delta_0}{K}}\Big].

    With :math:`w_i=1/L_{1,i}`, :math:`\delta=0`: :math:`R=2\sum_iL_{0,i}/L_{1,i}^2`,
    :math:`\Lambda=2`, and :math:`\bar V\le\varepsilon\bar w` exactly when
    :math:`K\ge 2\Delta_0\sum_iL_{0,i}/L_{1,i}^2/(\varepsilon\bar w)^2+2\Delta_0/(\varepsilon\bar w)`
    — GLUON Thm 1 [C] (for the average, hence for the minimum).
    """

    method: str = "gluon-deterministic"
    provenance: str = "derived here [R]; iteration complexity is GLUON Thm 1 [C]"
    claimed_exponent: sp.Rational = sp.Rational(-1, 2)

    R = Aggregate(sp.Symbol("R", positive=True), "sum",
                  S.w ** 2 * S.L0 / ((1 - S.delta) - (1 + S.delta) ** 2 / 2), r"\sum_iw_i^2L_{0,i}/\gamma_i")
    Lam = Aggregate(sp.Symbol("Lambda", nonnegative=True), "max",
                    S.w * S.L1 / ((1 - S.delta) - (1 + S.delta) ** 2 / 2), r"\max_iw_iL_{1,i}/\gamma_i")
    gamma = (1 - S.delta) - (1 + S.delta) ** 2 / 2

    @property
    def expr(self):
        x = self.Lam.symbol * S.Delta0 / S.K
        return (x + sp.sqrt(x ** 2 + 4 * self.R.symbol * S.Delta0 / S.K)) / 2

    @property
    def aggregates(self):
        return (self.R, self.Lam)

    def decrease(self, radius=None):
        """One-layer decrease :math:`(1-\\delta)ta-(L_0+L_1a)(1+\\delta)^2t^2/2` at ``radius``."""
        A = sp.Symbol("a_grad", positive=True)
        tt = S.t if radius is None else radius
        return (1 - S.delta) * tt * A - (S.L0 + S.L1 * A) * (1 + S.delta) ** 2 * tt ** 2 / 2, A

    def complexity(self):
        r"""Smallest ``K`` with bound :math:`\le\varepsilon\bar w`, for :math:`\Lambda=2`,
        :math:`R=2\sum L_0/L_1^2` (one symbol ``Rsum`` for the sum): solve
        :math:`\psi(\varepsilon\bar w)=\Delta_0/K` for ``K``."""
        wbar, Rsum = sp.symbols("wbar Rsum", positive=True)
        V = S.eps * wbar
        return sp.solve(sp.Eq(V ** 2 / (2 * Rsum + 2 * V), S.Delta0 / S.K), S.K)[0], (wbar, Rsum)


DETERMINISTIC = DeterministicBound()
