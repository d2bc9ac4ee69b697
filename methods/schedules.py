r"""Radius (= stepsize), momentum and MVR-mixing schedules, per layer.

A schedule gives, at iteration ``k`` (0-based), the per-layer radii :math:`t_i^k`, the weight
:math:`\beta_k` on the old momentum (docs/theory.md convention: close to 1) and the MVR mixing
:math:`q_k`.  Every schedule here has the form

.. math::  t_i^k = t_i\,(k+1)^{-a},\qquad 1-\beta_k = \min\{1, c_\beta (k+1)^{-b}\},\qquad
           q_k = \min\{1, c_q (k+1)^{-e}\},

(``a = b = e = 0`` for the constant and horizon-K schedules), or the adaptive radius of
deterministic Gluon.  Provenance of each rule is stated in its docstring: **[C]** is the
paper's, **[R]** is derived or chosen here (docs/theory.md §4) and verified in :mod:`theory`.

The constants :math:`t_i`, :math:`c_\beta`, :math:`c_q` may also be given per batch element
(a whole grid of parameters run as one batch, see :class:`Schedule`); the exponents are shared.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy

from gluon_mvr.theory.claims import (CLAIM_NAMES, DEFAULT_BETA, DEFAULT_MOMENTUM_SCALE,  # noqa: F401
                                     DEFAULT_RADIUS_SCALE, check_positive, check_unit, horizon_exponents,
                                     horizon_parameters, radius_cap, star_parameters, star_step)

HORIZON_METHODS = CLAIM_NAMES



@dataclass(frozen=True)
class Schedule:
    r"""Per-iteration parameters; see the module docstring for the formulas.

    Attributes
    ----------
    radius : tuple of float, or tuple of tuples (S, p)
        Base radii :math:`t_i`, one per layer; or one row of ``p`` radii per batch element
        ``s`` (:math:`t_{s,i}^k = t_{s,i}(k+1)^{-a}`).
    radius_decay : float
        Exponent ``a`` of :math:`t_i^k = t_i (k+1)^{-a}`.
    one_minus_beta, beta_decay : float
        :math:`1-\\beta_k = \\min(1, c_\\beta (k+1)^{-b})`; ``one_minus_beta`` (:math:`c_\\beta`)
        may be a tuple ``(S,)``, one per batch element.
    q, q_decay : float
        :math:`q_k = \\min(1, c_q (k+1)^{-e})` (used by MVR-2/3 only); ``q`` (:math:`c_q`) may be
        a tuple ``(S,)``, one per batch element.
    adaptive : tuple of (L0, L1) per layer or None
        Deterministic Gluon's radius :math:`t_i = a_i/(L0_i + L1_i a_i)`,
        :math:`a_i = \\|M_i\\|_*` [C, GLUON Thm 1]; ``radius`` then caps nothing and is ignored.
    label : str
        Human description (stored with results).
    ball : tuple of float or None
        Ball radii :math:`D_i` of the Frank–Wolfe (weight-decay) form: the step becomes
        :math:`X_i^{k+1} = (1-a_k)X_i^k + a_k D_i\,\mathrm{lmo}(M_i^k)` with
        :math:`a_k D_i = t_i^k` (docs/theory.md §5).

    Notes
    -----
    Per-element constants (any of ``radius`` ``(S, p)``, ``one_minus_beta`` ``(S,)``, ``q``
    ``(S,)``) fix the batch size :attr:`n_elements`; :func:`methods.loop.run` then applies row
    ``s`` to batch element ``s``, which gives the run of the shared schedule with row ``s``'s
    values (bit for bit in float64).  Theory bounds (:mod:`theory`) take shared schedules only.
    """

    radius: tuple
    radius_decay: float = 0.0
    one_minus_beta: float | tuple = 1.0
    beta_decay: float = 0.0
    q: float | tuple = 1.0
    q_decay: float = 0.0
    adaptive: tuple | None = None
    label: str = "constant"
    ball: tuple | None = None

    def __post_init__(self):
        if numpy.ndim(self.radius) == 2:        # one row of radii per batch element
            radius = tuple(tuple(check_positive(f"schedule.radius[{s}][{i}]", r) for i, r in enumerate(row))
                           for s, row in enumerate(self.radius))
            if not radius or not radius[0]:
                raise ValueError("schedule.radius: one radius per layer is needed")
        else:
            radius = tuple(check_positive(f"schedule.radius[{i}]", r) for i, r in enumerate(self.radius))
            if not radius:
                raise ValueError("schedule.radius: one radius per layer is needed")
        object.__setattr__(self, "radius", radius)
        check_positive("schedule.radius_decay", self.radius_decay, allow_zero=True)
        for name, decay in (("one_minus_beta", "beta_decay"), ("q", "q_decay")):
            value, rate = getattr(self, name), getattr(self, decay)
            # a decaying constant may exceed 1 (the min clips it); a constant one may not
            check = check_unit if rate == 0 else check_positive
            if numpy.ndim(value) == 0:
                check(f"schedule.{name}", value)       # kept as given (a shared constant)
            elif numpy.ndim(value) == 1 and len(value):
                object.__setattr__(self, name, tuple(check(f"schedule.{name}[{s}]", v)
                                                     for s, v in enumerate(value)))
            else:
                raise ValueError(f"schedule.{name}: a number, or one number per batch element; "
                                 f"got shape {numpy.shape(value)}")
            check_positive(f"schedule.{decay}", rate, allow_zero=True)
        sizes = {name: len(getattr(self, name)) for name in ("radius", "one_minus_beta", "q")
                 if self._per_element(name)}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"schedule: per-element constants need one batch size; got {sizes}")
        if sizes and self.adaptive is not None:
            raise ValueError("schedule: the adaptive radius takes no per-element constants")
        if self.ball is not None:
            ball = tuple(check_positive(f"schedule.ball[{i}]", d) for i, d in enumerate(self.ball))
            if len(ball) != self.n_layers:
                raise ValueError(f"schedule.ball: one radius per layer ({self.n_layers}); got {len(ball)}")
            object.__setattr__(self, "ball", ball)

    def _per_element(self, name) -> bool:
        value = getattr(self, name)
        return isinstance(value, tuple) and (name != "radius" or isinstance(value[0], tuple))

    @property
    def n_layers(self):
        return len(self.radius[0]) if self._per_element("radius") else len(self.radius)

    @property
    def n_elements(self):
        """Batch size fixed by per-element constants, or ``None`` when every constant is shared."""
        for name in ("radius", "one_minus_beta", "q"):
            if self._per_element(name):
                return len(getattr(self, name))
        return None

    def is_constant(self) -> bool:
        return self.radius_decay == 0 and self.beta_decay == 0 and self.q_decay == 0 \
            and self.adaptive is None

    def tables(self, K: int):
        """Host arrays for ``k = 0..K-1``: radius factor ``(K,)``, beta and q, each ``(K,)``, or
        ``(K, S)`` when its constant is per element (the radii are ``factor[k] * radius``)."""
        k1 = numpy.arange(1, K + 1, dtype=float)
        factor = k1 ** (-self.radius_decay)
        beta = 1.0 - numpy.minimum(1.0, _times(self.one_minus_beta, k1 ** (-self.beta_decay)))
        q = numpy.minimum(1.0, _times(self.q, k1 ** (-self.q_decay)))
        return factor, beta, q

    def describe(self) -> dict:
        def listed(v):
            return [listed(x) for x in v] if isinstance(v, tuple) else v
        return {"label": self.label, "radius": listed(self.radius), "radius_decay": self.radius_decay,
                "one_minus_beta": listed(self.one_minus_beta), "beta_decay": self.beta_decay,
                "q": listed(self.q), "q_decay": self.q_decay,
                "adaptive": None if self.adaptive is None else [list(a) for a in self.adaptive],
                "ball": None if self.ball is None else list(self.ball)}

    # A concrete schedule is its own schedule rule (see TheorySchedule below).
    claim = None

    def build(self, K: int, problem) -> "Schedule":
        """The schedule a run of horizon ``K`` uses: this one, whatever ``K``."""
        return self

    def describe_rule(self) -> dict:
        return {"kind": "fixed", **self.describe()}


def _times(constant, weights):
    """``constant * weights``: ``(K,)`` for a shared constant, ``(K, S)`` for one per element
    (the same products, so row ``s`` equals the shared table of constant ``s`` bit for bit)."""
    if isinstance(constant, tuple):
        return weights[:, None] * numpy.asarray(constant, dtype=float)[None, :]
    return constant * weights


def constant_schedule(radius, n_layers: int, beta: float = 0.9, q: float = 1.0) -> Schedule:
    """Constant radius, momentum and mixing (user-chosen, any method)."""
    r = numpy.broadcast_to(numpy.asarray(radius, dtype=float), (n_layers,))
    return Schedule(radius=tuple(r), one_minus_beta=1.0 - check_unit("beta", beta),
                    q=check_unit("q", q), label="constant")


def gluon_decreasing_schedule(radius, n_layers: int) -> Schedule:
    r"""[C, GLUON Thm 2]: :math:`\beta_k = 1-(k+1)^{-1/2}`, :math:`t_i^k = t_i (k+1)^{-3/4}`."""
    r = numpy.broadcast_to(numpy.asarray(radius, dtype=float), (n_layers,))
    return Schedule(radius=tuple(r), radius_decay=0.75, one_minus_beta=1.0, beta_decay=0.5,
                    label="gluon-decreasing")


def adaptive_schedule(L0, L1) -> Schedule:
    r"""[C, GLUON Thm 1]: deterministic Gluon, :math:`t_i = a_i/(L0_i + L1_i a_i)`, no momentum."""
    L0 = [float(v) for v in L0]
    L1 = [float(v) for v in L1]
    for i, (a, b) in enumerate(zip(L0, L1)):
        if a + b <= 0 or a < 0 or b < 0:
            raise ValueError(f"adaptive radius: layer {i} needs L0 >= 0, L1 >= 0, L0 + L1 > 0")
    return Schedule(radius=(1.0,) * len(L0), one_minus_beta=1.0,
                    adaptive=tuple(zip(L0, L1)), label="adaptive")


def horizon_schedule(method: str, K: int, L1, radius_scale: float = DEFAULT_RADIUS_SCALE,
                     momentum_scale: float = DEFAULT_MOMENTUM_SCALE, beta: float = DEFAULT_BETA) -> Schedule:
    r"""Constant parameters for a run of horizon ``K`` [R, docs/theory.md §4].

    - ``gluon``: :math:`1-\beta = c_\beta K^{-1/2}`, :math:`t_i = \min(t_0 K^{-3/4}, \mathrm{cap}_i)`.
    - ``mvr1``: :math:`1-\beta = c_\beta K^{-2/3}`, :math:`t_i = \min(t_0 K^{-2/3}, 1/L_{1,i})`.
    - ``mvr2``, ``mvr3``: :math:`q = c_\beta K^{-2/3}`, :math:`t_i = \min(t_0 K^{-2/3}, \mathrm{cap}_i)`,
      :math:`\beta` constant (``beta``).

    ``t_0`` = ``radius_scale``, ``c_beta`` = ``momentum_scale``; caps from :func:`radius_cap`.
    With these choices the transient :math:`\Delta_0/(tK)` and the noise terms balance at
    :math:`K^{-1/4}` (gluon) and :math:`K^{-1/3}` (MVR).
    """
    radii, omb, q = horizon_parameters(method, K, L1, radius_scale, momentum_scale, beta)
    return Schedule(radius=radii, one_minus_beta=omb, q=q, label=f"horizon-{method}")


def star_horizon_schedule(method: str, K: int, ball, momentum_scale: float = DEFAULT_MOMENTUM_SCALE,
                          beta: float = DEFAULT_BETA) -> Schedule:
    r"""Star-convex schedule for horizon ``K`` in Frank–Wolfe form (method chosen here [R];
    bounds in :mod:`theory.bounds_star`): :math:`X^{k+1} = (1-a)X^k + a D_i\,\mathrm{lmo}(M^k)`,
    :math:`a = 2\ln K/K`, and

    - ``gluon`` (momentum): :math:`1-\beta = c\,a^{2/3}` (noise :math:`\sqrt{1-\beta}` and momentum
      drift :math:`a/(1-\beta)` balance: :math:`\tilde O(K^{-1/3})`);
    - ``mvr1``: :math:`1-\beta = c\,a` (:math:`\tilde O(K^{-1/2})`);
    - ``mvr2``, ``mvr3``: :math:`q = c\,a`, :math:`\beta` constant.
    """
    D = tuple(check_positive(f"ball[{i}]", d) for i, d in enumerate(ball))
    a, omb, q = star_parameters(method, K, momentum_scale, beta)
    return Schedule(radius=tuple(a * d for d in D), one_minus_beta=omb, q=q, ball=D,
                    label=f"star-{method}")


def star_decreasing_schedule(method: str, radius, n_layers: int) -> Schedule:
    r"""Plain LMO steps with decreasing parameters for star-convex problems [R]:
    :math:`t_i^k = t_i/(k+1)`, and :math:`1-\beta_k = (k+1)^{-1}` (MVR-1; ``q_k`` for MVR-2/3)
    or :math:`(k+1)^{-2/3}` (momentum)."""
    r = numpy.broadcast_to(numpy.asarray(radius, dtype=float), (n_layers,))
    if method == "gluon":
        return Schedule(radius=tuple(r), radius_decay=1.0, one_minus_beta=1.0, beta_decay=2.0 / 3.0,
                        label="star-decreasing-gluon")
    if method == "mvr1":
        return Schedule(radius=tuple(r), radius_decay=1.0, one_minus_beta=1.0, beta_decay=1.0,
                        label="star-decreasing-mvr1")
    if method in ("mvr2", "mvr3"):
        return Schedule(radius=tuple(r), radius_decay=1.0, one_minus_beta=1.0 - DEFAULT_BETA, q=1.0,
                        q_decay=1.0, label=f"star-decreasing-{method}")
    raise ValueError(f"star schedule: unknown method {method!r}; allowed: {', '.join(HORIZON_METHODS)}")


# ---------------------------------------------------------------------------------------------
# Schedule rules: the schedule part of a Method.  A rule turns (horizon K, problem) into the
# concrete Schedule a run uses; a concrete Schedule is its own rule.
# ---------------------------------------------------------------------------------------------

MIXING_TARGETS = (None, "one_minus_beta")


def _mix_into_momentum(schedule: Schedule, claim: str) -> Schedule:
    """The claim's decaying mixing parameter moved into ``1 - beta`` (``q = 1``): plain momentum
    that averages over as many steps as the method's own estimator does (the controls)."""
    if get_claim_mixing(claim) == "one_minus_beta":
        return schedule
    return replace(schedule, one_minus_beta=schedule.q, q=1.0, label=schedule.label + "-as-momentum")


