r"""Star-convex bounds on :math:`E f(X^K)-f^*`: momentum :math:`\tilde O(K^{-1/3})`, MVR :math:`\tilde O(K^{-1/2})`.

The paper's headline [C]: under star-convexity MVR improves the function-gap rate from
:math:`\sim K^{-1/3}` (momentum) to :math:`\sim K^{-1/2}`, up to log factors.  The exact method
and constants are unknown [R]; this module **chooses** the method and **derives** the bounds.

Method chosen here [R] (Gluon in Frank-Wolfe / weight-decay form, THEORY.md §5), per layer
with a ball radius :math:`D_i\ge\|X^*_i\|_{(i)}` and :math:`\|X^0_i\|\le D_i`:

.. math:: X^{k+1}_i=(1-a)X^k_i+a\,D_i\,\mathrm{lmo}_i(M^k_i),\qquad k=0,\dots,K-1,

with :math:`M^k` from vanilla momentum (``star-momentum``) or MVR-1 (``star-mvr``), constant
horizon-:math:`K` parameters

- ``star-mvr``: :math:`a=2\ln K/K`, :math:`1-\beta=a`;
- ``star-momentum``: :math:`a=2\ln K/K`, :math:`1-\beta=a^{2/3}`;

(:math:`K\ge2`; :math:`a\le2/e<1`).  Iterates stay in the balls (convex combinations).

Assumptions: A4 star-convexity with minimiser :math:`X^*` (so :math:`\nabla f(X^*)=0` and
:math:`\langle\nabla f(X),X^*-X\rangle\le f^*-f(X)`); A1 (used also between :math:`X^*` and
points of the balls, which bounds :math:`\|\nabla_if(X)\|_*\le 2L_{0,i}D_i` there); A2; A3 (MVR).

Derivation [R]
--------------
1. Step :math:`X^{k+1}-X^k=a(V^k-X^k)`, :math:`V_i^k=D_i\mathrm{lmo}(M_i^k)`, so
   :math:`\|X_i^{k+1}-X_i^k\|\le2aD_i`.  A1 on this segment with
   :math:`\tilde L_i=L_{0,i}(1+2L_{1,i}D_i)\ge L_{0,i}+L_{1,i}\|\nabla_if(X^k)\|_*`:
   :math:`f(X^{k+1})\le f(X^k)+a\langle\nabla f,V-X\rangle+2a^2C`, :math:`C=\sum_i\tilde L_iD_i^2`.
2. :math:`V` minimises :math:`\langle M,\cdot\rangle` over the balls, which contain :math:`X^*`:
   :math:`\langle\nabla f,V-X\rangle\le\langle\nabla f,X^*-X\rangle+\langle E,X^*-V\rangle
   \le-(f(X)-f^*)+2\sum_iD_i\|E_i\|_*`.
3. Hence :math:`r_{k+1}\le(1-a)r_k+2a\varepsilon_k+2a^2C` with :math:`r_k=Ef(X^k)-f^*`,
   :math:`\varepsilon_k=\sum_iD_iE\|E_i^k\|_*`; unrolled with
   :math:`(1-a)^n\le e^{-an}`: :math:`r_K\le e^{-aK}r_0+2a\sum_{k<K}(1-a)^{K-1-k}\varepsilon_k+2aC`.
4. Error (as in :mod:`theory.bounds_nonconvex`, step bound :math:`2aD_i`):
   :math:`\varepsilon_k\le\beta^kS_\sigma+\sqrt{h/(2-h)}S_\sigma+e_{\rm est}`, with
   :math:`S_\sigma=\sum_iD_i\rho_i\sigma_i`, and :math:`e_{\rm est}=2a(1-h)C/h` (momentum drift)
   or :math:`e_{\rm est}=2aR_\kappa\Lambda_\ell(1-h)/\sqrt{h(2-h)}` (MVR),
   :math:`R_\kappa=\sqrt{\sum_iD_i^2\rho_i^2\kappa_i^2}`, :math:`\Lambda_\ell=\sqrt{\sum_i\ell_i^2D_i^2}`.
5. :math:`\sum_{k<K}(1-a)^{K-1-k}\beta^k\le K(1-\min(a,h))^{K-1}\le Ke^{-\min(a,h)(K-1)}`
   and :math:`2a\sum_j(1-a)^j\le2`:

.. math:: r_K\le e^{-aK}r_0+2aKS_\sigma e^{-\min(a,h)(K-1)}+2S_\sigma\sqrt{\tfrac{h}{2-h}}
          +2e_{\rm est}+2aC.

With the schedules above: MVR :math:`\approx r_0/K^2+8S_\sigma\ln K/K^2+2S_\sigma\sqrt{\ln K/K}
+4R_\kappa\Lambda_\ell\sqrt{\ln K/K}+4C\ln K/K=\tilde O(K^{-1/2})`; momentum
:math:`\tilde O(K^{-1/3})` (noise :math:`\sqrt h` and drift :math:`a/h` balance at
:math:`h=a^{2/3}`).  Compare THEORY.md §5's quoted bound (same shape, different constants).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from . import symbols as S
from .bounds_nonconvex import Aggregate

h = S.one_minus_beta
a = S.a

S_sigma_D = Aggregate(sp.Symbol("S_sigmaD", positive=True), "sum", S.D * S.rho * S.sigma,
                      r"\sum_iD_i\rho_i\sigma_i")
C_smooth = Aggregate(sp.Symbol("C_smooth", positive=True), "sum", S.L0 * (1 + 2 * S.L1 * S.D) * S.D ** 2,
                     r"\sum_iL_{0,i}(1+2L_{1,i}D_i)D_i^2")
R_kappa = Aggregate(sp.Symbol("R_kappa", positive=True), "sqrt_sum", S.D ** 2 * S.rho ** 2 * S.kappa ** 2,
                    r"\sqrt{\sum_iD_i^2\rho_i^2\kappa_i^2}")
Lam_ell = Aggregate(sp.Symbol("Lambda_ell", nonnegative=True), "sqrt_sum", S.ell ** 2 * S.D ** 2,
                    r"\sqrt{\sum_i\ell_i^2D_i^2}")


@dataclass(frozen=True)
class StarBound:
    """A star-convex bound on :math:`Ef(X^K)-f^*` in aggregate symbols, with its schedule."""

    method: str
    title: str
    estimator: str
    numerator: tuple          # named summands of the bound
    aggregates: tuple
    schedule: dict            # {"a": expr(K), "one_minus_beta": expr(K)}
    claimed_exponent: sp.Rational
    provenance: str = "method chosen and bound derived here [R]; headline rates [C]"

    @property
    def expr(self):
        return sp.Add(*[e for _, e in self.numerator])

    def homogeneous(self, p=1):
        return self.expr.subs({ag.symbol: ag.homogeneous(p) for ag in self.aggregates})

    def terms_on_schedule(self, p=1, momentum=None):
        """Homogeneous terms with the schedule substituted (``momentum`` overrides 1-beta).

        ``Min(a, 1-beta)`` is resolved to its asymptotically smaller argument (compared at
        ``K = 1e12``; both are powers of ``K`` times logs), so the terms are explicit in ``K``.
        """
        mom = self.schedule["one_minus_beta"] if momentum is None else momentum
        sub = {ag.symbol: ag.homogeneous(p) for ag in self.aggregates}
        out = []
        for n, e in self.numerator:
            e = e.subs(sub).subs({h: mom, a: self.schedule["a"]})
            e = e.replace(sp.Min, lambda *args: min(args, key=lambda x: float(x.subs(S.K, 10 ** 12))))
            out.append((n, e))
        return out

    def on_schedule(self, p=1, momentum=None):
        """The homogeneous bound on the schedule (sum of :meth:`terms_on_schedule`)."""
        return sp.Add(*[e for _, e in self.terms_on_schedule(p, momentum)])


STEP = 2 * sp.log(S.K) / S.K      # a = 2 ln K / K  [R]


def _common():
    return (("transient", sp.exp(-a * S.K) * S.r0),
            ("initial error", 2 * a * S.K * S_sigma_D.symbol * sp.exp(-sp.Min(a, h) * (S.K - 1))),
            ("noise", 2 * S_sigma_D.symbol * sp.sqrt(h / (2 - h))))


def star_momentum_bound() -> StarBound:
    """Frank-Wolfe Gluon with vanilla momentum: :math:`\\tilde O(K^{-1/3})` (module docstring) [R]."""
    return StarBound(
        method="star-momentum", title="star-convex, FW-form Gluon with momentum", estimator="gluon",
        numerator=(*_common(), ("momentum drift", 4 * a * (1 - h) * C_smooth.symbol / h),
                   ("smoothness", 2 * a * C_smooth.symbol)),
        aggregates=(S_sigma_D, C_smooth), schedule={"a": STEP, "one_minus_beta": STEP ** sp.Rational(2, 3)},
        claimed_exponent=sp.Rational(-1, 3))


def star_mvr_bound() -> StarBound:
    """Frank-Wolfe Gluon-MVR-1: :math:`\\tilde O(K^{-1/2})` (module docstring) [R]."""
    return StarBound(
        method="star-mvr", title="star-convex, FW-form Gluon-MVR-1", estimator="mvr1",
        numerator=(*_common(),
                   ("mvr correction", 4 * a * R_kappa.symbol * Lam_ell.symbol * (1 - h) / sp.sqrt(h * (2 - h))),
                   ("smoothness", 2 * a * C_smooth.symbol)),
        aggregates=(S_sigma_D, C_smooth, R_kappa, Lam_ell), schedule={"a": STEP, "one_minus_beta": STEP},
        claimed_exponent=sp.Rational(-1, 2))


_STAR = {"star-momentum": star_momentum_bound, "star-mvr": star_mvr_bound}
STAR_METHODS = tuple(_STAR)


@lru_cache(maxsize=None)
def get_star_bound(method: str) -> StarBound:
    try:
        return _STAR[method]()
    except KeyError:
        raise ValueError(f"no star-convex bound for {method!r}; allowed: {', '.join(_STAR)}") from None


def star_schedule(method: str, K: int) -> dict:
    """Numeric ``{"a", "one_minus_beta"}`` of the chosen star-convex schedule for horizon ``K >= 2``."""
    if int(K) < 2:
        raise ValueError(f"star-convex schedule needs K >= 2; got {K}")
    b = get_star_bound(method)
    return {k: float(v.subs(S.K, int(K))) for k, v in b.schedule.items()}
