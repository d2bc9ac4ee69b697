r"""Star-convex bounds on :math:`E f(X^K)-f^*`: momentum :math:`\tilde O(K^{-1/3})`, MVR :math:`\tilde O(K^{-1/2})`.

The paper's headline [C]: under star-convexity MVR improves the function-gap rate from
:math:`\sim K^{-1/3}` (momentum) to :math:`\sim K^{-1/2}`, up to log factors.  The exact method
and constants are unknown [R]; this module **chooses** the method and **derives** the bounds.

Method chosen here [R] (Gluon in Frank-Wolfe / weight-decay form, docs/theory.md §5), per layer
with a ball radius :math:`D_i\ge\|X^*_i\|_{(i)}` and :math:`\|X^0_i\|\le D_i`:

.. math:: X^{k+1}_i=(1-a)X^k_i+a\,D_i\,\mathrm{lmo}_i(M^k_i),\qquad k=0,\dots,K-1,

with :math:`M^k` from vanilla momentum (``star-momentum``), MVR-1 (``star-mvr``), MVR-2
(``star-mvr2``) or MVR-3 in its default form (``star-mvr3``), constant horizon-:math:`K`
parameters

- ``star-mvr``: :math:`a=2\ln K/K`, :math:`1-\beta=a`;
- ``star-momentum``: :math:`a=2\ln K/K`, :math:`1-\beta=a^{2/3}`;
- ``star-mvr2``, ``star-mvr3``: :math:`a=2\ln K/K`, :math:`q=a`, :math:`\beta\in[0,1)` constant
  (the toolkit runs :math:`\beta=1/2`; the bounds hold for any :math:`q,1-\beta\in(0,1]`);

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
:math:`h=a^{2/3}`).  Compare docs/theory.md §5's quoted bound (same shape, different constants).

MVR-2 and MVR-3 with :math:`\beta` constant [R]
-----------------------------------------------
Steps 1-3 are unchanged; only :math:`\varepsilon_k` differs.  Notation as in
:mod:`theory.bounds_nonconvex`: :math:`h=1-\beta`, :math:`z=1-q`, :math:`N_k` the noise of
:math:`\xi_k` at :math:`X^k`, :math:`D_k=D(X^k,X^{k-1})` (same sample),
:math:`S_k=\nabla f(X^{k-1})-\nabla f(X^k)`, :math:`e^k=g^k-\nabla f(X^k)`.

M1. One-step recursions (exact algebra from the update rules, docs/theory.md §3; checked in
    :mod:`theory.verify` as ``recursion:star-mvr2``, ``recursion:star-mvr3``):
    inner :math:`e^k=ze^{k-1}+qN_k+zD_k`, :math:`e^0=N_0`; outer
    MVR-2 :math:`E^k=\beta E^{k-1}+\beta S_k+he^k`, MVR-3 :math:`E^k=\beta E^{k-1}+he^k+\beta D_k`,
    :math:`E^0=N_0`.
M2. Unrolled (checked symbolically for :math:`k\le4` from the update rules, ``step:star-unroll:*``):

    .. math:: E^k=u_kN_0+h\sum_{j=1}^k\beta^{k-j}\Big[q\sum_{l=1}^jz^{j-l}N_l+z\sum_{l=1}^jz^{j-l}D_l\Big]
              +\begin{cases}\sum_{j=1}^k\beta^{k-j+1}S_j&\text{MVR-2}\\
              \sum_{j=1}^k\beta^{k-j+1}D_j&\text{MVR-3}\end{cases},
              \qquad u_k=\beta^k+h\sum_{j=1}^k\beta^{k-j}z^j.

M3. Initial error.  The weights :math:`\beta^k` and :math:`h\beta^{k-j}` (:math:`1\le j\le k`)
    sum to 1, so :math:`u_k=E\,z^{J}` with :math:`J=\max(k-G,0)`, :math:`P(G=n)=h\beta^n`.
    Splitting on :math:`G\le\theta k`: :math:`u_k\le z^{(1-\theta)k}+\beta^{\theta k}
    \le e^{-q(1-\theta)k}+e^{-h\theta k}`; with :math:`\theta=q/(q+h)` both exponents equal
    :math:`\mu k`, :math:`\mu=qh/(q+h)`, so :math:`u_k\le2e^{-\mu k}` (``step:star-initial-split``).
    Then :math:`E\|u_kN_{0,i}\|_*\le u_k\rho_i\sigma_i` and
    :math:`2a\sum_{k<K}(1-a)^{K-1-k}u_kS_\sigma\le4aKS_\sigma e^{-\min(a,\mu)(K-1)}`.
    On the schedule :math:`q=a`: :math:`\mu=a\,h/(h+a)`, so this is
    :math:`\approx8S_\sigma\ln K\,K^{-2h/(h+a)}=\tilde O(K^{-2})` (:math:`a\to0`).
M4. Martingale part (Frobenius, then :math:`\rho_i`, :math:`\kappa_i`).  For each :math:`j`,
    :math:`q\sum_lz^{j-l}N_l` and :math:`z\sum_lz^{j-l}D_l` are sums of martingale differences:
    :math:`E\|q\sum_lz^{j-l}N_{l,i}\|_*\le\rho_i\sqrt{\sum_lq^2z^{2(j-l)}\sigma_i^2}
    \le\rho_i\sigma_i\sqrt{q/(2-q)}`; and with :math:`\|D_{l,i}\|_F\le\kappa_i\|D_{l,i}\|_*`,
    Cauchy-Schwarz over layers, A3 and the step :math:`2aD_i`:
    :math:`\sum_iD_iE\|z\sum_lz^{j-l}D_{l,i}\|_*\le R_\kappa\cdot2a\Lambda_\ell\cdot z/\sqrt{1-z^2}
    =2aR_\kappa\Lambda_\ell(1-q)/\sqrt{q(2-q)}`.  The outer weights satisfy
    :math:`h\sum_{j=1}^k\beta^{k-j}\le1` (triangle inequality over :math:`j`), so this part of
    :math:`\varepsilon_k` is at most :math:`S_\sigma\sqrt{q/(2-q)}+2aR_\kappa\Lambda_\ell(1-q)/\sqrt{q(2-q)}`
    — MVR-1's terms with :math:`1-\beta\to q`.
M5. The constant-:math:`\beta` term.  MVR-2 (momentum drift): A1 on each step,
    :math:`\sum_iD_i\|S_{j,i}\|_*\le\sum_iD_i\tilde L_i\,2aD_i=2aC`, and
    :math:`\sum_{j\le k}\beta^{k-j+1}\le\beta/h`: at most :math:`2aC(1-h)/h` per step, i.e.
    :math:`O(a/(1-\beta))`.  MVR-3 (the correction cancels the drift, leaving a martingale):
    as M4 with weights :math:`\beta^{k-j+1}`: at most :math:`2aR_\kappa\Lambda_\ell(1-h)/\sqrt{h(2-h)}`.
    With :math:`\beta` constant both are :math:`O(a)=O(\ln K/K)`: they do not spoil :math:`K^{-1/2}`.
M6. Into step 3 (:math:`2a\sum_j(1-a)^j\le2` for the per-step bounds):

.. math:: r_K\le e^{-aK}r_0+4aKS_\sigma e^{-\min(a,\mu)(K-1)}+2S_\sigma\sqrt{\tfrac{q}{2-q}}
          +4aR_\kappa\Lambda_\ell\frac{1-q}{\sqrt{q(2-q)}}+T_\beta+2aC,

with :math:`T_\beta=4aC(1-h)/h` (MVR-2) or :math:`T_\beta=4aR_\kappa\Lambda_\ell(1-h)/\sqrt{h(2-h)}`
(MVR-3).  On :math:`q=a=2\ln K/K`, :math:`h` constant: :math:`\approx2S_\sigma\sqrt{\ln K/K}
+4R_\kappa\Lambda_\ell\sqrt{\ln K/K}+O(\ln K/K)=\tilde O(K^{-1/2})`, the same leading terms as
``star-mvr`` (the ``q``-exponent :math:`y` of :math:`q=K^{-y}` is minimax at :math:`y=1`,
``minimax:star-mvr2/3``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from gluon_mvr.theory import symbols as S
from gluon_mvr.theory.bounds_nonconvex import _claimed
from gluon_mvr.theory.claims import get_claim


def _log_power(claim: str) -> sp.Rational:
    f = get_claim(claim).gap_log_power
    return sp.Rational(f.numerator, f.denominator)
from gluon_mvr.theory.bounds_nonconvex import Aggregate

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


#: :math:`\mu=qh/(q+h)`, the decay rate of MVR-2/3's initial-error weight :math:`u_k\le2e^{-\mu k}` (M3)
MU = S.q * h / (S.q + h)
#: MVR-1's mixing factors with :math:`1-\beta\to q` (M4) and the constant-:math:`\beta` ones (M5)
NOISE_Q = sp.sqrt(S.q / (2 - S.q))
CORR_Q = (1 - S.q) / sp.sqrt(S.q * (2 - S.q))
CORR_H = (1 - h) / sp.sqrt(h * (2 - h))


def _resolve_min(expr):
    """``Min(x, y)`` -> its asymptotically smaller argument (compared at ``K = 1e12``, any other
    free symbol, e.g. a constant ``1-beta``, set to 1/2); the arguments are powers of ``K`` times
    logs (and constants), so the choice is the eventual one."""
    def pick(*args):
        def at(x):
            x = x.subs(S.K, 10 ** 12)
            return float(x.subs({s_: sp.Rational(1, 2) for s_ in x.free_symbols}))
        return min(args, key=at)
    return expr.replace(sp.Min, pick)


@dataclass(frozen=True)
class StarBound:
    """A star-convex bound on :math:`Ef(X^K)-f^*` in aggregate symbols, with its schedule.

    ``schedule`` maps ``"a"``, ``"one_minus_beta"``, ``"q"`` to expressions in ``K`` (a constant
    ``1-beta`` stays the symbol :data:`theory.symbols.one_minus_beta`); ``tuned`` names the
    parameter whose ``K``-exponent the minimax check varies (``one_minus_beta`` or ``q``) and
    ``tuned_exponent`` is the schedule's exponent ``y`` of it (``K^-y`` up to logs).
    """

    method: str
    title: str
    estimator: str
    numerator: tuple          # named summands of the bound
    aggregates: tuple
    schedule: dict            # {"a": expr(K), "one_minus_beta": expr(K), "q": expr(K)}
    claimed_exponent: sp.Rational
    tuned: str = "one_minus_beta"
    tuned_exponent: sp.Rational = sp.Integer(1)
    log_power: sp.Rational = sp.Rational(1, 2)     # leading term ~ K^e (ln K)^log_power
    uses_q: bool = False
    provenance: str = "method chosen and bound derived here [R]; headline rates [C]"

    @property
    def expr(self):
        return sp.Add(*[e for _, e in self.numerator])

    def homogeneous(self, p=1):
        return self.expr.subs({ag.symbol: ag.homogeneous(p) for ag in self.aggregates})

    def terms_on_schedule(self, p=1, momentum=None, overrides=None):
        """Homogeneous terms with the schedule substituted (``momentum`` overrides 1-beta;
        ``overrides`` maps ``"a"``/``"one_minus_beta"``/``"q"`` to replacement expressions).

        ``Min(...)`` is resolved to its asymptotically smaller argument (:func:`_resolve_min`),
        so the terms are explicit in ``K``.
        """
        sched = dict(self.schedule)
        if momentum is not None:
            sched["one_minus_beta"] = momentum
        sched.update(overrides or {})
        sub = {ag.symbol: ag.homogeneous(p) for ag in self.aggregates}
        vals = {h: sched["one_minus_beta"], a: sched["a"], S.q: sched.get("q", sp.Integer(1))}
        out = []
        for n, e in self.numerator:
            e = e.subs(sub).subs(vals, simultaneous=True)
            out.append((n, _resolve_min(e)))
        return out

    def on_schedule(self, p=1, momentum=None, overrides=None):
        """The homogeneous bound on the schedule (sum of :meth:`terms_on_schedule`)."""
        return sp.Add(*[e for _, e in self.terms_on_schedule(p, momentum, overrides)])


STEP = 2 * sp.log(S.K) / S.K      # a = 2 ln K / K  [R]


def _common():
    return (("transient", sp.exp(-a * S.K) * S.r0),
            ("initial error", 2 * a * S.K * S_sigma_D.symbol * sp.exp(-sp.Min(a, h) * (S.K - 1))),
            ("noise", 2 * S_sigma_D.symbol * sp.sqrt(h / (2 - h))))


def _common_q():
    """MVR-2/3's transient, initial error (M3) and noise (M4)."""
    return (("transient", sp.exp(-a * S.K) * S.r0),
            ("initial error", 4 * a * S.K * S_sigma_D.symbol * sp.exp(-sp.Min(a, MU) * (S.K - 1))),
            ("noise", 2 * S_sigma_D.symbol * NOISE_Q))


