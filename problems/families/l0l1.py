r"""``l0l1``: layered radial-cosh problems with layer-wise :math:`(L_0, L_1)`, :math:`L_1 > 0`.

.. math::  f(X) = \sum_i \frac{a_i}{b_i^2}\bigl(\cosh(b_i r_i) - 1\bigr),\qquad
           r_i = \|X_i - C_i\|_F,\qquad f^* = 0,\quad X^* = C.

The gradient is :math:`\nabla_i f = a_i\,\frac{\sinh(b_i r_i)}{b_i r_i}\,(X_i - C_i)`, of
Frobenius norm :math:`(a_i/b_i)\sinh(b_i r_i)`: it grows exponentially, so no global Lipschitz
constant exists, but the growth of the Hessian is tied to the gradient, as in (L0,L1)-smoothness.

Constants (derived here).  Drop the index :math:`i`.  The Hessian of
:math:`\phi(D) = (a/b^2)(\cosh(b\|D\|_F) - 1)` has eigenvalue :math:`a\cosh(br)` along
:math:`D` and :math:`a\sinh(br)/(br) \in [a, a\cosh(br)]` across it, so its Frobenius operator
norm is :math:`a\cosh(br)`.  Along a segment from :math:`X` to :math:`Y`,
:math:`r_Z \le r_X + \|X-Y\|_F` and :math:`\cosh(u+h)\le e^{|h|}\cosh u`; with
:math:`\cosh u \le 1 + \sinh u` and :math:`\sinh(br_X) = (b/a)\|\nabla\phi(X)\|_F`:

.. math::  \|\nabla\phi(X) - \nabla\phi(Y)\|_F \le e^{b\|X-Y\|_F}\,
           \bigl(a + b\|\nabla\phi(X)\|_F\bigr)\,\|X - Y\|_F .

So A1 holds in Frobenius with :math:`(a, b)` as :math:`\|X-Y\|_F\to0` (tight: at
:math:`X = C` the ratio tends to :math:`a`, and for large :math:`r` to :math:`a + b\|\nabla\phi\|_F`)
and, like any exponential-type function, only with an inflation factor for distant pairs:
A1 read for all pairs fails (the gradient grows faster than linearly).  **Region**: pairs with
:math:`\|X_i - Y_i\|_{(i)} \le \delta` (= ``radius``, a bound on the Gluon radius :math:`t_i`,
which is exactly the step length), any :math:`X`.  With :math:`\|X-Y\|_F \le\rho\|X-Y\|` and the
conversion of :mod:`problems.families._common`, the declared layer-norm constants are

.. math::  L_{0,i} = \rho_i^2 a_i\,e^{b_i\rho_i\delta},\qquad
           L_{1,i} = \rho_i^2\kappa_i b_i\,e^{b_i\rho_i\delta}.

Parameters ``L0``, ``L1`` are the *nominal* (:math:`\delta\to0`) layer-norm constants; the
family sets :math:`a_i = L_{0}/\rho_i^2`, :math:`b_i = L_{1}/(\rho_i^2\kappa_i)`, so the declared
constants are ``L0 * g`` and ``L1 * g`` with :math:`g = \exp(L_1\delta/(\rho_i\kappa_i))`.
In the Frobenius norm (:math:`\rho=\kappa=1`) both are tight; in other norms the conversion
step may be loose.  The start is at :math:`b_i r_i^0` = ``start`` (so
:math:`\|\nabla_i f(X^0)\|_F = (a_i/b_i)\sinh(\text{start})`, deep in the :math:`L_1` regime for
``start`` of a few units), and :math:`\Delta_0 = \sum_i (a_i/b_i^2)(\cosh(\text{start}) - 1)`.
"""
from __future__ import annotations

import math

from gluon_mvr.problems.registry import Param, register_family
from gluon_mvr.problems.families._common import SeparableProblem, common_params, per_layer_values
from gluon_mvr.problems.families.quadratic import shapes_from