def get_claim_mixing(claim: str) -> str:
    from gluon_mvr.theory.claims import get_claim
    return get_claim(claim).mixing


@dataclass(frozen=True)
class TheorySchedule:
    r"""The horizon-K theory schedule of claim ``claim`` (:func:`horizon_schedule`) [R]:
    constant over a run, :math:`t = \min(t_0 K^{-a}, \mathrm{cap})` and the claim's mixing
    :math:`c K^{-b}`.  ``mixing_into='one_minus_beta'`` puts a ``q`` schedule's mixing into
    :math:`1-\beta` (so plain momentum sharing MVR-2/3's schedule averages as much)."""

    claim: str
    radius_scale: float = DEFAULT_RADIUS_SCALE
    momentum_scale: float = DEFAULT_MOMENTUM_SCALE
    beta: float = DEFAULT_BETA
    mixing_into: str | None = None

    def __post_init__(self):
        get_claim_mixing(self.claim)          # validates the claim name
        if self.mixing_into not in MIXING_TARGETS:
            raise ValueError(f"TheorySchedule.mixing_into: allowed None, 'one_minus_beta'; got {self.mixing_into!r}")

    def build(self, K: int, problem) -> Schedule:
        s = horizon_schedule(self.claim, K, problem.constants.L1, radius_scale=self.radius_scale,
                             momentum_scale=self.momentum_scale, beta=self.beta)
        return _mix_into_momentum(s, self.claim) if self.mixing_into else s

    def describe_rule(self) -> dict:
        return {"kind": "theory", "claim": self.claim, "radius_scale": float(self.radius_scale),
                "momentum_scale": float(self.momentum_scale), "beta": float(self.beta),
                "mixing_into": self.mixing_into}