def star_momentum_bound() -> StarBound:
    """Frank-Wolfe Gluon with vanilla momentum: :math:`\\tilde O(K^{-1/3})` (module docstring) [R]."""
    return StarBound(
        method="star-momentum", title="star-convex, FW-form Gluon with momentum", estimator="gluon",
        numerator=(*_common(), ("momentum drift", 4 * a * (1 - h) * C_smooth.symbol / h),
                   ("smoothness", 2 * a * C_smooth.symbol)),
        aggregates=(S_sigma_D, C_smooth),
        schedule={"a": STEP, "one_minus_beta": STEP ** sp.Rational(2, 3), "q": sp.Integer(1)},
        claimed_exponent=_claimed("gluon", "gap"), tuned_exponent=sp.Rational(2, 3), log_power=_log_power("gluon"))


def star_mvr_bound() -> StarBound:
    """Frank-Wolfe Gluon-MVR-1: :math:`\\tilde O(K^{-1/2})` (module docstring) [R]."""
    return StarBound(
        method="star-mvr", title="star-convex, FW-form Gluon-MVR-1", estimator="mvr1",
        numerator=(*_common(),
                   ("mvr correction", 4 * a * R_kappa.symbol * Lam_ell.symbol * (1 - h) / sp.sqrt(h * (2 - h))),
                   ("smoothness", 2 * a * C_smooth.symbol)),
        aggregates=(S_sigma_D, C_smooth, R_kappa, Lam_ell),
        schedule={"a": STEP, "one_minus_beta": STEP, "q": sp.Integer(1)},
        claimed_exponent=_claimed("mvr1", "gap"))


