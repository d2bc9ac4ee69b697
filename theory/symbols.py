r"""The named sympy symbols every bound of :mod:`theory` is written in.

Two kinds of symbols:

- **global** ones: the horizon ``K``, the initial gap ``Delta0`` :math:`=f(X^0)-\inf f`, the
  momentum parameter ``one_minus_beta`` :math:`=1-\beta` (docs/theory.md convention: :math:`\beta`
  weighs the *old* momentum), the MVR mixing ``q``, schedule scales ``t0``, ``c_beta``, ``c_q``;
- **layer** ones (:data:`LAYER`): the constants of one generic layer ``i`` (radius ``t``, LMO
  error ``delta``, ``L0``, ``L1``, ``ell``, ``sigma``, ``rho``, ``kappa``, weight ``w``).

A bound over ``p`` layers with different constants is a sympy expression in *aggregate*
symbols (sums, square roots of sums and minima over layers of a layer expression, see
:class:`theory.bounds_nonconvex.Aggregate`), so that it is written once and holds for any
per-layer constants; substituting identical layers turns it into a single expression in the
layer symbols, which is what the symbolic checks analyse.

All symbols are positive reals, which lets sympy simplify square roots and powers.
"""
from __future__ import annotations

import sympy as sp

# --- global -----------------------------------------------------------------------------
K = sp.Symbol("K", positive=True)
Delta0 = sp.Symbol("Delta0", positive=True)
one_minus_beta = sp.Symbol("one_minus_beta", positive=True)
q = sp.Symbol("q", positive=True)
t0 = sp.Symbol("t0", positive=True)           # radius scale of a horizon schedule
c_beta = sp.Symbol("c_beta", positive=True)   # momentum scale: 1-beta = c_beta K^-b
c_q = sp.Symbol("c_q", positive=True)         # mixing scale: q = c_q K^-b
p = sp.Symbol("p", positive=True, integer=True)  # number of (identical) layers
eps = sp.Symbol("epsilon", positive=True)     # target accuracy (iteration complexity)
a = sp.Symbol("a", positive=True)             # Frank-Wolfe mixing weight (star-convex)
r0 = sp.Symbol("r0", positive=True)           # E f(X^0) - f* (star-convex)

# --- one generic layer ---------------------------------------------------------------------
t = sp.Symbol("t", positive=True)             # radius (= stepsize) t_i
delta = sp.Symbol("delta", nonnegative=True)  # inexact-LMO error delta_i (0 = exact)
L0 = sp.Symbol("L0", positive=True)
L1 = sp.Symbol("L1", positive=True)
ell = sp.Symbol("ell", positive=True)         # A3 mean-squared smoothness
sigma = sp.Symbol("sigma", positive=True)     # A2, Frobenius variance bound
rho = sp.Symbol("rho", positive=True)         # ||Z||_* <= rho ||Z||_F
kappa = sp.Symbol("kappa", positive=True)     # ||Z||_F <= kappa ||Z||_*
w = sp.Symbol("w", positive=True)             # weight of the layer in G_K
D = sp.Symbol("D", positive=True)             # ball radius (star-convex)

LAYER = (t, delta, L0, L1, ell, sigma, rho, kappa, w, D)

#: Names a user may use in ``theory check`` expressions (with ``K``).
USER_NAMES = {s.name: s for s in (K, Delta0, t0, c_beta, c_q, L0, L1, ell, sigma, rho, kappa)}
