r"""Noise models for layer-separable families, each with the sigma and ell it guarantees.

A noise model turns the exact gradient into :math:`\nabla f_\xi(X)`; its sample is drawn once
per seed from that seed's own ``numpy.random.Generator`` (via :func:`problems.noise.draw_gaussian`,
which loops over the generators only to draw), so a batch of seeds reproduces single runs bit
for bit.  Every model is unbiased, :math:`E\nabla f_\xi(X) = \nabla f(X)`.

Declared constants (derived here; Frobenius norm, per layer :math:`i`):

- ``additive``: :math:`\nabla f_\xi = \nabla f + Z`, Gaussian :math:`Z_i` with
  :math:`E\|Z_i\|_F^2 = \sigma_i^2`.  The same sample at two points cancels:
  :math:`\ell_i = 0`.
- ``heavy``: as ``additive`` with Student-t entries of ``df > 2`` degrees of freedom rescaled
  to unit variance, so again :math:`E\|Z_i\|_F^2 = \sigma_i^2` (finite) and :math:`\ell_i = 0`;
  moments of order ``>= df`` are infinite.
- ``curvature``: :math:`f_\xi(X) = f(X) + \langle Z, X\rangle + \tfrac12\sum_i\langle W_i\odot
  (X_i - C_i), X_i - C_i\rangle`, a random diagonal per-sample Hessian :math:`\mathrm{diag}(W_i)`
  with i.i.d. :math:`N(0, s_i^2)` entries (mean zero, so unbiased).  Then
  :math:`\nabla f_\xi - \nabla f = Z + W\odot(X - C)` and, by independence,
  :math:`E\|\cdot\|_F^2 = \sigma_i^2 + s_i^2\|X_i - C_i\|_F^2 \le \sigma_i^2 + s_i^2 R_i^2`
  on the region :math:`\|X_i - C_i\|_F\le R_i` (outside it the variance grows: the region is
  part of the declaration).  The same-sample difference is
  :math:`D_i = W_i\odot(X_i - Y_i)` with :math:`E\|D_i\|_F^2 = s_i^2\|X_i-Y_i\|_F^2`: the
  Frobenius A3 constant is :math:`s_i` (the family converts it to its layer norm).
- ``none``: :math:`\nabla f_\xi = \nabla f` (used by ``without_noise``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy

from gluon_mvr.problems.noise import draw_gaussian

SEPARABLE_NOISES = ("additive", "heavy", "curvature")


@dataclass(frozen=True)
class NoiseModel:
    """Base: ``draw`` a sample, ``apply`` it to an exact gradient; declared Frobenius constants.

    Attributes
    ----------
    sigma : tuple of float
        Per-layer :math:`\\sigma_i` with :math:`E\\|\\nabla_i f_\\xi-\\nabla_i f\\|_F^2\\le\\sigma_i^2`.
    ell_frobenius : tuple of float
        Per-layer :math:`s_i` with :math:`E\\|D_i\\|_F^2 \\le s_i^2\\|X_i - Y_i\\|_F^2`.
    """

    name = "none"

    def draw(self, rngs, layout, xp=numpy, dtype="float64"):
        return ()

    def apply(self, grads, X, sample, center):
        return list(grads)

    def declared_sigma(self, p):
        return (0.0,) * p

    def declared_ell_frobenius(self, p):
        return (0.0,) * p

    @property
    def region_note(self) -> str:
        return ""


@dataclass(frozen=True)
class AdditiveNoise(NoiseModel):
    """Gaussian additive noise with :math:`E\\|Z_i\\|_F^2 = \\sigma_i^2` (``df=None``), or
    unit-variance-rescaled Student-t entries (``df > 2``)."""

    sigma: tuple = ()
    df: float | None = None

    @property
    def name(self):
        return "additive" if self.df is None else "heavy"

    def __post_init__(self):
        if self.df is not None and not self.df > 2:
            raise ValueError(f"noise 'heavy' param 'df': must be > 2 (finite variance); got {self.df}")

    def draw(self, rngs, layout, xp=numpy, dtype="float64"):
        return draw_gaussian(rngs, layout, self.sigma, xp, dtype, df=self.df)

    def apply(self, grads, X, sample, center):
        return [g + z for g, z in zip(grads, sample)]

    def declared_sigma(self, p):
        return tuple(float(s) for s in self.sigma)


@dataclass(frozen=True)
class CurvatureNoise(NoiseModel):
    """Additive Gaussian plus a random diagonal per-sample Hessian (see module docstring).

    ``hess`` are the per-layer :math:`s_i`, ``region`` the Frobenius radii :math:`R_i` around
    the problem's centre on which the declared sigma holds.
    """

    sigma: tuple = ()
    hess: tuple = ()
    region: tuple = ()
    name = "curvature"

    def draw(self, rngs, layout, xp=numpy, dtype="float64"):
        Z = draw_gaussian(rngs, layout, self.sigma, xp, dtype)
        # draw_gaussian normalises by sqrt(m n); scaling by s sqrt(m n) gives N(0, s^2) entries
        scales = [s * math.sqrt(m * n) for s, (m, n) in zip(self.hess, layout.shapes)]
        W = draw_gaussian(rngs, layout, scales, xp, dtype)
        return (Z, W)

    def apply(self, grads, X, sample, center):
        Z, W = sample
        return [g + z + w * (x - c) for g, z, w, x, c in zip(grads, Z, W, X, center)]

    def declared_sigma(self, p):
        return tuple(math.sqrt(s * s + h * h * r * r) for s, h, r in zip(self.sigma, self.hess, self.region))

    def declared_ell_frobenius(self, p):
        return tuple(float(h) for h in self.hess)

    @property
    def region_note(self) -> str:
        radii = ", ".join(f"{r:.4g}" for r in self.region)
        return f"sigma holds for ||X_i - C_i||_F <= R_i = ({radii})"


def make_noise(kind: str, p: int, sigma, df=None, hess=None, region=None) -> NoiseModel:
    """Noise model ``kind`` for ``p`` layers (per-layer tuples for ``sigma``, ``hess``, ``region``)."""
    if kind == "none":
        return NoiseModel()
    if kind == "additive":
        return AdditiveNoise(sigma=tuple(sigma))
    if kind == "heavy":
        return AdditiveNoise(sigma=tuple(sigma), df=float(df))
    if kind == "curvature":
        return CurvatureNoise(sigma=tuple(sigma), hess=tuple(hess), region=tuple(region))
    raise ValueError(f"param 'noise': allowed values {', '.join(SEPARABLE_NOISES)}; got {kind!r}")
