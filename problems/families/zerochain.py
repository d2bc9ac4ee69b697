r"""``zero-chain``: the probabilistic zero-chain of Arjevani, Carmon, Duchi, Foster, Srebro and
Woodworth (2019), one chain per layer, in the layer-wise LMO geometry (a lower-bound instance).

Per layer :math:`i` (a vector layer :math:`x\in\mathbb R^T`, shape ``(T, 1)``), with
:math:`u = x/\lambda`, the chain of Carmon, Duchi, Hinder, Sidford (2019) [C, their Eq. (9)]

.. math::  F_T(u) = -\Psi(1)\Phi(u_1) + \sum_{j=2}^{T}\bigl[\Psi(-u_{j-1})\Phi(-u_j)
           - \Psi(u_{j-1})\Phi(u_j)\bigr],

:math:`\Psi(z) = 0` for :math:`z\le1/2`, :math:`e^{1 - 1/(2z-1)^2}` beyond;
:math:`\Phi(z) = \sqrt e\int_{-\infty}^z e^{-s^2/2}ds`, and the scaled layer objective
:math:`f_i(x) = \varepsilon\lambda F_T(x/\lambda)` with :math:`\lambda = 152\,\varepsilon/L`, so that
:math:`\nabla f_i(x) = \varepsilon\,\nabla F_T(x/\lambda)`.  :math:`f = \sum_i f_i` (separable),
:math:`X^0 = 0`.

Facts of the chain [C, Carmon et al. 2019, Lemmas 2-3; checked numerically in the tests]:
(a) :math:`\nabla F_T` is 152-Lipschitz (Euclidean), (b) :math:`\|\nabla F_T\|_\infty\le 23`,
(c) zero chain: :math:`\nabla_j F_T(u) = 0` for :math:`j > \mathrm{prog}_{1/2}(u) + 1`, where
:math:`\mathrm{prog}_\alpha(u) = \max\{j : |u_j| > \alpha\}` (0 if none), (d) large gradient:
if :math:`|u_T| < 1` then :math:`\|\nabla F_T(u)\|_2 > 1`, (e) :math:`F_T(0) - \inf F_T \le 12T`.
Hence, derived here: :math:`\nabla f_i` is :math:`L`-Lipschitz, and while layer :math:`i`'s chain
is unexplored (:math:`|x_{i,T}| < \lambda`), :math:`\|\nabla_i f\|_2 > \varepsilon`;
:math:`\Delta_0 \le 12\,T\,\varepsilon\lambda\,p_{\rm layers}`.

Oracle [C, Arjevani et al. 2019, Eq. (15), bounded-variance construction]: one
:math:`\xi_i\sim\mathrm{Bernoulli}(q)` per layer and sample,

.. math::  [g_i(x;\xi)]_j = \nabla_j f_i(x)\,\bigl(1 + \mathbb 1\{j > \mathrm{prog}_{1/4}(x/\lambda)\}
           (\xi_i/q - 1)\bigr).

Only :math:`j = \mathrm{prog}_{1/4} + 1` can be masked (by (c)), so the next coordinate is
revealed only by samples with :math:`\xi_i = 1`.  Constants (derived here):
unbiased; :math:`E\|g_i - \nabla f_i\|_2^2 = \frac{1-q}{q}|\nabla_{j}f_i|^2 \le
\sigma_i^2 := \frac{1-q}{q}(23\varepsilon)^2`, and we set
:math:`q = (23\varepsilon)^2/(\sigma^2 + (23\varepsilon)^2)` so that :math:`\sigma_i` = ``sigma``.
Same-sample difference at a pair :math:`(x, y)` with the SAME :math:`\mathrm{prog}_{1/4}`:
:math:`D_i = (\xi_i/q - 1)(\nabla_j f_i(x) - \nabla_j f_i(y))e_j`, so
:math:`E\|D_i\|_2^2\le\frac{1-q}{q}L^2\|x - y\|_2^2`: A3 holds with
:math:`\ell_i = L\sqrt{(1-q)/q}` on such pairs; across a change of progress the oracle jumps and
no finite :math:`\ell` holds (the construction's point: MVR's analysis, which needs A3, does not
apply, and :math:`\ell\to\infty` as :math:`q\to0`).  Layer norms: ``spectral``/``frobenius`` on a
vector layer are the Euclidean norm (:math:`\rho = 1`, LMO :math:`-g/\|g\|`), ``sign`` is
:math:`\ell_\infty` (:math:`\rho = \sqrt T`, :math:`L_0 = TL`); all three LMOs are zero-respecting
(they keep the support of :math:`M`), which the lower bound requires.

What it proves and what it only suggests (derived here [R]).  For a zero-respecting method
that evaluates each sample at :math:`c` points (:math:`c = 1` for Gluon, 2 for MVR, which
evaluates :math:`\xi^k` at :math:`X^k` and :math:`X^{k-1}`), each layer's support, hence its
:math:`\mathrm{prog}_{1/4}`, grows by at most :math:`c` per sample with :math:`\xi_i = 1` and by
none otherwise, so after :math:`k` iterations it is at most :math:`c\,\mathrm{Bin}(k, q)`; while it is
below :math:`T` (then :math:`|u_T|\le 1/4 < 1`) the layer's gradient exceeds :math:`\varepsilon`.
Hence :math:`E\,G_K \ge \varepsilon\, p_{\rm layers}\, P(c\,\mathrm{Bin}(K, q) < T)` for the
averaged stationarity.  Scaling :math:`\varepsilon` with :math:`K`
(``worst_param = "scale"``) the worst instance per horizon has
:math:`\varepsilon_K \asymp \sigma\sqrt{T/K}/23` at fixed ``length`` (a class whose
:math:`\Delta_0\propto T\varepsilon^2/L` shrinks with :math:`K`), and
:math:`\varepsilon_K\asymp (\Delta_0 L\sigma^2/K)^{1/4}` when ``length`` grows as
:math:`T\propto \Delta_0 L/\varepsilon^2` (the class of fixed :math:`\Delta_0, L, \sigma`):
the :math:`K^{-1/4}` lower bound under A1-A2 alone.  It does NOT bound methods on oracles with a
bounded :math:`\ell` (A3), where :math:`K^{-1/3}` is the lower bound (Arjevani et al., Thm 3,
smoothed-progress oracle, not built here), and the measured slopes only suggest the rates of
the methods on this instance; the constants (152, 23, 12) make the instance loose.
"""
from __future__ import annotations

