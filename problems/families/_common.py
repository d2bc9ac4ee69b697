r"""Shared machinery of the layer-separable families (``l0l1``, ``nonconvex``, ``star``).

A separable family is :math:`f(X) = \sum_i \phi_i(X_i - C_i)` with a centre :math:`C_i` (the
minimiser) drawn from the problem's own ``seed``, a start :math:`X^0_i = C_i + r_i U_i`
(:math:`\|U_i\|_F = 1`, also from ``seed``), and a noise model of :mod:`problems.noise_models`.
Since layer :math:`i`'s gradient depends on :math:`X_i` alone, A1 can hold for all pairs
(docs/theory.md §2).  Families give :math:`\phi_i` and its gradient on stacked offsets
``D = X - C`` (arrays ``(S, G, m, n)``) and their constants in the Frobenius norm; this module
converts them to the layer norm with :mod:`problems.norm_equivalence`:

.. math::  \|\nabla\phi(X)-\nabla\phi(Y)\|_F \le (a + b\|\nabla\phi(X)\|_F)\|X-Y\|_F
   \;\Rightarrow\; \|\cdot\|_* \le (\rho^2 a + \rho^2\kappa\, b\,\|\nabla\phi(X)\|_*)\|X-Y\|,

and A3's Frobenius constant :math:`s` to :math:`\ell = \rho^2 s` (derived here:
:math:`E\|D\|_*^2\le\rho^2E\|D\|_F^2\le\rho^2 s^2\|X-Y\|_F^2\le\rho^4 s^2\|X-Y\|^2`).
"""
from __future__ import annotations

import math

import numpy

from gluon_mvr.methods.backend import array_namespace
from gluon_mvr.methods.layout import Layout
from gluon_mvr.methods.norms import NORM_NAMES

from gluon_mvr.problems.base import Constants, Problem
from gluon_mvr.problems.noise_models import SEPARABLE_NOISES, make_noise
from gluon_mvr.problems.norm_equivalence import kappa, rho
from gluon_mvr.problems.registry import Param


def common_params(noise_default: str = "additive") -> dict:
    """Parameters every separable family takes."""
    return {
        "layers": Param(int, 4, "number of layers", low=1),
        "dim": Param(int, 8, "matrix side (layers are dim x dim)", low=1),
        "shapes": Param(str, "", "explicit shapes MxN,MxN,... (overrides layers/dim)"),
        "sigma": Param(float, 1.0, "additive noise level, E||Z_i||_F^2 = sigma^2", low=0.0),
        "noise": Param(str, noise_default, "noise model", choices=SEPARABLE_NOISES),
        "df": Param(float, 4.0, "heavy: Student-t degrees of freedom (must be > 2)", low=2.0),
        "hess_noise": Param(float, 0.5, "curvature: std s of the per-sample Hessian entries", low=0.0),
        "region": Param(float, 2.0, "region radius R_i = region * ||X0_i - X*_i||_F (curvature "
                                    "noise variance, sampled certification pairs)", positive=True),
        "norm": Param(str, "spectral", "layer norm the constants are stated in", choices=NORM_NAMES),
        "seed": Param(int, 0, "seed of the problem's own data (minimiser, start)", low=0),
    }


def per_layer_values(family: str, key: str, raw, p: int, low: float = 0.0, strict: bool = False,
                     high: float | None = None) -> tuple:
    """``raw`` = one number or ``'v1,v2,...'`` (one per layer) -> tuple of ``p`` floats."""
    where = f"problem {family!r} param {key!r}"
    toks = [t for t in str(raw).split(",")]
    try:
        vals = [float(t) for t in toks]
    except ValueError:
        raise ValueError(f"{where}: expected a number or {p} comma-separated numbers; got {raw!r}") from None
    if len(vals) == 1:
        vals = vals * p
    if len(vals) != p:
        raise ValueError(f"{where}: expected 1 or {p} values (one per layer); got {len(vals)}")
    for v in vals:
        bad = (not math.isfinite(v)) or v < low or (strict and v <= low) or (high is not None and v > high)
        if bad:
            rng = f"{'>' if strict else '>='} {low}" + (f" and <= {high}" if high is not None else "")
            raise ValueError(f"{where}: every value must be finite and {rng}; got {raw!r}")
    return tuple(vals)


