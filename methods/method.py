r"""A method is a composition: geometry x gradient estimator x schedule (docs/theory.md §3).

:class:`Method` is a frozen value.  The presets of :mod:`gluon_mvr.methods.presets` (``gluon``,
``mvr1``, ..., ``muon``, ``scion``) are named compositions, and so are the controls of the rate
check (:mod:`gluon_mvr.methods.controls`): plain momentum on MVR's schedule is
``Method(ProblemNorms(), MomentumEstimator(), TheorySchedule("mvr1"))``.

>>> from gluon_mvr.methods import Method, Spectral, NewtonSchulz, MVR1Estimator, TheorySchedule
>>> muon_mvr = Method(Spectral(lmo=NewtonSchulz(steps=5)), MVR1Estimator(), TheorySchedule("mvr1"),
...                   name="muon-mvr1")
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from gluon_mvr.methods.estimators import Estimator, estimator_from_description
from gluon_mvr.methods.geometry import Geometry
from gluon_mvr.methods.schedules import StarSchedule, TheorySchedule, rule_from_description


@dataclass(frozen=True)
class Method:
    """Geometry x estimator x schedule rule.

    Attributes
    ----------
    geometry : Geometry
        Per-layer norms and the LMO (:mod:`gluon_mvr.methods.geometry`).
    estimator : Estimator
        How :math:`M^k` is formed (:mod:`gluon_mvr.methods.estimators`).
    schedule : TheorySchedule, StarSchedule, AdaptiveRadius or Schedule
        How the radius, :math:`\\beta` and :math:`q` are chosen for a run of horizon ``K``
        (:mod:`gluon_mvr.methods.schedules`); a concrete :class:`Schedule` is used as it is.
    name : str
        Label stored with results (a preset's name, or one you choose).
    summary : str
        One line for listings.
    """

    geometry: Geometry
    estimator: Estimator
    schedule: object
    name: str = "custom"
    summary: str = field(default="", compare=False)

    def __post_init__(self):
        if not isinstance(self.geometry, Geometry):
            raise TypeError(f"Method.geometry: expected a Geometry; got {self.geometry!r}")
        if not isinstance(self.estimator, Estimator):
            raise TypeError(f"Method.estimator: expected an Estimator; got {self.estimator!r}")
        if not (hasattr(self.schedule, "build") and hasattr(self.schedule, "describe_rule")):
            raise TypeError(f"Method.schedule: expected a schedule rule or a Schedule; got {self.schedule!r}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Method.name: a non-empty string; got {self.name!r}")

    # -- what the rest of the toolkit asks of a method -------------------------------------
    @property
    def deterministic(self) -> bool:
        """Exact gradients (no samples): deterministic Gluon."""
        return self.estimator.exact_gradient

    @property
    def calls_per_step(self) -> int:
        return 1 if self.deterministic else self.estimator.calls_per_step

    @property
    def schedule_family(self):
        """The claim whose horizon rule the schedule follows (``None`` for other schedules)."""
        return getattr(self.schedule, "claim", None)

    @property
    def claim(self):
        """The :class:`gluon_mvr.theory.claims.Claim` of the estimator, or ``None``."""
        from gluon_mvr.theory.claims import get_claim
        name = self.estimator.claim
        return None if name is None else get_claim(name)

    def theory_exponent(self, criterion: str = "stationarity"):
        """The claimed exponent of the estimator for ``criterion``, or ``None``."""
        c = self.claim
        return None if c is None else c.exponent(criterion)

    def layer_norm_names(self, problem_norms) -> tuple:
        return self.geometry.layer_norm_names(problem_norms)

    def make_estimator(self) -> Estimator:
        return self.estimator

    def build_schedule(self, K: int, problem):
        """The concrete :class:`Schedule` of a run of horizon ``K`` on ``problem``."""
        return self.schedule.build(K, problem)

    # -- variations ----------------------------------------------------------------------
    def with_lmo(self, lmo) -> "Method":
        """The same method with another LMO in its spectral layers."""
        return replace(self, geometry=self.geometry.with_lmo(lmo))

    def with_schedule(self, schedule, name: str | None = None) -> "Method":
        return replace(self, schedule=schedule, name=name or self.name)

    def with_schedule_scales(self, radius_scale=None, momentum_scale=None, beta=None) -> "Method":
        """Theory/star schedules with other free constants (``None`` keeps the method's own)."""
        s = self.schedule
        kw = {k: v for k, v in (("radius_scale", radius_scale), ("momentum_scale", momentum_scale),
                                ("beta", beta)) if v is not None}
        if isinstance(s, StarSchedule):
            kw.pop("radius_scale", None)
        if not kw or not isinstance(s, (TheorySchedule, StarSchedule)):
            return self
        return replace(self, schedule=replace(s, **{k: float(v) for k, v in kw.items()}))

    def star(self) -> "Method":
        """The star-convex Frank–Wolfe form of this method's theory schedule [R]."""
        s = self.schedule
        if isinstance(s, StarSchedule):
            return self
        if not isinstance(s, TheorySchedule):
            raise ValueError(f"method {self.name!r}: the star-convex form needs a theory schedule")
        return replace(self, schedule=StarSchedule(s.claim, s.momentum_scale, s.beta, s.mixing_into))

    # -- identity ------------------------------------------------------------------------
    def describe(self) -> dict:
        """JSON-able identity (what a stored cell is keyed by)."""
        return {"name": self.name, "geometry": self.geometry.describe(),
                "estimator": self.estimator.describe(), "schedule": self.schedule.describe_rule()}

    @classmethod
    def from_description(cls, d: dict) -> "Method":
        """Inverse of :meth:`describe` (estimators must be registered)."""
        return cls(Geometry.from_description(d["geometry"]), estimator_from_description(d["estimator"]),
                   rule_from_description(d["schedule"]), name=d.get("name", "custom"))

    def __str__(self):
        return self.name
