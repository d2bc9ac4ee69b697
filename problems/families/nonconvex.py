r"""``nonconvex``: separable quadratic plus a bounded cosine ripple, known stationary points.

.. math::  f(X) = \sum_i \Bigl[\frac{h_i}{2}\|D_i\|_F^2 + a_i\sum_{jl}\bigl(1-\cos(\omega_i D_{i,jl})\bigr)\Bigr],
           \qquad D_i = X_i - C_i,\qquad f^* = 0,\ X^* = C .

Both terms are :math:`\ge 0` and vanish only at :math:`D = 0`, so :math:`f^* = 0`.
The gradient is entrywise, :math:`\nabla_i f = h_i D_i + a_i\omega_i\sin(\omega_i D_i)`.

Stationary points (derived here): exactly the :math:`X = C + U` whose every entry :math:`u` of
:math:`U_i` solves the scalar equation :math:`h_i u + a_i\omega_i\sin(\omega_i u) = 0`; all
roots lie in :math:`|u|\le a_i\omega_i/h_i` and are found by bracketing
(:meth:`NonconvexProblem.scalar_stationary_points`).  A root is a local minimum in its
coordinate when :math:`h_i + a_i\omega_i^2\cos(\omega_i u) > 0`.  The problem is non-convex
iff :math:`a_i\omega_i^2 > h_i` (then :math:`u=0` is not the only root for
:math:`a_i\omega_i^2` large enough, and the Hessian has negative entries somewhere).

Constants (derived here, global: all pairs): the Hessian is diagonal with entries
:math:`h_i + a_i\omega_i^2\cos(\omega_i D_{jl})\in[h_i - a_i\omega_i^2, h_i + a_i\omega_i^2]`,
so the gradient is Frobenius-Lipschitz with :math:`h_i + a_i\omega_i^2` (attained near
:math:`D=0`), and in the layer norm (:mod:`problems.families._common`)

.. math::  L_{0,i} = \rho_i^2\,(h_i + a_i\omega_i^2),\qquad L_{1,i} = 0 .

The start is :math:`X^0_i = C_i + r\,U_i`, :math:`\|U_i\|_F = 1`, :math:`r` = ``distance``.
"""
from __future__ import annotations

import numpy
from scipy.optimize import brentq

from gluon_mvr.problems.registry import Param, register_family
from gluon_mvr.problems.families._common import SeparableProblem, common_params, per_layer_values
from gluon_mvr.problems.families.quadratic import shapes_from


