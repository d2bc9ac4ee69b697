"""The problem protocol: a stochastic first-order oracle with declared, certifiable constants.

A problem is a layered objective ``f(X) = E_xi f_xi(X)`` over ``X = [X_1, ..., X_p]``, stored
as stacked groups (see :class:`methods.layout.Layout`), batched over ``S`` seeds on the
leading axis, on NumPy or CuPy.

Protocol (what methods/ and experiments/ rely on):

- ``layout`` : :class:`~methods.layout.Layout`; ``norms`` : per-layer norm names in which the
  declared constants are stated (the problem's own geometry);
- ``initial_point(S, xp, dtype)`` -> params, identical for every seed;
- ``value(X)`` -> ``(S,)``; ``grad(X)`` -> list of per-group arrays (exact gradient);
- ``sample(rngs, xp, dtype)`` -> one sample per seed, drawn from ``rngs[s]``
  (a list of ``numpy.random.Generator``, one per seed, so a batch of S seeds reproduces S single
  runs bit for bit); the same sample can be evaluated at two points;
- ``stochastic_grad(X, sample)`` -> list of per-group arrays;
- ``constants`` : :class:`Constants`; ``f_star`` : optimal value or ``None``;
- ``without_noise()`` -> the same problem with the noise switched off (same X0, same f).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy

from gluon_mvr.methods.layout import Layout

SIGMA_NORMS = ("frobenius", "dual")


def _per_layer(name, values, p, allow_inf=False):
    vals = tuple(float(v) for v in numpy.broadcast_to(numpy.asarray(values, dtype=float), (p,)))
    for i, v in enumerate(vals):
        if math.isnan(v) or v < 0 or (math.isinf(v) and not allow_inf):
            raise ValueError(f"constants.{name}[{i}]: must be a finite number >= 0; got {v}")
    return vals


@dataclass(frozen=True)
class Constants:
    r"""Declared per-layer constants of a problem, in the layer norms ``norms``.

    - A1 (layer-wise (L0,L1)-smoothness):
      :math:`\|\nabla_i f(X)-\nabla_i f(Y)\|_{(i)*} \le (L0_i + L1_i\|\nabla_i f(X)\|_{(i)*})\|X_i-Y_i\|_{(i)}`.
    - A2 (variance): :math:`E\|\nabla_i f_\xi(X)-\nabla_i f(X)\|^2 \le \sigma_i^2`, in the
      Frobenius norm (``sigma_norm='frobenius'``) or the dual norm (``'dual'``).
    - A3 (mean-squared smoothness, working form of docs/theory.md):
      :math:`E\sum_i\|D_i\|_{(i)*}^2 \le \sum_i \ell_i^2\|X_i-Y_i\|_{(i)}^2`.
    - ``rho_i`` : :math:`\|Z\|_{(i)*} \le \rho_i\|Z\|_F`.
    - ``region`` : where A1/A3 are claimed to hold (``'global'`` or a description).
    """

    norms: tuple
    L0: tuple
    L1: tuple
    ell: tuple
    sigma: tuple
    rho: tuple
    sigma_norm: str = "frobenius"
    region: str = "global"
    source: str = "closed form"

    def __post_init__(self):
        p = len(self.norms)
        object.__setattr__(self, "norms", tuple(str(n) for n in self.norms))
        for name in ("L0", "L1", "ell", "sigma", "rho"):
            object.__setattr__(self, name, _per_layer(name, getattr(self, name), p))
        if self.sigma_norm not in SIGMA_NORMS:
            raise ValueError(f"constants.sigma_norm must be one of {SIGMA_NORMS}; got {self.sigma_norm!r}")

    @property
    def n_layers(self) -> int:
        return len(self.norms)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    def without_noise(self) -> "Constants":
        z = (0.0,) * self.n_layers
        return replace(self, sigma=z, ell=z)


@dataclass
class Problem:
    """Base class with the shared machinery; families override the maths.

    Subclasses set ``name``, ``layout``, ``constants`` and implement ``_value``, ``_grad``,
    ``_initial_layers`` and a noise model (see :mod:`problems.noise`).
    """

    name: str = field(init=False, default="problem")

    # --- to be provided by families -------------------------------------------------
    layout: Layout = field(init=False)
    constants: Constants = field(init=False)
    f_star: Optional[float] = field(init=False, default=None)

    def initial_point(self, S: int, xp=numpy, dtype="float64"):
        raise NotImplementedError

    def value(self, X):
        raise NotImplementedError

    def grad(self, X):
        raise NotImplementedError

    def sample(self, rngs, xp=numpy, dtype="float64"):
        raise NotImplementedError

    def stochastic_grad(self, X, sample):
        raise NotImplementedError

    def without_noise(self) -> "Problem":
        raise NotImplementedError

    # --- where the declared constants hold (the bounds' hypotheses) ---------------------
    #: Largest step :math:`\|X_i^{k+1} - X_i^k\|_{(i)}` per layer for which A1 is declared
    #: (``None``: any step).
    pair_radius = None

    def hypotheses_region(self, xp=numpy, dtype="float64"):
        r"""``(centres, radii)``: the constants are declared only for iterates with
        :math:`\|X_i - C_i\|_F \le R_i` in every layer (centres stacked like the parameters, one
        radius per layer); ``None`` when they are declared everywhere."""
        return None

    # --- derived ------------------------------------------------------------------
    @property
    def norms(self) -> tuple:
        return self.constants.norms

    def delta0(self) -> float:
        """``f(X^0) - f*`` (``nan`` when ``f*`` is unknown)."""
        if self.f_star is None:
            return float("nan")
        X0 = self.initial_point(1)
        return float(numpy.asarray(self.value(X0))[0] - self.f_star)

    def ball_radii(self) -> tuple:
        r"""Per-layer radii :math:`D_i = \max(\|X^*_i\|, \|X^0_i\|)` in the layer norms: the
        smallest balls about 0 holding the minimiser and the start (Frank–Wolfe form, docs/theory.md §5)."""
        from gluon_mvr.methods.norms import get_norm
        minimiser = getattr(self, "minimiser", None)
        if minimiser is None:
            raise ValueError(f"problem {self.name!r} has no known minimiser: the star-convex "
                             f"(Frank–Wolfe) schedule needs one")
        star, start = self.layout.to_layers(minimiser(1)), self.layout.to_layers(self.initial_point(1))
        out = []
        for name, xs, x0 in zip(self.norms, star, start):
            norm = get_norm(name)
            out.append(float(max(norm.norm(xs)[0], norm.norm(x0)[0])))
        return tuple(out)

    def describe(self) -> dict:
        """Plain-data description (for stores and JSON)."""
        return {"name": self.name, "shapes": [list(s) for s in self.layout.shapes],
                "constants": self.constants.as_dict(), "f_star": self.f_star,
                "delta0": self.delta0()}
