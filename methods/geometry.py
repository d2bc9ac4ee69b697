r"""Geometry: the norm of each layer and how its LMO is computed (docs/theory.md §1, §6).

A geometry is a frozen value.  :func:`ProblemNorms` uses the norms in which the problem states its
constants (Gluon's setting); :func:`Spectral`, :func:`Frobenius`, :func:`Sign`, ... put one norm on
every layer (Muon = spectral everywhere); :func:`Scion` uses scaled spectral norms for the hidden
layers and the scaled sign norm for the head.  The LMO of the spectral norms is exact
(:class:`Exact`) or inexact (:class:`NewtonSchulz`, :class:`PolarExpress`), as part of the
geometry::

    Spectral(lmo=NewtonSchulz(steps=5))            # Muon's update
    ProblemNorms(lmo=PolarExpress(steps=5))        # Gluon with Polar Express in spectral layers

Other norms have closed-form LMOs and ignore ``lmo``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gluon_mvr.methods.norms import NORM_NAMES, get_norm

SPECTRAL_NORMS = ("spectral", "scaled-spectral")


@dataclass(frozen=True)
class Exact:
    """The exact LMO (SVD-based for spectral norms)."""

    def describe(self) -> dict:
        return {"kind": "exact"}

    @property
    def label(self) -> str:
        return "exact"


NS_COEFFICIENTS = ("jordan", "cubic", "quintic")


@dataclass(frozen=True)
class NewtonSchulz:
    r"""Newton–Schulz orthogonalisation with fixed coefficients (``'jordan'``: Muon's
    :math:`(3.4445, -4.7750, 2.0315)` [C]; ``'cubic'``, ``'quintic'``), ``steps`` iterations, in
    working dtype ``dtype`` (``None``: the run's dtype)."""

    steps: int = 5
    coefficients: str = "jordan"
    dtype: str | None = None

    def __post_init__(self):
        if self.coefficients not in NS_COEFFICIENTS:
            raise ValueError(f"NewtonSchulz.coefficients: allowed {', '.join(NS_COEFFICIENTS)}; "
                             f"got {self.coefficients!r}")
        if isinstance(self.steps, bool) or int(self.steps) != self.steps or self.steps < 1:
            raise ValueError(f"NewtonSchulz.steps: an integer >= 1; got {self.steps!r}")
        object.__setattr__(self, "steps", int(self.steps))

    def describe(self) -> dict:
        return {"kind": "newton-schulz", "steps": self.steps, "coefficients": self.coefficients,
                "dtype": self.dtype}

    @property
    def label(self) -> str:
        return f"ns-{self.coefficients}"


@dataclass(frozen=True)
class PolarExpress:
    """Polar Express (per-step coefficients for singular values in [1e-3, 1]) [C]."""

    steps: int = 5
    dtype: str | None = None

    def __post_init__(self):
        if isinstance(self.steps, bool) or int(self.steps) != self.steps or self.steps < 1:
            raise ValueError(f"PolarExpress.steps: an integer >= 1; got {self.steps!r}")
        object.__setattr__(self, "steps", int(self.steps))

    def describe(self) -> dict:
        return {"kind": "polar-express", "steps": self.steps, "dtype": self.dtype}

    @property
    def label(self) -> str:
        return "polar-express"


# The names the command line and the configs use for the LMO choices (kept from version 0.1).
INEXACT_LMOS = ("exact", "ns-jordan", "ns-cubic", "ns-quintic", "polar-express")


def lmo_from_name(name: str, steps: int = 5, dtype=None):
    """The LMO value for a command-line name (:data:`INEXACT_LMOS`)."""
    if name not in INEXACT_LMOS:
        raise ValueError(f"unknown lmo {name!r}; allowed: {', '.join(INEXACT_LMOS)}")
    if name == "exact":
        return Exact()
    if name == "polar-express":
        return PolarExpress(steps, dtype)
    return NewtonSchulz(steps, name[3:], dtype)


def lmo_from_description(d: dict):
    kind = d.get("kind")
    if kind == "exact":
        return Exact()
    if kind == "newton-schulz":
        return NewtonSchulz(d["steps"], d["coefficients"], d.get("dtype"))
    if kind == "polar-express":
        return PolarExpress(d["steps"], d.get("dtype"))
    raise ValueError(f"unknown lmo kind {kind!r}; allowed: exact, newton-schulz, polar-express")


def build_norm(name: str, lmo="exact", ns_steps: int = 5, ns_dtype=None):
    """Norm object for a layer; spectral norms take the inexact LMO ``lmo`` (a name of
    :data:`INEXACT_LMOS` or an LMO value) when asked."""
    if isinstance(lmo, str):
        lmo = lmo_from_name(lmo, ns_steps, ns_dtype)
    if isinstance(lmo, Exact) or name not in SPECTRAL_NORMS:
        return get_norm(name)
    coeffs = "polar-express" if isinstance(lmo, PolarExpress) else lmo.coefficients
    return get_norm(name + "-ns", steps=lmo.steps, coefficients=coeffs, dtype=lmo.dtype)


@dataclass(frozen=True)
class Geometry:
    """Per-layer norms and their LMO.

    Attributes
    ----------
    norm : str or None
        One norm for every layer, or ``None``: the problem's own layer norms.
    head : str or None
        Norm of the last layer when it differs (Scion's head); ``None``: same as the others.
    lmo : Exact, NewtonSchulz or PolarExpress
        How the spectral-type LMOs are computed.
    """

    norm: str | None = None
    head: str | None = None
    lmo: object = field(default_factory=Exact)

    def __post_init__(self):
        if isinstance(self.lmo, str):
            object.__setattr__(self, "lmo", lmo_from_name(self.lmo))
        if not isinstance(self.lmo, (Exact, NewtonSchulz, PolarExpress)):
            raise ValueError(f"geometry.lmo: Exact(), NewtonSchulz(...), PolarExpress(...) or one of "
                             f"{', '.join(INEXACT_LMOS)}; got {self.lmo!r}")
        for what in ("norm", "head"):
            v = getattr(self, what)
            if v is not None and v not in NORM_NAMES:
                raise ValueError(f"geometry.{what}: allowed norms {', '.join(NORM_NAMES)}; got {v!r}")

    @property
    def uses_problem_norms(self) -> bool:
        return self.norm is None and self.head is None

    def layer_norm_names(self, problem_norms) -> tuple:
        """Norm name per layer for a problem whose constants are stated in ``problem_norms``."""
        p = len(problem_norms)
        names = list(problem_norms) if self.norm is None else [self.norm] * p
        if self.head is not None and p > 1:
            names[-1] = self.head
        return tuple(names)

    def norm_builder(self):
        """``name -> Norm`` with this geometry's LMO."""
        return lambda name: build_norm(name, self.lmo)

    def with_lmo(self, lmo) -> "Geometry":
        return Geometry(self.norm, self.head, lmo)

    def describe(self) -> dict:
        return {"norm": self.norm, "head": self.head, "lmo": self.lmo.describe()}

    @classmethod
    def from_description(cls, d: dict) -> "Geometry":
        return cls(d.get("norm"), d.get("head"), lmo_from_description(d.get("lmo", {"kind": "exact"})))


def ProblemNorms(lmo=None) -> Geometry:
    """The problem's own layer norms (Gluon)."""
    return Geometry(None, None, lmo or Exact())


def Uniform(norm: str, lmo=None) -> Geometry:
    """One norm on every layer."""
    return Geometry(norm, None, lmo or Exact())


def Spectral(lmo=None) -> Geometry:
    """Spectral norm on every layer (Muon's geometry); ``lmo`` exact or Newton–Schulz."""
    return Uniform("spectral", lmo)


def ScaledSpectral(lmo=None) -> Geometry:
    return Uniform("scaled-spectral", lmo)


def Frobenius() -> Geometry:
    """Frobenius norm on every layer (normalized SGD)."""
    return Uniform("frobenius")


def Sign() -> Geometry:
    """Max-norm on every layer (signSGD)."""
    return Uniform("sign")


def Scion(lmo=None) -> Geometry:
    """Scion: scaled spectral norms on the hidden layers, scaled sign on the head (last layer)."""
    return Geometry("scaled-spectral", "scaled-sign", lmo or Exact())
