r"""One source of the claims: each method family's claimed exponents, its horizon-K schedule as a
function of ``(K, constants)``, and the conditions on that schedule (docs/theory.md §4, §5).

Everything that needs an exponent or a horizon-K schedule reads it from here: the run loop (the
default schedule of a :class:`gluon_mvr.methods.Method`), the cells, the rate check, tuning, the
inexact-LMO study, certification and the symbolic verifier (which checks that these numbers equal
the exponents it derives).  This module imports nothing from the rest of the package.

==========  ===============  ==============  =========================  ======================
claim       ``G_K`` [C]      star gap [C]    horizon-K radius [R]       mixing [R]
==========  ===============  ==============  =========================  ======================
``gluon``   :math:`K^{-1/4}`  :math:`K^{-1/3}`  :math:`t_0 K^{-3/4}`, cap   :math:`1-\beta = cK^{-1/2}`
``mvr1``    :math:`K^{-1/3}`  :math:`K^{-1/2}`  :math:`t_0 K^{-2/3}`, 1/L1  :math:`1-\beta = cK^{-2/3}`
``mvr2``    :math:`K^{-1/3}`  :math:`K^{-1/2}`  :math:`t_0 K^{-2/3}`, cap   :math:`q = cK^{-2/3}`
``mvr3``    :math:`K^{-1/3}`  :math:`K^{-1/2}`  :math:`t_0 K^{-2/3}`, cap   :math:`q = cK^{-2/3}`
==========  ===============  ==============  =========================  ======================

``cap`` is :math:`\min\{1/L_{1,i}, (1-\beta)/(8\beta L_{1,i})\}` (:func:`radius_cap`).  The star-convex
gap claims carry log factors: the bounds of :mod:`gluon_mvr.theory.bounds_star` are
:math:`(\ln K/K)^{1/3}` (momentum) and :math:`(\ln K/K)^{1/2}` (MVR) [R]; :attr:`Claim.gap_log_power`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

# Defaults of the free constants of the horizon-K schedules [chosen here]: t0 = 2 and a constant
# beta = 0.5 for MVR-2/3 keep the finite-K corrections (transient overlap, momentum lag) small on
# the built-in problems, so that the fitted exponents show the asymptotic rate already at
# K ~ 10^3; the exponents themselves do not depend on them (README, "Choosing t0").
DEFAULT_RADIUS_SCALE = 2.0
DEFAULT_MOMENTUM_SCALE = 1.0
DEFAULT_BETA = 0.5

CRITERIA = ("stationarity", "gap")


@dataclass(frozen=True)
class Claim:
    r"""A method family's claimed rates and its horizon-K parameter rule.

    Attributes
    ----------
    name : str
        ``'gluon'`` (momentum), ``'mvr1'``, ``'mvr2'``, ``'mvr3'``.
    stationarity : Fraction
        Exponent :math:`\theta` of :math:`G_K = O(K^{\theta})` [C].
    gap : Fraction
        Exponent of the star-convex gap :math:`E f(X^K) - f^* = \tilde O(K^{\theta})` [C].
    gap_log_power : Fraction
        Power :math:`p` of :math:`\ln K` in the star-convex bound, :math:`(\ln K)^p K^{\theta}` [R].
    radius_exponent, mixing_exponent : Fraction
        Horizon-K choices :math:`t = t_0 K^{-a}` and (``1 - beta`` or ``q``) :math:`= c K^{-b}` [R].
    mixing : str
        Which parameter decays: ``'one_minus_beta'`` (Gluon, MVR-1) or ``'q'`` (MVR-2/3, with a
        constant :math:`\beta`).
    cap : str
        Radius cap rule: ``'L1'`` (:math:`t_i \le 1/L_{1,i}`) or ``'momentum'``
        (:math:`t_i \le \min\{1/L_{1,i}, (1-\beta)/(8\beta L_{1,i})\}`).
    star_mixing_power : Fraction
        Star-convex Frank–Wolfe form: mixing :math:`= c\,a^{p}` with :math:`a = 2\ln K/K` [R].
    """

    name: str
    stationarity: Fraction
    gap: Fraction
    gap_log_power: Fraction
    radius_exponent: Fraction
    mixing_exponent: Fraction
    mixing: str
    cap: str
    star_mixing_power: Fraction
    provenance: str = "rates [C]; schedules and constants [R]"

    def exponent(self, criterion: str = "stationarity") -> float:
        """The claimed exponent for ``criterion`` (``'stationarity'`` or ``'gap'``)."""
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
        return float(self.stationarity if criterion == "stationarity" else self.gap)

    def log_power(self, criterion: str = "stationarity") -> float:
        """Power of :math:`\\ln K` carried by the claim's bound (0 for :math:`G_K`)."""
        return float(self.gap_log_power) if criterion == "gap" else 0.0

    def rate(self, K: float, criterion: str = "stationarity") -> float:
        r"""The claimed rate :math:`K^{\theta}(\ln K)^{p}` at ``K``."""
        return K ** self.exponent(criterion) * math.log(K) ** self.log_power(criterion)


_R = Fraction
CLAIMS = {c.name: c for c in (
    Claim("gluon", _R(-1, 4), _R(-1, 3), _R(1, 3), _R(3, 4), _R(1, 2), "one_minus_beta", "momentum", _R(2, 3)),
    Claim("mvr1", _R(-1, 3), _R(-1, 2), _R(1, 2), _R(2, 3), _R(2, 3), "one_minus_beta", "L1", _R(1)),
    Claim("mvr2", _R(-1, 3), _R(-1, 2), _R(1, 2), _R(2, 3), _R(2, 3), "q", "momentum", _R(1)),
    Claim("mvr3", _R(-1, 3), _R(-1, 2), _R(1, 2), _R(2, 3), _R(2, 3), "q", "momentum", _R(1)),
)}
CLAIM_NAMES = tuple(CLAIMS)


