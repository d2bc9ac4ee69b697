"""Gluon and MVR-Gluon as composable, seed-batched NumPy/CuPy code.

geometry (:mod:`methods.norms`, :mod:`methods.inexact`) x estimator (:mod:`methods.estimators`)
x schedule (:mod:`methods.schedules`), run by :func:`methods.loop.run`.
"""
from .backend import array_namespace, get_backend
from .estimators import get_estimator
from .inexact import ControlledErrorLMO, newton_schulz
from .layout import Layout
from .loop import Trajectory, run, seed_generators
from .norms import NORM_NAMES, available_norms, get_norm
from .presets import METHOD_NAMES, get_method
from .schedules import (Schedule, adaptive_schedule, constant_schedule, gluon_decreasing_schedule,
                        horizon_schedule)

__all__ = ["array_namespace", "get_backend", "get_estimator", "ControlledErrorLMO", "newton_schulz",
           "Layout", "Trajectory", "run", "seed_generators", "NORM_NAMES", "available_norms",
           "get_norm", "METHOD_NAMES", "get_method", "Schedule", "adaptive_schedule",
           "constant_schedule", "gluon_decreasing_schedule", "horizon_schedule"]
