r"""``skewed-quadratic``: a layered quadratic under zero-mean skewed noise (a hard instance).

.. math::  f(X) = \sum_i \frac{h_i}{2}\|X_i - C_i\|_F^2,\qquad f^* = 0,\quad X^* = C,

with the oracle of :class:`problems.noise_models.SkewedNoise`:
:math:`\nabla_i f_\xi = \nabla_i f + \sigma(\sqrt{1-w}\,G_i + \sqrt{w}\,\tilde\xi_i B_i)`,
:math:`\tilde\xi_i` a standardised two-point variable (:math:`P(\tilde\xi = \xi_+) = p`),
:math:`B_i` a fixed unit-Frobenius direction drawn from the problem's ``seed``
(``direction='orthogonal'``: :math:`B_i = Q_i/\sqrt{r_i}`, :math:`Q_i` with orthonormal rows or
columns, :math:`r_i = \min(m_i, n_i)`, so every singular value of :math:`B_i` is
:math:`1/\sqrt{r_i}`; ``'gaussian'``: a normalised Gaussian matrix).

Why it is hard (docs/theory.md §8).  Under symmetric noise :math:`E[\mathrm{lmo}(g+N)]` is a
shrunk :math:`\mathrm{lmo}(g)` and a no-momentum LMO method behaves like SGD, reaching the
:math:`K^{-1/3}` of MVR on MVR's schedule.  Under this noise
:math:`E[\mathrm{lmo}(\nabla f + Z)] = (2p-1)\,\mathrm{lmo}(B)\ne0` at the minimiser
(:class:`~problems.noise_models.SkewedNoise`), so ``beta = 0`` (and ``mvr1-prev``, whose
direction is exactly the current stochastic gradient: :math:`M^k = g^k + \beta(M^{k-1} -
g^{k-1})` with :math:`M^0 = g^0` gives :math:`M^k = g^k` for every :math:`k`) settles at a
gradient floor that does not shrink with the radius; only averaging over many samples
(momentum, MVR) removes the bias.

Constants (derived here, global: all pairs).  :math:`\nabla_i f = h_i(X_i - C_i)`, so
:math:`\|\nabla_i f(X) - \nabla_i f(Y)\|_F = h_i\|X_i - Y_i\|_F` and, in the layer norm
(:mod:`problems.families._common`), :math:`L_{0,i} = \rho_i^2 h_i`, :math:`L_{1,i} = 0`;
:math:`\sigma_i` = ``sigma`` (Frobenius, exact); :math:`\ell_i = 0` (additive noise).
``noise='additive'`` gives the same problem under symmetric Gaussian noise of the same
:math:`\sigma` (the control instance), ``'none'`` the noiseless one.
"""
from __future__ import annotations

import numpy

from gluon_mvr.methods.norms import NORM_NAMES

from gluon_mvr.problems.noise_models import SkewedNoise, skew_two_point
from gluon_mvr.problems.registry import Param, register_family
from gluon_mvr.problems.families._common import SeparableProblem, per_layer_values
from gluon_mvr.problems.families.quadratic import shapes_from

SKEWED_NOISES = ("skewed", "additive", "none")
DIRECTIONS = ("orthogonal", "gaussian")


def skew_directions(rng, shapes, kind: str):
    """Unit-Frobenius directions :math:`B_i`, one per layer, drawn from ``rng``."""
    out = []
    for m, n in shapes:
        A = rng.standard_normal((m, n))
        if kind == "orthogonal":
            U, _, Vt = numpy.linalg.svd(A, full_matrices=False)
            A = U @ Vt
        out.append(A / numpy.linalg.norm(A))
    return tuple(out)