class NonconvexProblem(SeparableProblem):
    """See the module docstring."""

    name = "nonconvex"

    def __init__(self, shapes=((8, 8),) * 4, curvature=1.0, ripple=0.5, frequency=4.0, distance=3.0,
                 sigma=1.0, noise="additive", df=4.0, hess_noise=0.5, region=2.0, norm="spectral", seed=0):
        kwargs = dict(shapes=shapes, curvature=curvature, ripple=ripple, frequency=frequency,
                      distance=distance, sigma=sigma, noise=noise, df=df, hess_noise=hess_noise,
                      region=region, norm=norm, seed=seed)
        p = len(shapes)
        self.h = per_layer_values("nonconvex", "curvature", curvature, p, strict=True)
        self.a = per_layer_values("nonconvex", "ripple", ripple, p)
        self.w = per_layer_values("nonconvex", "frequency", frequency, p, strict=True)
        self._setup(shapes, norm, seed, noise, sigma, df, hess_noise, region, [float(distance)] * p, kwargs)
        self.aw = tuple(a * w for a, w in zip(self.a, self.w))
        L = [h + a * w * w for h, a, w in zip(self.h, self.a, self.w)]
        self._declare(L, [0.0] * p, region="global (all pairs)",
                      source="closed form (quadratic + cosine ripple), derived in problems.families.nonconvex")
        self.f_star = 0.0

    def _phi(self, D, xp):
        dtype = D[0].dtype
        total = 0.0
        for d, h, a, w in zip(D, self.coef(self.h, xp, dtype), self.coef(self.a, xp, dtype),
                              self.coef(self.w, xp, dtype)):
            total = total + xp.sum(0.5 * h * d * d + a * (1.0 - xp.cos(w * d)), axis=(1, 2, 3))
        return total

    def _phi_grad(self, D, xp):
        dtype = D[0].dtype
        return [h * d + aw * xp.sin(w * d) for d, h, aw, w in
                zip(D, self.coef(self.h, xp, dtype), self.coef(self.aw, xp, dtype), self.coef(self.w, xp, dtype))]

    def is_convex(self, layer: int) -> bool:
        """Whether layer ``layer``'s term is convex (:math:`a\\omega^2 \\le h`)."""
        return self.a[layer] * self.w[layer] ** 2 <= self.h[layer]

    def scalar_stationary_points(self, layer: int):
        r"""Sorted roots :math:`u` of :math:`h u + a\omega\sin(\omega u) = 0` for ``layer``, and
        a boolean array: local minimum (:math:`h + a\omega^2\cos(\omega u) > 0`)."""
        h, a, w = self.h[layer], self.a[layer], self.w[layer]
        g = lambda u: h * u + a * w * numpy.sin(w * u)   # noqa: E731
        bound = a * w / h
        if bound == 0:
            return numpy.zeros(1), numpy.ones(1, dtype=bool)
        # a grid finer than the ripple's half period brackets every sign change
        grid = numpy.linspace(-bound * 1.001 - 1e-12, bound * 1.001 + 1e-12,
                              int(64 * (1 + w * bound)) + 3)
        vals = g(grid)
        roots = [0.0]
        for lo, hi, vl, vh in zip(grid[:-1], grid[1:], vals[:-1], vals[1:]):
            if vl == 0.0 and lo != 0.0:
                roots.append(lo)
            elif vl * vh < 0:
                r = brentq(g, lo, hi, xtol=1e-15, rtol=1e-15)
                if abs(r) > 1e-12:
                    roots.append(r)
        roots = numpy.unique(numpy.round(numpy.asarray(roots), 14))
        return roots, h + a * w * w * numpy.cos(w * roots) > 0

    def stationary_point(self, choice, S: int = 1, xp=numpy, dtype="float64"):
        """The stationary point with every entry of layer ``i`` at root ``choice[i]``
        (an index into :meth:`scalar_stationary_points`); returns stacked params."""
        layers = []
        for i, (c, (m, n)) in enumerate(zip(self._C, self.layout.shapes)):
            roots, _ = self.scalar_stationary_points(i)
            layers.append(c + roots[int(choice[i])] * numpy.ones((m, n)))
        from gluon_mvr.problems.families._common import stack_layers
        return [xp.repeat(g, S, axis=0) for g in stack_layers(self.layout, layers, xp, dtype)]


@register_family("nonconvex", summary="quadratic + cosine ripple per layer; known stationary points, L1 = 0",
                 params={
    **common_params(),
    "curvature": Param(str, "1.0", "h_i > 0, quadratic curvature (one value or one per layer)"),
    "ripple": Param(str, "0.5", "a_i >= 0, ripple amplitude (one value or one per layer)"),
    "frequency": Param(str, "4.0", "omega_i > 0, ripple frequency (one value or one per layer)"),
    "distance": Param(float, 3.0, "||X0_i - X*_i||_F", positive=True),
})
def build_nonconvex(layers, dim, shapes, sigma, noise, df, hess_noise, region, norm, seed, curvature,
                    ripple, frequency, distance):
    return NonconvexProblem(shapes=shapes_from(layers, dim, shapes), curvature=curvature, ripple=ripple,
                            frequency=frequency, distance=distance, sigma=sigma, noise=noise, df=df,
                            hess_noise=hess_noise, region=region, norm=norm, seed=seed)
