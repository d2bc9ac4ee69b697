r"""``star``: star-convex, non-convex layers: radial growth times an angular modulation.

.. math::  f(X) = \sum_i h_i\,\psi(r_i)\,\Phi_i(c_i),\qquad r_i = \|D_i\|_F,\quad
           c_i = \langle A_i, D_i\rangle / r_i,\quad \Phi_i(c) = 1 + \varepsilon_i\cos(\omega_i c),

with :math:`D_i = X_i - C_i`, a unit direction :math:`A_i` (:math:`\|A_i\|_F = 1`, from the
problem's ``seed``), :math:`0\le\varepsilon_i<1` and the radial profile

- ``growth=quadratic``: :math:`\psi(r) = r^2/2` (then :math:`f` is 2-homogeneous about :math:`C`);
- ``growth=linear``: :math:`\psi(r) = \mu^2(\sqrt{1 + r^2/\mu^2} - 1)`, quadratic for
  :math:`r\ll\mu` and nearly linear (:math:`\approx\mu r`) beyond (``width`` = :math:`\mu`): the
  tightness option, a bounded gradient far from the minimiser.

Star-convexity (A4, derived here): along a ray :math:`X = C + tV`, :math:`c` is constant and
:math:`g(t) = h\psi(t\|V\|)\Phi(c)` is convex in :math:`t\ge 0` with :math:`g(0) = 0`
(:math:`\psi` convex, :math:`\psi(0) = 0`, :math:`\Phi > 0`), so
:math:`f(\alpha C + (1-\alpha)X) = g(1-\alpha) \le (1-\alpha) g(1) = \alpha f^* + (1-\alpha)f(X)`.
:math:`\Phi \ge 1-\varepsilon > 0` makes :math:`X^* = C` the unique minimiser, :math:`f^* = 0`.
Non-convexity: with :math:`D\perp A` the Hessian has the eigenvalue
:math:`(\psi'/r)\Phi + (\psi/r^2)\varphi''` (:math:`\varphi(\theta) = \Phi(\cos\theta)`), which for
``quadratic`` is :math:`1 + \varepsilon - \varepsilon\omega^2/2 < 0` once
:math:`\varepsilon\omega^2 > 2(1 + \varepsilon)` (the defaults :math:`\varepsilon=0.5, \omega=4`).

Constants (derived here, global).  In polar coordinates of the plane spanned by :math:`A` and
:math:`D`, with :math:`\theta` the angle from :math:`A`, the Hessian of
:math:`\psi(r)\varphi(\theta)` is, in the frame :math:`(\hat r, \hat\theta)`,
:math:`\begin{pmatrix}\psi''\varphi & (\psi'/r - \psi/r^2)\varphi'\\ \cdot &
(\psi'/r)\varphi + (\psi/r^2)\varphi''\end{pmatrix}` and, across the plane,
:math:`(\psi'/r)\varphi + (\psi/r^2)\cos\theta\,\varphi'/\sin\theta`.  Both profiles have
:math:`\psi''\le1`, :math:`\psi'/r\le1`, :math:`\psi/r^2\le1/2`,
:math:`0\le\psi'/r-\psi/r^2\le1/2`, and :math:`|\varphi|\le1+\varepsilon`,
:math:`|\varphi'|\le\varepsilon\omega`, :math:`|\varphi'/\sin\theta|\le\varepsilon\omega`,
:math:`|\varphi''|\le\varepsilon\omega(1+\omega)`.  Gershgorin then bounds every eigenvalue by

.. math::  L_F = h\bigl(1 + \varepsilon + \varepsilon\omega(2+\omega)/2\bigr),

the Hessian is 0-homogeneous-bounded away from :math:`D=0` and the gradient is continuous
there, so :math:`\nabla f` is :math:`L_F`-Lipschitz in Frobenius for all pairs and, in the
layer norm, :math:`L_{0,i} = \rho_i^2 L_{F,i}`, :math:`L_{1,i} = 0`.
"""
from __future__ import annotations

import numpy

from gluon_mvr.methods.backend import array_namespace

from gluon_mvr.problems.registry import Param, register_family
from gluon_mvr.problems.families._common import SeparableProblem, common_params, per_layer_values, stack_layers
from gluon_mvr.problems.families.quadratic import shapes_from

GROWTHS = ("quadratic", "linear")
STARTS = ("offset", "origin")


