"""Known methods by name: an estimator, a per-layer geometry rule and a default schedule rule.

=================  ===========================  =================================================
name               estimator                    geometry (per layer)
=================  ===========================  =================================================
gluon              momentum                     the problem's own layer norms
mvr1, mvr2, mvr3   MVR-1/2/3                    the problem's own layer norms
mvr3-storm         MVR-3, alternative form      the problem's own layer norms
mvr1-prev          MVR-1 with previous sample   the problem's own layer norms (contrast)
muon               momentum                     spectral on every layer
scion              momentum                     scaled spectral, last layer scaled sign (head)
normalized-sgd     momentum                     frobenius
sign-sgd           momentum                     sign
gluon-det          none (exact gradient)        the problem's own norms, adaptive radius
=================  ===========================  =================================================

Any method can swap its spectral LMO for an inexact one (``lmo='ns-jordan'`` etc.).
"""
from __future__ import annotations

from dataclasses import dataclass

from gluon_mvr.methods.estimators import get_estimator
from gluon_mvr.methods.norms import get_norm


@dataclass(frozen=True)
class MethodSpec:
    name: str
    estimator: str
    estimator_options: tuple = ()
    geometry: str = "problem"          # 'problem', a norm name, or 'scion'
    schedule_family: str = "gluon"     # which horizon rule ('gluon', 'mvr1', 'mvr2', 'mvr3')
    deterministic: bool = False
    summary: str = ""

    def make_estimator(self):
        return get_estimator(self.estimator, **dict(self.estimator_options))

    def layer_norm_names(self, problem_norms):
        """Norm name per layer for a problem whose constants are stated in ``problem_norms``."""
        p = len(problem_norms)
        if self.geometry == "problem":
            return tuple(problem_norms)
        if self.geometry == "scion":
            return ("scaled-spectral",) * (p - 1) + ("scaled-sign",) if p > 1 else ("scaled-spectral",)
        return (self.geometry,) * p


PRESETS = {spec.name: spec for spec in (
    MethodSpec("gluon", "momentum", summary="Gluon: momentum + LMO in the problem's norms [C]"),
    MethodSpec("mvr1", "mvr1", schedule_family="mvr1", summary="Gluon-MVR-1 (Alg. 2) [C]"),
    MethodSpec("mvr2", "mvr2", schedule_family="mvr2", summary="Gluon-MVR-2 (Alg. 4) [C]"),
    MethodSpec("mvr3", "mvr3", schedule_family="mvr3", summary="Gluon-MVR-3 (Alg. 5), default form [R]"),
    MethodSpec("mvr3-storm", "mvr3", (("correction", "storm"),), schedule_family="mvr3",
               summary="Gluon-MVR-3, alternative correction beta (g^k - g^{k-1}) [R]"),
    MethodSpec("mvr1-prev", "mvr1-prev", schedule_family="mvr1",
               summary="contrast: MVR-1 reusing the previous sample (no variance reduction)"),
    MethodSpec("muon", "momentum", geometry="spectral", summary="Muon: momentum + spectral LMO"),
    MethodSpec("scion", "momentum", geometry="scion",
               summary="Scion: scaled spectral hidden layers + scaled sign head"),
    MethodSpec("normalized-sgd", "momentum", geometry="frobenius", summary="normalized SGD with momentum"),
    MethodSpec("sign-sgd", "momentum", geometry="sign", summary="signSGD with momentum (signum)"),
    MethodSpec("gluon-det", "momentum", deterministic=True,
               summary="deterministic Gluon: exact gradient, adaptive radius [C, Thm 1]"),
)}

METHOD_NAMES = tuple(PRESETS)
INEXACT_LMOS = ("exact", "ns-jordan", "ns-cubic", "ns-quintic", "polar-express")


def get_method(name: str) -> MethodSpec:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(PRESETS)}") from None


def build_norm(name: str, lmo: str = "exact", ns_steps: int = 5, ns_dtype=None):
    """Norm object for a layer; spectral norms take the inexact LMO ``lmo`` when asked."""
    if lmo not in INEXACT_LMOS:
        raise ValueError(f"unknown lmo {lmo!r}; allowed: {', '.join(INEXACT_LMOS)}")
    if lmo == "exact" or name not in ("spectral", "scaled-spectral"):
        return get_norm(name)
    coeffs = "polar-express" if lmo == "polar-express" else lmo[3:]
    return get_norm(name + "-ns", steps=ns_steps, coefficients=coeffs, dtype=ns_dtype)
