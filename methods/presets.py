"""Known methods by name: each a :class:`~gluon_mvr.methods.method.Method` composition.

=================  ===========================  ===============================  ==================
name               estimator                    geometry (per layer)             schedule
=================  ===========================  ===============================  ==================
gluon              momentum                     the problem's own layer norms    theory, ``gluon``
mvr1, mvr2, mvr3   MVR-1/2/3                    the problem's own layer norms    theory, own claim
mvr3-storm         MVR-3, alternative form      the problem's own layer norms    theory, ``mvr3``
mvr1-prev          MVR-1 with previous sample   the problem's own layer norms    theory, ``mvr1``
muon               momentum                     spectral on every layer          theory, ``gluon``
scion              momentum                     scaled spectral, scaled sign     theory, ``gluon``
                                                head (last layer)
normalized-sgd     momentum                     frobenius                        theory, ``gluon``
sign-sgd           momentum                     sign                             theory, ``gluon``
gluon-det          exact gradient               the problem's own norms          adaptive radius
=================  ===========================  ===============================  ==================

Any method can swap its spectral LMO for an inexact one (:meth:`Method.with_lmo`).
"""
from __future__ import annotations

from gluon_mvr.methods.estimators import (ExactGradientEstimator, MomentumEstimator, MVR1Estimator,
                                          MVR2Estimator, MVR3Estimator, PreviousSampleEstimator)
from gluon_mvr.methods.geometry import (INEXACT_LMOS, Frobenius, ProblemNorms, Scion, Sign,  # noqa: F401
                                        Spectral, build_norm)
from gluon_mvr.methods.method import Method
from gluon_mvr.methods.schedules import AdaptiveRadius, TheorySchedule

PRESETS = {m.name: m for m in (
    Method(ProblemNorms(), MomentumEstimator(), TheorySchedule("gluon"), "gluon",
           "Gluon: momentum + LMO in the problem's norms [C]"),
    Method(ProblemNorms(), MVR1Estimator(), TheorySchedule("mvr1"), "mvr1", "Gluon-MVR-1 (Alg. 2) [C]"),
    Method(ProblemNorms(), MVR2Estimator(), TheorySchedule("mvr2"), "mvr2", "Gluon-MVR-2 (Alg. 4) [C]"),
    Method(ProblemNorms(), MVR3Estimator(), TheorySchedule("mvr3"), "mvr3",
           "Gluon-MVR-3 (Alg. 5), default form [R]"),
    Method(ProblemNorms(), MVR3Estimator("storm"), TheorySchedule("mvr3"), "mvr3-storm",
           "Gluon-MVR-3, alternative correction beta (g^k - g^{k-1}) [R]"),
    Method(ProblemNorms(), PreviousSampleEstimator("mvr1"), TheorySchedule("mvr1"), "mvr1-prev",
           "contrast: MVR-1 reusing the previous sample (no variance reduction)"),
    Method(Spectral(), MomentumEstimator(), TheorySchedule("gluon"), "muon", "Muon: momentum + spectral LMO"),
    Method(Scion(), MomentumEstimator(), TheorySchedule("gluon"), "scion",
           "Scion: scaled spectral hidden layers + scaled sign head"),
    Method(Frobenius(), MomentumEstimator(), TheorySchedule("gluon"), "normalized-sgd",
           "normalized SGD with momentum"),
    Method(Sign(), MomentumEstimator(), TheorySchedule("gluon"), "sign-sgd", "signSGD with momentum (signum)"),
    Method(ProblemNorms(), ExactGradientEstimator(), AdaptiveRadius(), "gluon-det",
           "deterministic Gluon: exact gradient, adaptive radius [C, Thm 1]"),
)}

METHOD_NAMES = tuple(PRESETS)


def get_method(method) -> Method:
    """The preset named ``method``, or ``method`` itself when it is a :class:`Method`."""
    if isinstance(method, Method):
        return method
    try:
        return PRESETS[method]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(PRESETS)}") from None