@dataclass(frozen=True)
class StarSchedule:
    r"""The star-convex Frank–Wolfe horizon schedule of ``claim`` (:func:`star_horizon_schedule`) [R],
    on balls of the problem's radii :math:`D_i` (``problem.ball_radii()``)."""

    claim: str
    momentum_scale: float = DEFAULT_MOMENTUM_SCALE
    beta: float = DEFAULT_BETA
    mixing_into: str | None = None

    def __post_init__(self):
        get_claim_mixing(self.claim)
        if self.mixing_into not in MIXING_TARGETS:
            raise ValueError(f"StarSchedule.mixing_into: allowed None, 'one_minus_beta'; got {self.mixing_into!r}")

    def build(self, K: int, problem) -> Schedule:
        s = star_horizon_schedule(self.claim, K, problem.ball_radii(), self.momentum_scale, self.beta)
        return _mix_into_momentum(s, self.claim) if self.mixing_into else s

    def describe_rule(self) -> dict:
        return {"kind": "star", "claim": self.claim, "momentum_scale": float(self.momentum_scale),
                "beta": float(self.beta), "mixing_into": self.mixing_into}


@dataclass(frozen=True)
class AdaptiveRadius:
    r"""Deterministic Gluon's radius :math:`t_i = a_i/(L0_i + L1_i a_i)` at the problem's
    declared constants [C, GLUON Thm 1] (:func:`adaptive_schedule`)."""

    def build(self, K: int, problem) -> Schedule:
        return adaptive_schedule(problem.constants.L0, problem.constants.L1)

    def describe_rule(self) -> dict:
        return {"kind": "adaptive"}

    claim = None