def star_mvr2_bound() -> StarBound:
    r"""Frank-Wolfe Gluon-MVR-2, :math:`q=a`, :math:`\beta` constant: :math:`\tilde O(K^{-1/2})` [R].

    Module docstring, M1-M6: the bound is MVR-1's with :math:`1-\beta\to q` (noise and A3
    parts), a doubled initial error decaying at :math:`\mu=qh/(q+h)`, and the momentum drift
    :math:`4aC(1-h)/h=O(a)` of the constant :math:`\beta`.
    """
    return StarBound(
        method="star-mvr2", title="star-convex, FW-form Gluon-MVR-2 (beta constant)", estimator="mvr2",
        numerator=(*_common_q(),
                   ("mvr correction", 4 * a * R_kappa.symbol * Lam_ell.symbol * CORR_Q),
                   ("momentum drift", 4 * a * (1 - h) * C_smooth.symbol / h),
                   ("smoothness", 2 * a * C_smooth.symbol)),
        aggregates=(S_sigma_D, C_smooth, R_kappa, Lam_ell),
        schedule={"a": STEP, "one_minus_beta": h, "q": STEP},
        claimed_exponent=_claimed("mvr2", "gap"), tuned="q", uses_q=True)


def star_mvr3_bound() -> StarBound:
    r"""Frank-Wolfe Gluon-MVR-3 (default form), :math:`q=a`, :math:`\beta` constant:
    :math:`\tilde O(K^{-1/2})` [R].

    Module docstring, M1-M6: as MVR-2, but the correction
    :math:`\beta(\nabla f_{\xi_k}(X^k)-\nabla f_{\xi_k}(X^{k-1}))` cancels the drift and leaves
    the martingale :math:`\sum_j\beta^{k-j+1}D_j`: :math:`4aR_\kappa\Lambda_\ell(1-h)/\sqrt{h(2-h)}=O(a)`
    (zero without A3 noise, :math:`\ell=0`).
    """
    return StarBound(
        method="star-mvr3", title="star-convex, FW-form Gluon-MVR-3 (default form, beta constant)",
        estimator="mvr3",
        numerator=(*_common_q(),
                   ("mvr correction", 4 * a * R_kappa.symbol * Lam_ell.symbol * CORR_Q),
                   ("beta correction", 4 * a * R_kappa.symbol * Lam_ell.symbol * CORR_H),
                   ("smoothness", 2 * a * C_smooth.symbol)),
        aggregates=(S_sigma_D, C_smooth, R_kappa, Lam_ell),
        schedule={"a": STEP, "one_minus_beta": h, "q": STEP},
        claimed_exponent=_claimed("mvr3", "gap"), tuned="q", uses_q=True)