class StarProblem(SeparableProblem):
    """See the module docstring."""

    name = "star"

    def __init__(self, shapes=((8, 8),) * 4, curvature=1.0, modulation=0.5, frequency=4.0,
                 growth="quadratic", width=1.0, distance=3.0, sigma=1.0, noise="additive", df=4.0,
                 hess_noise=0.5, region=2.0, norm="spectral", seed=0, start="offset"):
        kwargs = dict(shapes=shapes, curvature=curvature, modulation=modulation, frequency=frequency,
                      growth=growth, width=width, distance=distance, sigma=sigma, noise=noise, df=df,
                      hess_noise=hess_noise, region=region, norm=norm, seed=seed, start=start)
        if start not in STARTS:
            raise ValueError(f"problem 'star' param 'start': allowed values {', '.join(STARTS)}; got {start!r}")
        if growth not in GROWTHS:
            raise ValueError(f"problem 'star' param 'growth': allowed values {', '.join(GROWTHS)}; got {growth!r}")
        p = len(shapes)
        self.h = per_layer_values("star", "curvature", curvature, p, strict=True)
        self.eps = per_layer_values("star", "modulation", modulation, p, high=0.99)
        self.w = per_layer_values("star", "frequency", frequency, p, strict=True)
        self.growth, self.width = growth, float(width)
        self._setup(shapes, norm, seed, noise, sigma, df, hess_noise, region, [float(distance)] * p, kwargs)
        if start == "origin":
            # tightness setting: X^0 = 0 and ||X*_i||_F = distance, so the minimiser lies on the
            # boundary of the smallest Frank-Wolfe ball about 0 that holds both (D_i = ||X*_i||)
            self._C = [c * (float(distance) / numpy.linalg.norm(c)) for c in self._C]
            self._X0 = [numpy.zeros_like(c) for c in self._C]
        dirs = [self.rng_data.standard_normal(s) for s in self.layout.shapes]
        self._A = [d / numpy.linalg.norm(d) for d in dirs]
        self.epsw = tuple(e * w for e, w in zip(self.eps, self.w))
        L = [h * (1 + e + e * w * (2 + w) / 2) for h, e, w in zip(self.h, self.eps, self.w)]
        self._declare(L, [0.0] * p, region="global (all pairs)",
                      source="closed form (Gershgorin on the polar Hessian), derived in problems.families.star")
        self.f_star = 0.0

    def _direction(self, xp, dtype):
        key = ("A", xp.__name__, str(dtype))
        if key not in self._cache:
            self._cache[key] = stack_layers(self.layout, self._A, xp, dtype)
        return self._cache[key]

    def _polar(self, D, xp):
        """Per group: r, psi(r)/r, psi'(r)/r, c = <A, D>/r (0 at D = 0), all ``(S, G, 1, 1)``."""
        out = []
        for d, A in zip(D, self._direction(xp, D[0].dtype)):
            r = xp.sqrt(xp.sum(d * d, axis=(2, 3), keepdims=True))
            safe = xp.where(r > 0, r, 1.0)
            c = xp.sum(A * d, axis=(2, 3), keepdims=True) / safe
            if self.growth == "quadratic":
                psi_r, dpsi_r = 0.5 * r, xp.ones_like(r)
            else:
                s = xp.sqrt(1.0 + (r / self.width) ** 2)
                # mu^2 (s - 1) / r = r / (s + 1): no cancellation near r = 0
                psi_r, dpsi_r = r / (s + 1.0), 1.0 / s
            out.append((r, psi_r, dpsi_r, c, A, d))
        return out

    def _phi(self, D, xp):
        dtype = D[0].dtype
        total = 0.0
        for (r, psi_r, _, c, _, _), h, e, w in zip(self._polar(D, xp), self.coef(self.h, xp, dtype),
                                                   self.coef(self.eps, xp, dtype), self.coef(self.w, xp, dtype)):
            total = total + xp.sum(h * psi_r * r * (1.0 + e * xp.cos(w * c)), axis=(1, 2, 3))
        return total

    def _phi_grad(self, D, xp):
        dtype = D[0].dtype
        out = []
        for (r, psi_r, dpsi_r, c, A, d), h, e, w, ew in zip(
                self._polar(D, xp), self.coef(self.h, xp, dtype), self.coef(self.eps, xp, dtype),
                self.coef(self.w, xp, dtype), self.coef(self.epsw, xp, dtype)):
            safe = xp.where(r > 0, r, 1.0)
            # grad = psi'(r) Phi(c) D/r + psi(r) Phi'(c) (A - c D/r)/r
            out.append(h * (dpsi_r * (1.0 + e * xp.cos(w * c)) * d
                            - psi_r * ew * xp.sin(w * c) * (A - c * d / safe)))
        return out

    def star_gap(self, X, alpha):
        r""":math:`f(\alpha X^* + (1-\alpha)X) - [\alpha f^* + (1-\alpha) f(X)]` (``<= 0`` by A4)."""
        C = self.center(array_namespace(X[0]), X[0].dtype)
        Z = [alpha * c + (1 - alpha) * x for c, x in zip(C, X)]
        return self.value(Z) - (alpha * self.f_star + (1 - alpha) * self.value(X))


@register_family("star", summary="star-convex non-convex layers (radial x angular), known X*, f* = 0", params={
    **common_params(),
    "curvature": Param(str, "1.0", "h_i > 0 (one value or one per layer)"),
    "modulation": Param(str, "0.5", "epsilon_i in [0, 0.99]: angular modulation depth"),
    "frequency": Param(str, "4.0", "omega_i > 0: angular frequency"),
    "growth": Param(str, "quadratic", "radial profile", choices=GROWTHS),
    "width": Param(float, 1.0, "linear growth: quadratic core radius mu", positive=True),
    "distance": Param(float, 3.0, "||X0_i - X*_i||_F", positive=True),
    "start": Param(str, "offset", "offset: X0 = X* + distance U; origin: X0 = 0, ||X*||_F = distance "
                                  "(minimiser on the Frank-Wolfe ball's boundary)", choices=STARTS),
})
def build_star(layers, dim, shapes, sigma, noise, df, hess_noise, region, norm, seed, curvature,
               modulation, frequency, growth, width, distance, start):
    return StarProblem(shapes=shapes_from(layers, dim, shapes), curvature=curvature, modulation=modulation,
                       frequency=frequency, growth=growth, width=width, distance=distance, sigma=sigma,
                       noise=noise, df=df, hess_noise=hess_noise, region=region, norm=norm, seed=seed,
                       start=start)
