"""gluon-mvr: check the rates of Gluon, Muon, Scion and their MVR variants.

``import gluon_mvr as gm``::

    res = gm.rate_check("quadratic", ["gluon", "mvr1"], horizons=[100, 316, 1000], seeds=4)
    print(res.table()); df = res.to_frame(); ax = res.plot()

The rooms are :mod:`gluon_mvr.methods` (geometry x estimator x schedule, the batched loop),
:mod:`gluon_mvr.problems` (certified families), :mod:`gluon_mvr.theory` (claims, bounds, the
symbolic verifier), :mod:`gluon_mvr.experiments` (cells, store, executors, studies, the CLI) and
:mod:`gluon_mvr.paper_figs` (figures).  The mathematics: ``docs/theory.md``.
"""
from gluon_mvr._version import __version__
from gluon_mvr.experiments.core.config import RateCheckConfig
from gluon_mvr.experiments.studies.certification import certify
from gluon_mvr.experiments.studies.lmo.study import lmo_error
from gluon_mvr.experiments.studies.rate_check import RateCheckResult, rate_check
from gluon_mvr.experiments.studies.result import StudyResult
from gluon_mvr.experiments.studies.tuning import tuned_rates
from gluon_mvr.methods import (METHOD_NAMES, Estimator, Exact, Geometry, Method, NewtonSchulz, PolarExpress,
                               ProblemNorms, Schedule, Scion, Spectral, StepParams, TheorySchedule, Trajectory,
                               get_method, register_estimator, run)
from gluon_mvr.methods.controls import controls_for
from gluon_mvr.problems import get_problem
from gluon_mvr.theory.claims import CLAIMS, get_claim

__all__ = ["__version__", "RateCheckConfig", "RateCheckResult", "rate_check", "certify", "lmo_error", "StudyResult",
           "tuned_rates", "METHOD_NAMES", "Estimator",
           "Exact", "Geometry", "Method", "NewtonSchulz", "PolarExpress", "ProblemNorms", "Schedule", "Scion",
           "Spectral", "StepParams", "TheorySchedule", "Trajectory", "get_method", "register_estimator", "run",
           "controls_for", "get_problem", "CLAIMS", "get_claim"]
