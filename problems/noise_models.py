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


def skew_two_point(prob: float):
    r"""The standardised two-point variable of :class:`SkewedNoise` [R, defined here].

    :math:`\tilde\xi = (b - p)/\sqrt{p(1-p)}` with :math:`b\sim\mathrm{Bernoulli}(p)`: values
    :math:`\xi_+ = \sqrt{(1-p)/p}` (probability :math:`p`) and :math:`\xi_- = -\sqrt{p/(1-p)}`;
    :math:`E\tilde\xi = 0`, :math:`E\tilde\xi^2 = 1`, skewness
    :math:`E\tilde\xi^3 = (1-2p)/\sqrt{p(1-p)}`.  Returns ``(xi_plus, xi_minus, skewness)``.
    """
    p = float(prob)
    if not 0.0 < p < 1.0:
        raise ValueError(f"noise 'skewed' param 'skew_prob': must lie in (0, 1); got {prob!r}")
    return math.sqrt((1 - p) / p), -math.sqrt(p / (1 - p)), (1 - 2 * p) / math.sqrt(p * (1 - p))


@dataclass(frozen=True, eq=False)
class SkewedNoise(NoiseModel):
    r"""Zero-mean, skewed additive noise the LMO cannot average away [R, defined here].

    .. math::  \nabla_i f_\xi(X) = \nabla_i f(X) + \sigma_i\bigl(\sqrt{1-w}\,G_i
               + \sqrt{w}\,\tilde\xi_i\,B_i\bigr),

    with :math:`G_i` Gaussian, :math:`E\|G_i\|_F^2 = 1` (entries :math:`N(0, 1/(m_i n_i))`),
    :math:`\tilde\xi_i` the standardised two-point variable of :func:`skew_two_point`
    (independent per layer and per sample), :math:`w\in[0,1]` the skewed share and :math:`B_i` a
    fixed direction with :math:`\|B_i\|_F = 1` (``directions``).

    Declared constants (derived here, exact).  Unbiased: :math:`E G_i = 0`,
    :math:`E\tilde\xi_i = 0`.  Variance, by independence and :math:`\|B_i\|_F = 1`:
    :math:`E\|Z_i\|_F^2 = \sigma_i^2((1-w) + w) = \sigma_i^2` (Frobenius, exact).  The same sample
    at two points cancels (additive), so A3 holds with :math:`\ell_i = 0`.  Third moment: the
    projection :math:`\zeta_i = \langle Z_i, B_i\rangle = \sigma_i(\sqrt{1-w}\,\langle G_i,B_i\rangle
    + \sqrt{w}\,\tilde\xi_i)` has :math:`E\zeta_i = 0`,
    :math:`E\zeta_i^2 = \sigma_i^2((1-w)/(m_i n_i) + w)` and
    :math:`E\zeta_i^3 = \sigma_i^3 w^{3/2}\gamma` (the Gaussian part is symmetric), with
    :math:`\gamma = (1-2p)/\sqrt{p(1-p)}`; :meth:`projection_moments` returns them.

    Why the LMO cannot average it (derived here, any norm; :math:`w = 1`): every LMO is
    positively homogeneous, :math:`\mathrm{lmo}(aB) = \mathrm{sign}(a)\,\mathrm{lmo}(B)`
    for :math:`a\ne0` (for the norms here, :math:`\mathrm{lmo}(-B) = -\mathrm{lmo}(B)`), so at a
    stationary point (:math:`\nabla f = 0`)

    .. math::  E\,\mathrm{lmo}(\nabla f + Z) = p\,\mathrm{lmo}(B) + (1-p)\,\mathrm{lmo}(-B)
               = (2p - 1)\,\mathrm{lmo}(B) \ne 0 \quad (p \ne 1/2):

    a no-momentum method (``beta = 0``) is pushed off every stationary point by a mean step of
    length :math:`|1-2p|\,t`, whereas for symmetric noise the mean step vanishes there
    (docs/theory.md §8).  Along :math:`B` it settles where the gradient's component balances
    the frequent small kick :math:`\sigma\sqrt{w}\,|\xi_-|`, a floor that does not shrink with
    ``t``.  Momentum and MVR average :math:`1/(1-\beta)` samples before the LMO: the average's
    skewness falls like :math:`\gamma\sqrt{1-\beta}` and its size like
    :math:`\sigma\sqrt{1-\beta}`, so their bias vanishes as :math:`\beta\to1`.
    """

    sigma: tuple = ()
    prob: float = 0.1
    weight: float = 1.0
    directions: tuple = ()
    name = "skewed"

    def __post_init__(self):
        skew_two_point(self.prob)
        if not 0.0 <= float(self.weight) <= 1.0:
            raise ValueError(f"noise 'skewed' param 'skew_weight': must lie in [0, 1]; got {self.weight!r}")
        for i, b in enumerate(self.directions):
            nb = float(numpy.linalg.norm(b))
            if abs(nb - 1.0) > 1e-12:
                raise ValueError(f"noise 'skewed': direction {i} must have unit Frobenius norm; got {nb}")

    def _stacked_directions(self, layout, xp, dtype):
        # one (1, G, m, n) array per group, made per backend/dtype on first use
        cache = self.__dict__.setdefault("_cache", {})
        key = (xp.__name__, str(dtype))
        if key not in cache:
            cache[key] = [xp.asarray(numpy.stack([self.directions[i] for i in ls])[None], dtype=dtype)
                          for ls in layout.group_layers]
        return cache[key]

    def draw(self, rngs, layout, xp=numpy, dtype="float64"):
        """``(gaussian groups or None, xi (S, p) host array, layout)``; every seed draws from its
        own generator (the Gaussian block first, then one uniform per layer)."""
        w = float(self.weight)
        Z = draw_gaussian(rngs, layout, [s * math.sqrt(1 - w) for s in self.sigma], xp, dtype) if w < 1 else None
        xi_plus, xi_minus, _ = skew_two_point(self.prob)
        u = numpy.stack([rng.random(layout.n_layers) for rng in rngs])
        xi = numpy.where(u < self.prob, xi_plus, xi_minus) * (numpy.asarray(self.sigma) * math.sqrt(w))[None]
        return (Z, xi, layout)

    def apply(self, grads, X, sample, center):
        Z, xi, layout = sample
        from gluon_mvr.methods.backend import array_namespace
        xp = array_namespace(grads[0])
        B = self._stacked_directions(layout, xp, grads[0].dtype)
        out = []
        for g, (ls, b) in enumerate(zip(layout.group_layers, B)):
            coef = xp.asarray(xi[:, list(ls)], dtype=grads[g].dtype)[:, :, None, None]
            out.append(grads[g] + coef * b + (Z[g] if Z is not None else 0.0))
        return out

    def declared_sigma(self, p):
        return tuple(float(s) for s in self.sigma)

    def projection_moments(self, i: int, shape) -> tuple:
        r"""Exact :math:`(E\zeta_i, E\zeta_i^2, E\zeta_i^3)` of :math:`\zeta_i = \langle Z_i, B_i\rangle`."""
        s, w = float(self.sigma[i]), float(self.weight)
        _, _, gamma = skew_two_point(self.prob)
        m, n = shape
        return 0.0, s * s * ((1 - w) / (m * n) + w), s ** 3 * w ** 1.5 * gamma