import math

import numpy
from scipy.special import ndtr

from gluon_mvr.methods.backend import array_namespace, to_numpy
from gluon_mvr.methods.layout import Layout

from gluon_mvr.problems.base import Constants, Problem
from gluon_mvr.problems.norm_equivalence import rho
from gluon_mvr.problems.registry import Param, register_family

LIPSCHITZ = 152.0      # [C] Carmon et al.: grad F_T is 152-Lipschitz
GRAD_INF = 23.0        # [C] ||grad F_T||_inf <= 23
GAP_PER_LINK = 12.0    # [C] F_T(0) - inf F_T <= 12 T
ZC_NORMS = ("spectral", "frobenius", "sign")
_SQRT_E = math.sqrt(math.e)


def psi(z):
    """:math:`\\Psi` and :math:`\\Psi'` (elementwise, NumPy)."""
    d = numpy.where(z > 0.5, 2.0 * z - 1.0, 1.0)
    val = numpy.where(z > 0.5, numpy.exp(1.0 - 1.0 / (d * d)), 0.0)
    der = numpy.where(val > 0, val * 4.0 / (d * d * d), 0.0)
    return val, der


def phi(z):
    """:math:`\\Phi` and :math:`\\Phi'`."""
    return _SQRT_E * math.sqrt(2 * math.pi) * ndtr(z), _SQRT_E * numpy.exp(-0.5 * z * z)


def chain_value(u):
    """:math:`F_T(u)` over the last axis of ``u`` (any leading axes)."""
    Pp, _ = psi(u[..., :-1])
    Pm, _ = psi(-u[..., :-1])
    Fp, _ = phi(u[..., 1:])
    Fm, _ = phi(-u[..., 1:])
    return -phi(u[..., 0])[0] + (Pm * Fm - Pp * Fp).sum(axis=-1)


def chain_grad(u):
    """:math:`\\nabla F_T(u)` over the last axis."""
    Pp, dPp = psi(u[..., :-1])
    Pm, dPm = psi(-u[..., :-1])
    Fp, dFp = phi(u[..., 1:])
    Fm, dFm = phi(-u[..., 1:])
    g = numpy.zeros_like(u)
    g[..., 0] = -phi(u[..., 0])[1]
    g[..., :-1] += -dPm * Fm - dPp * Fp          # d/du_{j-1} of link j
    g[..., 1:] += -Pm * dFm - Pp * dFp           # d/du_j of link j
    return g


def progress(u, alpha):
    """:math:`\\mathrm{prog}_\\alpha(u)` over the last axis: the largest 1-based index with
    :math:`|u_j| > \\alpha`, 0 if none."""
    T = u.shape[-1]
    big = numpy.abs(u) > alpha
    last = T - numpy.argmax(big[..., ::-1], axis=-1)
    return numpy.where(big.any(axis=-1), last, 0)


