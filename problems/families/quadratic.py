r"""``quadratic``: layered isotropic quadratics with closed-form constants in any layer norm.

.. math::  f(X) = \sum_i \frac{h_i}{2}\,\|X_i - A_i\|_F^2,\qquad f^* = 0,\quad X^* = A.

Constants (derived here, exact suprema up to the norm-equivalence step): the gradient is
:math:`h_i (X_i - A_i)`, so for the layer norm with :math:`\|Z\|_*\le\rho_i\|Z\|_F` and
:math:`\|Z\|_F\le\rho_i\|Z\|` (docs/theory.md §1),

.. math::  \|\nabla_i f(X)-\nabla_i f(Y)\|_* = h_i\|X_i-Y_i\|_* \le h_i\rho_i^2\|X_i-Y_i\|,

hence :math:`L_{0,i} = h_i\rho_i^2`, :math:`L_{1,i}=0` (for the spectral norm
:math:`\rho_i^2=\min(m_i,n_i)`, attained by an orthogonal :math:`X_i-Y_i`).  Noise ``additive``:
:math:`\sigma_i` = ``sigma`` in the Frobenius norm and :math:`\ell_i = 0`.
The initial point is :math:`X^0_i = A_i + r\,U_i` with :math:`\|U_i\|_F = 1` drawn from the
problem's own ``seed``, so :math:`\Delta_0 = \sum_i h_i r^2/2`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy

from gluon_mvr.methods.backend import array_namespace
from gluon_mvr.methods.layout import Layout
from gluon_mvr.methods.norms import NORM_NAMES, get_norm

from gluon_mvr.problems.base import Constants, Problem
from gluon_mvr.problems.noise import draw_gaussian
from gluon_mvr.problems.registry import Param, register_family


def shapes_from(layers: int, dim: int, shapes: str):
    """Layer shapes from ``shapes`` ('8x8,16x8') or ``layers`` copies of ``dim x dim``."""
    if shapes:
        out = []
        for tok in shapes.split(","):
            try:
                m, n = (int(v) for v in tok.lower().split("x"))
            except ValueError:
                raise ValueError(f"param 'shapes': expected MxN[,MxN...]; got {shapes!r}") from None
            out.append((m, n))
        return tuple(out)
    return ((dim, dim),) * layers


@dataclass
class QuadraticProblem(Problem):
    """See the module docstring."""

    shapes: tuple = ((8, 8),) * 4
    curvature: float = 1.0
    sigma: float = 1.0
    distance: float = 1.0
    norm: str = "spectral"
    seed: int = 0
    name: str = field(init=False, default="quadratic")

    def __post_init__(self):
        self.layout = Layout(self.shapes)
        rng = numpy.random.default_rng(self.seed)
        p = self.layout.n_layers
        self._A = [rng.standard_normal(s) / numpy.sqrt(s[0] * s[1]) for s in self.layout.shapes]
        dirs = [rng.standard_normal(s) for s in self.layout.shapes]
        self._X0 = [a + self.distance * d / numpy.linalg.norm(d) for a, d in zip(self._A, dirs)]
        geom = get_norm(self.norm)
        rho = [geom.rho(s) for s in self.layout.shapes]
        self.constants = Constants(norms=(self.norm,) * p, L0=[self.curvature * r * r for r in rho],
                                   L1=0.0, ell=0.0, sigma=self.sigma, rho=rho,
                                   source="closed form (quadratic)")
        self.f_star = 0.0
        self._h = self.layout.split([self.curvature] * p)
        self._A_cache = {}

    def _stacked(self, layers, xp, dtype):
        return [xp.asarray(g, dtype=dtype) for g in self.layout.from_layers([l[None] for l in layers])]

    def initial_point(self, S, xp=numpy, dtype="float64"):
        return [xp.repeat(g, S, axis=0) for g in self._stacked(self._X0, xp, dtype)]

    def minimiser(self, S=1, xp=numpy, dtype="float64"):
        """:math:`X^* = A`."""
        return [xp.repeat(g, S, axis=0) for g in self._stacked(self._A, xp, dtype)]

    def _offsets(self, X):
        xp = array_namespace(X[0])
        key = (xp.__name__, X[0].dtype)
        A = self._A_cache.get(key)
        if A is None:      # stacked once per backend and dtype, not on every oracle call
            A = self._A_cache[key] = self._stacked(self._A, xp, X[0].dtype)
        return [x - a for x, a in zip(X, A)], xp

    def value(self, X):
        D, xp = self._offsets(X)
        return sum(xp.sum(0.5 * xp.asarray(h, dtype=d.dtype)[None, :, None, None] * d * d,
                          axis=(1, 2, 3)) for h, d in zip(self._h, D))

    def grad(self, X):
        D, xp = self._offsets(X)
        return [xp.asarray(h, dtype=d.dtype)[None, :, None, None] * d for h, d in zip(self._h, D)]

    def sample(self, rngs, xp=numpy, dtype="float64"):
        return draw_gaussian(rngs, self.layout, self.constants.sigma, xp, dtype)

    def stochastic_grad(self, X, sample):
        return [g + z for g, z in zip(self.grad(X), sample)]

    def without_noise(self):
        return type(self)(shapes=self.shapes, curvature=self.curvature, sigma=0.0,
                          distance=self.distance, norm=self.norm, seed=self.seed)


@register_family("quadratic", summary="layered quadratics, closed-form constants, L1 = 0", params={
    "layers": Param(int, 4, "number of layers", low=1),
    "dim": Param(int, 8, "matrix side (layers are dim x dim)", low=1),
    "shapes": Param(str, "", "explicit shapes MxN,MxN,... (overrides layers/dim)"),
    "curvature": Param(float, 1.0, "h_i, Frobenius curvature of each layer", positive=True),
    "sigma": Param(float, 1.0, "noise level, E||Z_i||_F^2 = sigma^2", low=0.0),
    "distance": Param(float, 1.0, "||X0_i - X*_i||_F", low=0.0),
    "norm": Param(str, "spectral", "layer norm the constants are stated in", choices=NORM_NAMES),
    "seed": Param(int, 0, "seed of the problem's own data (minimiser, start)", low=0),
})
def build_quadratic(layers, dim, shapes, curvature, sigma, distance, norm, seed):
    return QuadraticProblem(shapes=shapes_from(layers, dim, shapes), curvature=curvature,
                            sigma=sigma, distance=distance, norm=norm, seed=seed)