class L0L1Problem(SeparableProblem):
    """See the module docstring."""

    name = "l0l1"

    def __init__(self, shapes=((8, 8),) * 4, L0=1.0, L1=1.0, radius=0.1, start=3.0, sigma=1.0,
                 noise="additive", df=4.0, hess_noise=0.5, region=2.0, norm="spectral", seed=0):
        kwargs = dict(shapes=shapes, L0=L0, L1=L1, radius=radius, start=start, sigma=sigma,
                      noise=noise, df=df, hess_noise=hess_noise, region=region, norm=norm, seed=seed)
        p = len(shapes)
        L0 = per_layer_values("l0l1", "L0", L0, p, strict=True)
        L1 = per_layer_values("l0l1", "L1", L1, p, strict=True)
        from gluon_mvr.problems.norm_equivalence import kappa, rho
        rhos = [rho(norm, s) for s in shapes]
        kaps = [kappa(norm, s) for s in shapes]
        self.a = tuple(l0 / (r * r) for l0, r in zip(L0, rhos))
        self.b = tuple(l1 / (r * r * k) for l1, r, k in zip(L1, rhos, kaps))
        self.start = float(start)
        distances = [start / b for b in self.b]
        self._setup(shapes, norm, seed, noise, sigma, df, hess_noise, region, distances, kwargs)
        self.radius = float(radius)
        growth = [math.exp(b * r * radius) for b, r in zip(self.b, self.rho)]
        self._declare([a * g for a, g in zip(self.a, growth)], [b * g for b, g in zip(self.b, growth)],
                      region=f"pairs with ||X_i - Y_i||_(i) <= radius = {radius:g} (any X)",
                      source="closed form (radial cosh), derived in problems.families.l0l1",
                      pair_radius=(radius,) * p)
        self.f_star = 0.0

    def _radii(self, D, xp):
        return [xp.sqrt(xp.sum(d * d, axis=(2, 3), keepdims=True)) for d in D]

    def _phi(self, D, xp):
        dtype = D[0].dtype
        total = 0.0
        for d, r, a, b in zip(D, self._radii(D, xp), self.coef(self.a, xp, dtype), self.coef(self.b, xp, dtype)):
            total = total + xp.sum(a / (b * b) * (xp.cosh(b * r) - 1.0), axis=(1, 2, 3))
        return total

    def _phi_grad(self, D, xp):
        dtype = D[0].dtype
        out = []
        for d, r, a, b in zip(D, self._radii(D, xp), self.coef(self.a, xp, dtype), self.coef(self.b, xp, dtype)):
            u = b * r
            small = u < 1e-4
            # sinh(u)/u, with its Taylor series where the quotient would lose digits
            shc = xp.where(small, 1.0 + u * u / 6.0, xp.sinh(u) / xp.where(small, 1.0, u))
            out.append(a * shc * d)
        return out


@register_family("l0l1", summary="radial-cosh layers, (L0, L1)-smooth with L1 > 0 on close pairs", params={
    **common_params(),
    "L0": Param(str, "1.0", "nominal L0 per layer in the layer norm (one value or one per layer)"),
    "L1": Param(str, "1.0", "nominal L1 per layer in the layer norm (one value or one per layer)"),
    "radius": Param(float, 0.1, "A1 region: pairs with ||X_i - Y_i||_(i) <= radius (>= the Gluon radius)",
                    positive=True),
    "start": Param(float, 3.0, "b_i * ||X0_i - X*_i||_F (how deep the start is in the L1 regime)",
                   positive=True),
})
def build_l0l1(layers, dim, shapes, sigma, noise, df, hess_noise, region, norm, seed, L0, L1, radius, start):
    return L0L1Problem(shapes=shapes_from(layers, dim, shapes), L0=L0, L1=L1, radius=radius, start=start,
                       sigma=sigma, noise=noise, df=df, hess_noise=hess_noise, region=region, norm=norm,
                       seed=seed)