class ZeroChainProblem(Problem):
    """See the module docstring."""

    name = "zero-chain"

    def __init__(self, layers=4, length=8, scale=0.1, L=1.0, sigma=1.0, norm="spectral", delta0=0.0):
        if norm not in ZC_NORMS:
            raise ValueError(f"problem 'zero-chain' param 'norm': allowed values {', '.join(ZC_NORMS)}; got {norm!r}")
        self._kwargs = dict(layers=layers, length=length, scale=scale, L=L, sigma=sigma, norm=norm, delta0=delta0)
        self.p, self.T, self.eps, self.L, self.sigma = int(layers), int(length), float(scale), float(L), float(sigma)
        self.lam = LIPSCHITZ * self.eps / self.L
        if delta0 > 0:
            # the class of fixed Delta0: the longest chain whose gap bound 12 T eps lambda p fits
            self.T = max(2, int(math.floor(delta0 / (GAP_PER_LINK * self.eps * self.lam * self.p))))
        top = (GRAD_INF * self.eps) ** 2
        self.q = 1.0 if self.sigma == 0 else top / (self.sigma ** 2 + top)
        self.layout = Layout(((self.T, 1),) * self.p)
        r = rho(norm, (self.T, 1))
        ell = self.L * math.sqrt((1 - self.q) / self.q)
        self.constants = Constants(
            norms=(norm,) * self.p, L0=r * r * self.L, L1=0.0, ell=r * r * ell, sigma=self.sigma, rho=r,
            region="A1 global (separable); A3 only for pairs with equal prog_1/4 in every layer",
            source="Carmon et al. 2019 chain [C] scaled here; oracle of Arjevani et al. 2019 [C]; "
                   "constants derived in problems.families.zerochain")
        self.f_star = None
        self.f_lower = float(self.value(self.initial_point(1))[0]) - GAP_PER_LINK * self.T * self.eps * self.lam * self.p

    # the chain runs on the host (NumPy); arrays of other backends are copied
    def _u(self, X):
        return to_numpy(X[0])[..., 0] / self.lam          # (S, p, T)

    def initial_point(self, S, xp=numpy, dtype="float64"):
        return [xp.zeros((S, self.p, self.T, 1), dtype=dtype)]

    def value(self, X):
        xp = array_namespace(X[0])
        v = self.eps * self.lam * chain_value(self._u(X)).sum(axis=-1)
        return xp.asarray(v, dtype=X[0].dtype)

    def grad(self, X):
        xp = array_namespace(X[0])
        return [xp.asarray(self.eps * chain_grad(self._u(X))[..., None], dtype=X[0].dtype)]

    def sample(self, rngs, xp=numpy, dtype="float64"):
        """``(S, p)`` booleans :math:`\\xi_i` (one uniform per layer from each seed's generator)."""
        return numpy.stack([rng.random(self.p) for rng in rngs]) < self.q

    def stochastic_grad(self, X, sample):
        xp = array_namespace(X[0])
        u = self._u(X)
        g = self.eps * chain_grad(u)
        j = progress(u, 0.25)                               # (S, p): 0-based index of the next link
        factor = numpy.where(sample, 1.0 / self.q, 0.0)     # xi / q
        rows = numpy.nonzero(j < self.T)
        g[rows[0], rows[1], j[rows]] *= factor[rows]
        return [xp.asarray(g[..., None], dtype=X[0].dtype)]

    def without_noise(self):
        return type(self)(**{**self._kwargs, "sigma": 0.0})

    def unexplored_layers(self, X):
        """``(S,)`` number of layers whose chain is unexplored (:math:`|u_T| < 1`): each
        contributes more than :math:`\\varepsilon` to :math:`\\sum_i\\|\\nabla_i f\\|_2`."""
        return (numpy.abs(self._u(X)[..., -1]) < 1.0).sum(axis=-1)


@register_family("zero-chain", summary="probabilistic zero-chain (Arjevani et al. 2019), one per vector layer "
                                       "(lower-bound instance)", params={
    "layers": Param(int, 4, "number of layers (one chain each)", low=1),
    "length": Param(int, 8, "chain length T (layers are T x 1)", low=2),
    "scale": Param(float, 0.1, "epsilon: the gradient floor while a chain is unexplored", positive=True),
    "L": Param(float, 1.0, "Lipschitz constant of each layer's gradient (Euclidean)", positive=True),
    "sigma": Param(float, 1.0, "noise level: E||g_i - grad_i f||_2^2 <= sigma^2 (sets q)", low=0.0),
    "norm": Param(str, "spectral", "layer norm (vector layers: spectral = frobenius = Euclidean)",
                  choices=ZC_NORMS),
    "delta0": Param(float, 0.0, "if > 0: length T = floor(delta0/(12 eps lambda layers)), the longest chain "
                                "with Delta0 <= delta0 (fixed-class scaling)", low=0.0),
})
def build_zero_chain(layers, length, scale, L, sigma, norm, delta0):
    return ZeroChainProblem(layers=layers, length=length, scale=scale, L=L, sigma=sigma, norm=norm, delta0=delta0)