class SkewedQuadraticProblem(SeparableProblem):
    """See the module docstring."""

    name = "skewed-quadratic"

    def __init__(self, shapes=((8, 8),) * 4, curvature=1.0, distance=1.0, sigma=1.0, noise="skewed",
                 skew_prob=0.1, skew_weight=1.0, direction="orthogonal", norm="spectral", seed=0,
                 hess_noise=0.0):
        kwargs = dict(shapes=shapes, curvature=curvature, distance=distance, sigma=sigma, noise=noise,
                      skew_prob=skew_prob, skew_weight=skew_weight, direction=direction, norm=norm,
                      seed=seed)
        if noise not in SKEWED_NOISES:
            raise ValueError(f"problem 'skewed-quadratic' param 'noise': allowed values "
                             f"{', '.join(SKEWED_NOISES)}; got {noise!r}")
        if direction not in DIRECTIONS:
            raise ValueError(f"problem 'skewed-quadratic' param 'direction': allowed values "
                             f"{', '.join(DIRECTIONS)}; got {direction!r}")
        skew_two_point(skew_prob)
        p = len(shapes)
        self.h = per_layer_values("skewed-quadratic", "curvature", curvature, p, strict=True)
        base = "additive" if noise == "skewed" else noise
        self._setup(shapes, norm, seed, base, sigma, 4.0, 0.0, 2.0, [float(distance)] * p, kwargs)
        self.directions = skew_directions(self.rng_data, self.layout.shapes, direction)
        if noise == "skewed":
            self.noise_model = SkewedNoise(sigma=(float(sigma),) * p, prob=float(skew_prob),
                                           weight=float(skew_weight), directions=self.directions)
        self._declare(list(self.h), [0.0] * p, region="global (all pairs)",
                      source="closed form (quadratic; skewed additive noise), derived in "
                             "problems.families.skewed")
        self.f_star = 0.0

    def _phi(self, D, xp):
        dtype = D[0].dtype
        return sum(xp.sum(0.5 * h * d * d, axis=(1, 2, 3)) for d, h in zip(D, self.coef(self.h, xp, dtype)))

    def _phi_grad(self, D, xp):
        dtype = D[0].dtype
        return [h * d for d, h in zip(D, self.coef(self.h, xp, dtype))]

    def without_noise(self):
        return type(self)(**{**self._kwargs, "noise": "none", "sigma": 0.0})


@register_family("skewed-quadratic",
                 summary="layered quadratic under zero-mean skewed noise: beta = 0 stalls (hard instance)",
                 params={
    "layers": Param(int, 4, "number of layers", low=1),
    "dim": Param(int, 8, "matrix side (layers are dim x dim)", low=1),
    "shapes": Param(str, "", "explicit shapes MxN,MxN,... (overrides layers/dim)"),
    "curvature": Param(str, "1.0", "h_i > 0 (one value or one per layer)"),
    "distance": Param(float, 1.0, "||X0_i - X*_i||_F", positive=True),
    "sigma": Param(float, 1.0, "noise level, E||Z_i||_F^2 = sigma^2", low=0.0),
    "noise": Param(str, "skewed", "skewed, or the symmetric control additive, or none", choices=SKEWED_NOISES),
    "skew_prob": Param(float, 0.1, "p: probability of the rare large kick (skewness (1-2p)/sqrt(p(1-p)))",
                       low=1e-6, high=1 - 1e-6),
    "skew_weight": Param(float, 1.0, "w: share of the variance carried by the skewed part", low=0.0, high=1.0),
    "direction": Param(str, "orthogonal", "the skewed kick's direction B_i", choices=DIRECTIONS),
    "norm": Param(str, "spectral", "layer norm the constants are stated in", choices=NORM_NAMES),
    "seed": Param(int, 0, "seed of the problem's own data (minimiser, start, directions)", low=0),
})
def build_skewed_quadratic(layers, dim, shapes, curvature, distance, sigma, noise, skew_prob, skew_weight,
                           direction, norm, seed):
    return SkewedQuadraticProblem(shapes=shapes_from(layers, dim, shapes), curvature=curvature,
                                  distance=distance, sigma=sigma, noise=noise, skew_prob=skew_prob,
                                  skew_weight=skew_weight, direction=direction, norm=norm, seed=seed)
