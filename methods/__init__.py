"""Gluon and MVR-Gluon as composable, seed-batched NumPy/CuPy code.

A method is geometry (:mod:`.geometry`: norms and exact or inexact LMOs) x estimator
(:mod:`.estimators`) x schedule rule (:mod:`.schedules`), composed by :class:`Method`
(:mod:`.method`); presets are named compositions (:mod:`.presets`), the rate check's controls
too (:mod:`.controls`).  :func:`run` runs one over a batch of seeds.
"""
from gluon_mvr.methods.backend import array_namespace, get_backend
from gluon_mvr.methods.estimators import (Estimator, ExactGradientEstimator, MomentumEstimator, MVR1Estimator,
                                          MVR2Estimator, MVR3Estimator, NoMomentumEstimator,
                                          PreviousSampleEstimator, StepParams, get_estimator,
                                          register_estimator)
from gluon_mvr.methods.geometry import (Exact, Frobenius, Geometry, NewtonSchulz, PolarExpress, ProblemNorms,
                                        Scion, ScaledSpectral, Sign, Spectral, Uniform, build_norm)
from gluon_mvr.methods.inexact import ControlledErrorLMO, newton_schulz
from gluon_mvr.methods.layout import Layout
from gluon_mvr.methods.loop import Trajectory, run, seed_generators
from gluon_mvr.methods.method import Method
from gluon_mvr.methods.norms import NORM_NAMES, available_norms, get_norm
from gluon_mvr.methods.presets import METHOD_NAMES, PRESETS, get_method
from gluon_mvr.methods.schedules import (AdaptiveRadius, Schedule, StarSchedule, TheorySchedule,
                                         adaptive_schedule, constant_schedule, gluon_decreasing_schedule,
                                         horizon_schedule)

__all__ = ["array_namespace", "get_backend", "Estimator", "ExactGradientEstimator", "MomentumEstimator",
           "MVR1Estimator", "MVR2Estimator", "MVR3Estimator", "NoMomentumEstimator", "PreviousSampleEstimator",
           "StepParams", "get_estimator", "register_estimator", "Exact", "Frobenius", "Geometry", "NewtonSchulz",
           "PolarExpress", "ProblemNorms", "Scion", "ScaledSpectral", "Sign", "Spectral", "Uniform", "build_norm",
           "ControlledErrorLMO", "newton_schulz", "Layout", "Trajectory", "run", "seed_generators", "Method",
           "NORM_NAMES", "available_norms", "get_norm", "METHOD_NAMES", "PRESETS", "get_method",
           "AdaptiveRadius", "Schedule", "StarSchedule", "TheorySchedule", "adaptive_schedule",
           "constant_schedule", "gluon_decreasing_schedule", "horizon_schedule"]