def schedule_from_dict(d: dict) -> Schedule:
    """Inverse of :meth:`Schedule.describe` (per-element constants included)."""
    def tup(v):
        return tuple(tup(x) for x in v) if isinstance(v, list) else v
    return Schedule(radius=tup(d["radius"]), radius_decay=d.get("radius_decay", 0.0),
                    one_minus_beta=tup(d.get("one_minus_beta", 1.0)), beta_decay=d.get("beta_decay", 0.0),
                    q=tup(d.get("q", 1.0)), q_decay=d.get("q_decay", 0.0),
                    adaptive=None if d.get("adaptive") is None else tuple(tuple(a) for a in d["adaptive"]),
                    label=d.get("label", "constant"),
                    ball=None if d.get("ball") is None else tuple(d["ball"]))


def rule_from_description(d: dict):
    """Inverse of ``describe_rule()`` for every schedule rule."""
    d = dict(d)
    kind = d.pop("kind")
    if kind == "theory":
        return TheorySchedule(**d)
    if kind == "star":
        return StarSchedule(**d)
    if kind == "adaptive":
        return AdaptiveRadius()
    if kind == "fixed":
        return schedule_from_dict(d)
    raise ValueError(f"unknown schedule kind {kind!r}; allowed: theory, star, adaptive, fixed")