def get_claim(name: str) -> Claim:
    """The claim named ``name``; a clear error naming the allowed ones otherwise."""
    try:
        return CLAIMS[name]
    except KeyError:
        raise ValueError(f"unknown claim {name!r}; allowed: {', '.join(CLAIMS)}") from None


def check_positive(name, value, allow_zero=False):
    """``float(value)``, or a ValueError naming ``name`` unless it is finite and > 0 (>= 0)."""
    v = float(value)
    if math.isnan(v) or math.isinf(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return v


def check_unit(name, value):
    """``float(value)``, or a ValueError naming ``name`` unless it lies in [0, 1]."""
    v = float(value)
    if not (0.0 <= v <= 1.0):
        raise ValueError(f"{name} must lie in [0, 1]; got {value!r}")
    return v




def radius_cap(claim: str, L1_i: float, one_minus_beta: float) -> float:
    r"""Largest radius the horizon-K analysis of ``claim`` allows in a layer with constant ``L1_i`` [R].

    - cap ``'L1'`` (MVR-1): :math:`t_i \le 1/L_{1,i}` (descent step with the (L0,L1) term absorbed).
    - cap ``'momentum'`` (Gluon, MVR-2/3): :math:`t_i \le \min\{1/L_{1,i}, (1-\beta)/(8\beta L_{1,i})\}`
      (the momentum lag's (L0,L1) term absorbed into the descent, and the descent term itself
      when :math:`\beta` is small).

    ``inf`` when ``L1_i = 0``.
    """
    rule = get_claim(claim).cap
    if L1_i <= 0:
        return math.inf
    if rule == "L1":
        return 1.0 / L1_i
    beta = 1.0 - one_minus_beta
    if beta <= 0:
        return 1.0 / L1_i
    return min(1.0 / L1_i, one_minus_beta / (8.0 * beta * L1_i))


def horizon_exponents(claim: str):
    """``(a, b)``: radius :math:`t \\sim K^{-a}`, mixing (``1-beta`` or ``q``) :math:`\\sim K^{-b}` [R]."""
    c = get_claim(claim)
    return float(c.radius_exponent), float(c.mixing_exponent)


def horizon_parameters(claim: str, K: int, L1, radius_scale: float = DEFAULT_RADIUS_SCALE,
                       momentum_scale: float = DEFAULT_MOMENTUM_SCALE, beta: float = DEFAULT_BETA):
    r"""Constant parameters of the horizon-``K`` schedule of ``claim`` [R, docs/theory.md §4].

    - ``gluon``: :math:`1-\beta = c_\beta K^{-1/2}`, :math:`t_i = \min(t_0 K^{-3/4}, \mathrm{cap}_i)`.
    - ``mvr1``: :math:`1-\beta = c_\beta K^{-2/3}`, :math:`t_i = \min(t_0 K^{-2/3}, 1/L_{1,i})`.
    - ``mvr2``, ``mvr3``: :math:`q = c_\beta K^{-2/3}`, :math:`t_i = \min(t_0 K^{-2/3}, \mathrm{cap}_i)`,
      :math:`\beta` constant (``beta``).

    With these choices the transient :math:`\Delta_0/(tK)` and the noise terms balance at
    :math:`K^{-1/4}` (gluon) and :math:`K^{-1/3}` (MVR).

    Returns
    -------
    radii : tuple of float
        One radius per layer.
    one_minus_beta, q : float
    """
    K = int(K)
    if K < 1:
        raise ValueError(f"horizon K must be >= 1; got {K}")
    check_positive("radius_scale", radius_scale)
    check_positive("momentum_scale", momentum_scale)
    a, b = horizon_exponents(claim)
    mix = min(1.0, momentum_scale * K ** (-b))
    if get_claim(claim).mixing == "one_minus_beta":
        omb, q = mix, 1.0
    else:
        omb, q = 1.0 - check_unit("beta", beta), mix
    radii = tuple(min(radius_scale * K ** (-a), radius_cap(claim, float(l1), omb)) for l1 in L1)
    return radii, omb, q


def star_step(K: int) -> float:
    r"""Frank–Wolfe weight :math:`a = \min(1, 2\ln K/K)` of the star-convex horizon schedule [R]."""
    K = int(K)
    if K < 2:
        raise ValueError(f"star-convex horizon K must be >= 2; got {K}")
    return min(1.0, 2.0 * math.log(K) / K)


def star_parameters(claim: str, K: int, momentum_scale: float = DEFAULT_MOMENTUM_SCALE,
                    beta: float = DEFAULT_BETA):
    r"""Star-convex Frank–Wolfe schedule of ``claim`` for horizon ``K`` [R, docs/theory.md §5]:
    :math:`a = 2\ln K/K`; mixing :math:`= c\,a^{p}` with :math:`p = 2/3` (momentum: noise
    :math:`\sqrt{1-\beta}` and drift :math:`a/(1-\beta)` balance) or :math:`p = 1` (MVR).

    Returns ``(a, one_minus_beta, q)``.
    """
    c = get_claim(claim)
    a = star_step(K)
    check_positive("momentum_scale", momentum_scale)
    mix = min(1.0, momentum_scale * a ** float(c.star_mixing_power))
    if c.mixing == "one_minus_beta":
        return a, mix, 1.0
    return a, 1.0 - check_unit("beta", beta), mix