def stack_layers(layout: Layout, layers, xp, dtype):
    """Per-layer host arrays ``(m_i, n_i)`` -> stacked groups ``(1, G, m, n)`` on ``xp``."""
    return [xp.asarray(g, dtype=dtype) for g in layout.from_layers([numpy.asarray(l)[None] for l in layers])]


class SeparableProblem(Problem):
    """Base of the separable families; see the module docstring.

    Subclasses implement ``_phi(D, xp)`` -> ``(S,)`` and ``_phi_grad(D, xp)`` -> groups, on the
    offsets ``D = X - C``, and call :meth:`_setup` then :meth:`_declare` from ``__init__``.
    """

    name = "separable"

    # --- construction ------------------------------------------------------------------
    def _setup(self, shapes, norm, seed, noise, sigma, df, hess_noise, region, distances, kwargs):
        self._kwargs = dict(kwargs)
        self.layout = Layout(shapes)
        p = self.layout.n_layers
        self.norm = norm
        self.rho = tuple(rho(norm, s) for s in self.layout.shapes)
        self.kappa = tuple(kappa(norm, s) for s in self.layout.shapes)
        rng = numpy.random.default_rng(seed)
        self._C = [rng.standard_normal(s) / math.sqrt(s[0] * s[1]) for s in self.layout.shapes]
        dirs = [rng.standard_normal(s) for s in self.layout.shapes]
        self._X0 = [c + r * d / numpy.linalg.norm(d) for c, r, d in zip(self._C, distances, dirs)]
        self.start_distance = tuple(float(r) for r in distances)
        self.region_radius = tuple(region * r for r in distances)
        self.rng_data = rng          # families draw their own extra data after the shared part
        self.noise_model = make_noise(noise, p, (sigma,) * p, df=df, hess=(hess_noise,) * p,
                                      region=self.region_radius)
        self._cache = {}

    def _declare(self, L0_frob, L1_frob, region: str, source: str, pair_radius=None):
        """Set ``constants`` from Frobenius (L0, L1) per layer and the noise model."""
        p = self.layout.n_layers
        L0 = [r * r * a for r, a in zip(self.rho, L0_frob)]
        L1 = [r * r * k * b for r, k, b in zip(self.rho, self.kappa, L1_frob)]
        nm = self.noise_model
        ell = [r * r * s for r, s in zip(self.rho, nm.declared_ell_frobenius(p))]
        note = nm.region_note
        self.pair_radius = pair_radius
        self.constants = Constants(norms=(self.norm,) * p, L0=L0, L1=L1, ell=ell,
                                   sigma=nm.declared_sigma(p), rho=self.rho, sigma_norm="frobenius",
                                   region=region + (f"; {note}" if note else ""), source=source)

    # --- helpers ------------------------------------------------------------------------
    def coef(self, values, xp, dtype):
        """Per-layer numbers -> list of ``(1, G, 1, 1)`` arrays per group (cached)."""
        key = (id(values), xp.__name__, str(dtype))
        if key not in self._cache:
            self._cache[key] = [xp.asarray(v, dtype=dtype)[None, :, None, None]
                                for v in self.layout.split(list(values))]
        return self._cache[key]

    def center(self, xp, dtype):
        key = ("C", xp.__name__, str(dtype))
        if key not in self._cache:
            self._cache[key] = stack_layers(self.layout, self._C, xp, dtype)
        return self._cache[key]

    def _offsets(self, X):
        xp = array_namespace(X[0])
        return [x - c for x, c in zip(X, self.center(xp, X[0].dtype))], xp

    # --- protocol -----------------------------------------------------------------------
    def initial_point(self, S, xp=numpy, dtype="float64"):
        return [xp.repeat(g, S, axis=0) for g in stack_layers(self.layout, self._X0, xp, dtype)]

    def minimiser(self, S=1, xp=numpy, dtype="float64"):
        """:math:`X^* = C` (every separable family here is minimised at its centre)."""
        return [xp.repeat(g, S, axis=0) for g in self.center(xp, dtype)]

    def value(self, X):
        D, xp = self._offsets(X)
        return self._phi(D, xp)

    def grad(self, X):
        D, xp = self._offsets(X)
        return self._phi_grad(D, xp)

    def sample(self, rngs, xp=numpy, dtype="float64"):
        return self.noise_model.draw(rngs, self.layout, xp, dtype)

    def stochastic_grad(self, X, sample):
        xp = array_namespace(X[0])
        return self.noise_model.apply(self.grad(X), X, sample, self.center(xp, X[0].dtype))

    def without_noise(self):
        return type(self)(**{**self._kwargs, "noise": "none", "sigma": 0.0, "hess_noise": 0.0})

    def hypotheses_region(self, xp=numpy, dtype="float64"):
        """The ball where sigma is declared under curvature noise (see :meth:`in_region`)."""
        if self.noise_model.name != "curvature":
            return None
        return self.center(xp, dtype), tuple(self.region_radius)

    # --- certification support ------------------------------------------------------------
    def in_region(self, X, Y=None):
        r"""``(S,)`` bool: the pairs ``(X, Y)`` (or points ``X``) lie where the constants are declared.

        ``X`` must lie in the ball :math:`\|X_i - C_i\|_F \le R_i` when the noise is
        ``curvature`` (its sigma holds there only); the pair must satisfy
        :math:`\|X_i - Y_i\|_{(i)} \le` ``pair_radius`` when the family states A1 for close
        pairs only.
        """
        from gluon_mvr.problems.constants_estimation import frobenius_sq, layer_norms
        ok = numpy.ones(X[0].shape[0], dtype=bool)
        if self.noise_model.name == "curvature":
            C = self.center(numpy, "float64")
            r2 = frobenius_sq(self.layout, [numpy.asarray(x) - c for x, c in zip(X, C)])
            ok &= (r2 <= (numpy.asarray(self.region_radius) ** 2) * (1 + 1e-9)).all(axis=1)
        if Y is not None and self.pair_radius is not None:
            d = layer_norms(self.layout, self.constants.norms, [x - y for x, y in zip(X, Y)], dual=False)
            ok &= (d <= numpy.asarray(self.pair_radius) * (1 + 1e-9)).all(axis=1)
        return ok

    def sample_pairs(self, rng, n: int):
        r"""``n`` pairs ``(X, Y)`` (host float64 params with ``S = n``) in the stated region.

        :math:`X_i = C_i + u R_i U_i` (:math:`u\sim U[0,1]`, :math:`\|U_i\|_F=1`) and
        :math:`Y_i = X_i + v\,V_i` with :math:`\|V_i\|_{(i)} = 1` and :math:`v` log-uniform in
        :math:`[10^{-3}, 1]` times the pair radius (``pair_radius`` when A1 is stated only for
        close pairs, else :math:`R_i`), so both local and distant pairs are seen.  Every pair
        moves every layer, as a Gluon step does.
        """
        from gluon_mvr.methods.norms import get_norm
        geom = get_norm(self.norm)
        Xs, Ys = [], []
        for i, (m, n_) in enumerate(self.layout.shapes):
            U = rng.standard_normal((n, m, n_))
            U /= numpy.linalg.norm(U, axis=(1, 2), keepdims=True)
            X = self._C[i][None] + (rng.uniform(0, 1, n) * self.region_radius[i])[:, None, None] * U
            V = rng.standard_normal((n, m, n_))
            V /= numpy.asarray(geom.norm(V))[:, None, None]
            reach = self.pair_radius[i] if self.pair_radius is not None else self.region_radius[i]
            v = reach * 10.0 ** rng.uniform(-3, 0, n)
            Xs.append(X)
            Ys.append(X + v[:, None, None] * V)
        return self.layout.from_layers(Xs), self.layout.from_layers(Ys)
