r"""Controls: compositions that share a method's geometry and schedule but lack its mechanism
(docs/theory.md §8).

A rate check attributes a method's exponent to its mechanism only when the method beats every
control.  For a variance-reduced estimator (MVR-1/2/3, anything with the same-sample correction):

- ``momentum``: plain momentum :math:`M^k = \beta M^{k-1} + (1-\beta) g^k` with :math:`1-\beta`
  equal to the method's own decaying mixing parameter (``1 - beta`` of MVR-1, ``q`` of MVR-2/3),
  on the same radius;
- ``no-momentum``: the raw stochastic gradient (:math:`\beta = 0`) on the same radius;
- ``prev-sample``: the same estimator fed the previous iteration's sample (no variance reduction).

For momentum (Gluon, Muon, ...): ``no-momentum`` on the same radius.  Estimators without a
mechanism of this kind (the raw gradient, exact gradients) get no controls.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from gluon_mvr.methods.estimators import (MomentumEstimator, NoMomentumEstimator, PreviousSampleEstimator)
from gluon_mvr.methods.method import Method
from gluon_mvr.methods.presets import get_method
from gluon_mvr.methods.schedules import StarSchedule, TheorySchedule

CONTROL_KINDS = ("momentum", "no-momentum", "prev-sample")


@dataclass(frozen=True)
class Control:
    """A control of ``of``: ``kind`` (:data:`CONTROL_KINDS`) and the composition it runs."""

    of: str
    kind: str
    method: Method

    @property
    def name(self) -> str:
        return self.method.name


def _as_momentum_schedule(schedule):
    """The method's schedule with its decaying mixing parameter moved into ``1 - beta``."""
    if isinstance(schedule, (TheorySchedule, StarSchedule)):
        return replace(schedule, mixing_into="one_minus_beta")
    return schedule


def controls_for(method) -> list:
    """The controls of ``method`` (a preset name or a :class:`Method`), in a fixed order."""
    m = get_method(method)
    est = m.estimator
    out = []

    def add(kind, estimator, schedule=None):
        out.append(Control(m.name, kind, Method(m.geometry, estimator, schedule or m.schedule,
                                                name=f"{m.name}~{kind}",
                                                summary=f"control of {m.name}: {kind}")))

    if est.same_sample_previous:
        add("momentum", MomentumEstimator(), _as_momentum_schedule(m.schedule))
        add("no-momentum", NoMomentumEstimator())
        options = tuple((k, v) for k, v in est.describe().items() if k != "name")
        add("prev-sample", PreviousSampleEstimator(est.name, options))
    elif isinstance(est, MomentumEstimator):
        add("no-momentum", NoMomentumEstimator())
    return out