_STAR = {"star-momentum": star_momentum_bound, "star-mvr": star_mvr_bound,
         "star-mvr2": star_mvr2_bound, "star-mvr3": star_mvr3_bound}
STAR_METHODS = tuple(_STAR)
#: the toolkit's estimator (schedule family) of each star-convex bound
STAR_ESTIMATOR = {"star-momentum": "gluon", "star-mvr": "mvr1", "star-mvr2": "mvr2", "star-mvr3": "mvr3"}
#: default constant beta of MVR-2/3 (= methods.schedules.DEFAULT_BETA)
DEFAULT_BETA = sp.Rational(1, 2)


@lru_cache(maxsize=None)
def get_star_bound(method: str) -> StarBound:
    try:
        return _STAR[method]()
    except KeyError:
        raise ValueError(f"no star-convex bound for {method!r}; allowed: {', '.join(_STAR)}") from None


def star_schedule(method: str, K: int, beta=None) -> dict:
    """Numeric ``{"a", "one_minus_beta", "q"}`` of the chosen star-convex schedule for horizon
    ``K >= 2`` (``beta``: the constant beta of MVR-2/3, default 1/2)."""
    if int(K) < 2:
        raise ValueError(f"star-convex schedule needs K >= 2; got {K}")
    b = get_star_bound(method)
    hb = 1 - (DEFAULT_BETA if beta is None else sp.nsimplify(beta))
    return {k: float(sp.sympify(v).subs({S.K: int(K), h: hb})) for k, v in b.schedule.items()}
