r"""Comparing a measured quantity with a bound, up to floating-point rounding.

A measured :math:`G_K` (or gap) is a floating-point sum, and the bound is evaluated in floating
point too; when the bound is tight (e.g. a noiseless quadratic where every inequality of the
derivation is an equality) the two can differ by one unit in the last place with the bound
perfectly valid.  :func:`compare` accepts ``measured <= bound * (1 + rtol)`` with

.. math:: \mathrm{rtol} = C_{\rm eval}\,u_{64} + \lambda\,u\,\sqrt{n},

- :math:`u=\epsilon/2` the unit roundoff of the dtype the measurement was computed in
  (``numpy.finfo(dtype).eps / 2``: :math:`1.1\cdot10^{-16}` for float64, :math:`6\cdot10^{-8}`
  for float32), :math:`u_{64}` that of float64, in which the bounds are evaluated;
- :math:`n` = ``n_terms``, the number of floating-point terms summed into the measurement
  (iterations x seeds x layers, times the entries of a norm when it is computed in that dtype);
  a sum of :math:`n` terms of one sign has relative error at most :math:`(n-1)u` in the worst
  case and, in the probabilistic model of rounding errors (Higham & Mary, *A new approach to
  probabilistic rounding error analysis*, SIAM J. Sci. Comput. 41, 2019), at most
  :math:`\lambda\sqrt n\,u` except with probability :math:`\le2\exp(-\lambda^2/2)`-type tails;
  :math:`\lambda` = :data:`LAMBDA` = 8 makes that probability negligible (:math:`<10^{-13}`)
  while the tolerance stays far below any modelling error: for float64 and
  :math:`n=10^6`, :math:`\mathrm{rtol}\approx1.6\cdot10^{-12}`;
- :math:`C_{\rm eval}` = :data:`C_EVAL` = 64: the bound's own evaluation (a few dozen
  operations, square roots and powers, each with relative error :math:`\le u_{64}`).

The tolerance only absorbs rounding: a bound exceeded by more than this relative amount is
``"violated"``, however small the excess looks.  ``margin = 1 - measured / bound`` is reported
either way (negative when the measurement exceeds the bound, also within the tolerance).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy

#: probabilistic rounding-error multiplier (module docstring)
LAMBDA = 8.0
#: rounding of the bound's own float64 evaluation, in units of float64 roundoff
C_EVAL = 64.0
STATUSES = ("holds", "violated")


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`.

    ``status`` is ``"holds"`` or ``"violated"``; ``margin = 1 - measured/bound`` (``-inf`` for a
    positive measurement against a zero bound, 1 for an infinite bound); ``rtol`` the tolerance
    used; ``within_rounding`` is true when the measurement exceeds the bound but by no more than
    ``rtol`` (the bound then holds up to rounding).
    """

    status: str
    margin: float
    rtol: float
    measured: float
    bound: float
    within_rounding: bool = False

    @property
    def holds(self) -> bool:
        return self.status == "holds"

    def as_dict(self) -> dict:
        return {"status": self.status, "margin": self.margin, "rtol": self.rtol, "measured": self.measured,
                "bound": self.bound, "within_rounding": self.within_rounding}

    def describe(self) -> str:
        """One line for reports, e.g. ``holds (margin 12.3%)`` or ``VIOLATED (margin -4.1%)``."""
        if self.status == "violated":
            return f"VIOLATED: measured {self.measured:.6g} > bound {self.bound:.6g} (margin {self.margin:.3g})"
        extra = f", within rounding tolerance {self.rtol:.2g}" if self.within_rounding else ""
        return f"holds (margin {self.margin:.3g}{extra})"


def rounding_rtol(dtype="float64", n_terms: int = 1) -> float:
    """The relative tolerance of the module docstring for a measurement in ``dtype`` summing
    ``n_terms`` terms."""
    try:
        u = float(numpy.finfo(numpy.dtype(dtype)).eps) / 2
    except (TypeError, ValueError):
        raise ValueError(f"dtype: not a floating dtype: {dtype!r}; allowed: float64, float32, float16") from None
    n = int(n_terms)
    if n < 1:
        raise ValueError(f"n_terms: must be an integer >= 1; got {n_terms!r}")
    u64 = float(numpy.finfo(numpy.float64).eps) / 2
    return C_EVAL * u64 + LAMBDA * u * math.sqrt(n)


def measurement_terms(K: int, seeds: int = 1, n_layers: int = 1) -> int:
    r"""``n_terms`` of a layer-weighted stationarity :math:`G_K` averaged over seeds: one dual
    norm per layer, iteration and seed, :math:`K\cdot\text{seeds}\cdot p` (a star-convex gap
    :math:`f(X^K)-f^*` averaged over seeds: ``measurement_terms(1, seeds)``)."""
    n = int(K) * int(seeds) * int(n_layers)
    if n < 1:
        raise ValueError(f"K, seeds, n_layers: must be integers >= 1; got {K!r}, {seeds!r}, {n_layers!r}")
    return n


def compare(measured, bound, dtype="float64", n_terms: int = 1) -> Comparison:
    """Does ``measured <= bound`` hold, up to the rounding of ``dtype`` over ``n_terms`` terms?

    Parameters
    ----------
    measured, bound : float
        Nonnegative quantities (a measured :math:`G_K` or gap and its bound, any units).
    dtype : str or numpy dtype
        The precision the measurement was computed in (the bound is evaluated in float64).
    n_terms : int
        Number of terms summed into the measurement (see the module docstring).

    Returns
    -------
    Comparison
        ``"holds"`` when ``measured <= bound + rtol * |bound|``; ``"violated"`` otherwise, and
        always for a NaN measurement or bound.
    """
    rtol = rounding_rtol(dtype, n_terms)
    m, b = float(measured), float(bound)
    if math.isnan(m) or math.isnan(b):
        return Comparison("violated", math.nan, rtol, m, b)
    if math.isinf(b) and b > 0:
        return Comparison("holds", 1.0, rtol, m, b)
    if b > 0:
        margin = 1.0 - m / b
    else:
        margin = 0.0 if m == b else -math.inf
    ok = m <= b + rtol * abs(b)
    return Comparison("holds" if ok else "violated", margin, rtol, m, b, within_rounding=bool(ok and m > b))
