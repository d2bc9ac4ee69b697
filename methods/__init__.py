"""Gluon and MVR-Gluon as composable, seed-batched NumPy/CuPy code.

geometry (:mod:`methods.norms`, :mod:`methods.inexact`) x estimator (:mod:`methods.estimators`)
x schedule (:mod:`methods.schedules`), run by :func:`methods.loop.run`.
"""
from gluon_mvr.methods.backend import array_namespace, get_backend
from gluon_mvr.methods.estimators import get_estimator
from gluon_mvr.methods.inexact import ControlledErrorLMO, newton_schulz
from gluon_mvr.methods.layout import Layout
from gluon_mvr.methods.loop import Trajectory, run, seed_generators
from gluon_mvr.methods.norms import NORM_NAMES, available_norms, get_norm
from gluon_mvr.methods.presets import METHOD_NAMES, get_method
from gluon_mvr.methods.schedules import (Schedule, adaptive_schedule, constant_schedule, gluon_decreasing_schedule,
                        horizon_schedule)

__all__ = ["array_namespace", "get_backend", "get_estimator", "ControlledErrorLMO", "newton_schulz",
           "Layout", "Trajectory", "run", "seed_generators", "NORM_NAMES", "available_norms",
           "get_norm", "METHOD_NAMES", "get_method", "Schedule", "adaptive_schedule",
           "constant_schedule", "gluon_decreasing_schedule", "horizon_schedule"]
