r"""Gradient estimators: how the direction :math:`M^k` fed to the LMO is formed (docs/theory.md §3).

An estimator is a small frozen value: it declares its oracle calls per iteration, whether it
needs the SAME sample's gradient at the previous point, which schedule parameters it reads
(:math:`\beta`, :math:`q`), and the claim of :mod:`gluon_mvr.theory.claims` its rate is compared
with.  Its state is a tuple of arrays passed in and returned, so a seed batch is just a leading
axis, and it works on one stacked group array at a time (the loop maps it over groups).

``g`` is :math:`\nabla f_{\xi^k}(X^k)`; ``g_prev`` is the SAME sample's gradient at
:math:`X^{k-1}` when :attr:`Estimator.same_sample_previous` (else ``None``).  ``params`` is a
:class:`StepParams` (iteration ``k``, :math:`\beta_k`, :math:`q_k`).  All start from
:math:`M^0 = g^0 = \nabla f_{\xi^0}(X^0)` [C].

A new estimator is one class (a frozen dataclass whose fields are its own parameters) plus
:func:`register_estimator`; see ``tests/test_method.py`` for one defined in a test file alone.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar


@dataclass(frozen=True)
class StepParams:
    r"""The schedule's parameters at iteration ``k``: :math:`\beta_k` (weight on the old momentum)
    and the MVR mixing :math:`q_k`; each a float, or a device array ``(S, 1, 1, 1)`` when it is
    given per batch element."""

    k: int
    beta: object
    q: object


class Estimator:
    """Base class of the gradient estimators (see the module docstring).

    Class attributes
    ----------------
    name : str
        Registry name (:func:`get_estimator`), stored with results.
    calls_per_step : int
        Oracle calls per iteration ``k >= 1`` (iteration 0 makes one).
    same_sample_previous : bool
        ``g_prev`` must be the current sample's gradient at :math:`X^{k-1}` (a second call).
    exact_gradient : bool
        The oracle is the exact gradient :math:`\\nabla f(X^k)` (no sample is drawn).
    parameters : tuple of str
        Schedule parameters read from :class:`StepParams` (``'beta'``, ``'q'``).
    claim : str or None
        Name of the claim (:data:`gluon_mvr.theory.claims.CLAIMS`) whose exponents apply.
    mechanism : str
        One line: what this estimator does that a control lacks (shown in reports).
    """

    name: ClassVar[str] = "estimator"
    calls_per_step: ClassVar[int] = 1
    same_sample_previous: ClassVar[bool] = False
    exact_gradient: ClassVar[bool] = False
    parameters: ClassVar[tuple] = ()
    claim: ClassVar[str | None] = None
    mechanism: ClassVar[str] = ""
    provenance: ClassVar[str] = "[C]"

    def init(self, g0):
        """State after iteration 0 and :math:`M^0`."""
        return (g0,), g0

    def step(self, state, g, g_prev, params: StepParams):
        """Return ``(M^k, state)``."""
        raise NotImplementedError

    def equivalent(self) -> "Estimator":
        """An estimator that computes the same :math:`M^k` bit for bit (itself, unless a proved
        identity says otherwise); runs of equivalent compositions are computed once."""
        return self

    def describe(self) -> dict:
        """JSON-able identity: the registry name and the estimator's own parameters."""
        d = {"name": self.name}
        d.update({f.name: getattr(self, f.name) for f in fields(self)} if hasattr(self, "__dataclass_fields__") else {})
        return d


@dataclass(frozen=True)
class MomentumEstimator(Estimator):
    r"""Gluon [C]: :math:`M^k = \beta M^{k-1} + (1-\beta)\nabla f_{\xi^k}(X^k)`."""

    name: ClassVar[str] = "momentum"
    parameters: ClassVar[tuple] = ("beta",)
    claim: ClassVar[str] = "gluon"
    mechanism: ClassVar[str] = "momentum averaging of stochastic gradients"

    def step(self, state, g, g_prev, params):
        (M,) = state
        beta = params.beta
        M = beta * M + (1.0 - beta) * g
        return M, (M,)


@dataclass(frozen=True)
class NoMomentumEstimator(Estimator):
    r"""Control (not a method of the papers): the raw stochastic gradient,
    :math:`M^k = \nabla f_{\xi^k}(X^k)`, i.e. momentum with :math:`\beta = 0` whatever the
    schedule says.  With the Frobenius norm it is normalized SGD without momentum."""

    name: ClassVar[str] = "none"
    mechanism: ClassVar[str] = "none (the raw stochastic gradient)"
    provenance: ClassVar[str] = "control, defined here"

    def step(self, state, g, g_prev, params):
        return g, (g,)


@dataclass(frozen=True)
class ExactGradientEstimator(Estimator):
    r"""Deterministic Gluon [C, GLUON Thm 1]: :math:`M^k = \nabla f(X^k)`, the exact gradient
    (one oracle call per iteration, no sample drawn)."""

    name: ClassVar[str] = "exact"
    exact_gradient: ClassVar[bool] = True
    mechanism: ClassVar[str] = "exact gradients"

    def step(self, state, g, g_prev, params):
        return g, (g,)


@dataclass(frozen=True)
class MVR1Estimator(Estimator):
    r"""Gluon-MVR-1 [C, Alg. 2]:
    :math:`M^k = \nabla f_{\xi^k}(X^k) + \beta(M^{k-1} - \nabla f_{\xi^k}(X^{k-1}))`."""

    name: ClassVar[str] = "mvr1"
    calls_per_step: ClassVar[int] = 2
    same_sample_previous: ClassVar[bool] = True
    parameters: ClassVar[tuple] = ("beta",)
    claim: ClassVar[str] = "mvr1"
    mechanism: ClassVar[str] = "same-sample correction (variance reduction)"

    def step(self, state, g, g_prev, params):
        (M,) = state
        M = g + params.beta * (M - g_prev)
        return M, (M,)


@dataclass(frozen=True)
class MVR2Estimator(Estimator):
    r"""Gluon-MVR-2 [C, Alg. 4]:
    :math:`g^k = \nabla f_{\xi^k}(X^k) + (1-q)(g^{k-1} - \nabla f_{\xi^k}(X^{k-1}))`,
    :math:`M^k = \beta M^{k-1} + (1-\beta) g^k`.  With ``q = 1`` it is Gluon."""

    name: ClassVar[str] = "mvr2"
    calls_per_step: ClassVar[int] = 2
    same_sample_previous: ClassVar[bool] = True
    parameters: ClassVar[tuple] = ("beta", "q")
    claim: ClassVar[str] = "mvr2"
    mechanism: ClassVar[str] = "same-sample STORM correction (variance reduction), then momentum"

    def init(self, g0):
        return (g0, g0), g0

    @staticmethod
    def _storm(g_est, g, g_prev, q):
        return g + (1.0 - q) * (g_est - g_prev)

    def step(self, state, g, g_prev, params):
        g_est, M = state
        beta = params.beta
        g_est = self._storm(g_est, g, g_prev, params.q)
        M = beta * M + (1.0 - beta) * g_est
        return M, (g_est, M)


@dataclass(frozen=True)
class MVR3Estimator(MVR2Estimator):
    r"""Gluon-MVR-3 [R: "MVR-2 plus a correction term starting with beta"].

    Default form: :math:`M^k = \beta M^{k-1} + (1-\beta) g^k + \beta(\nabla f_{\xi^k}(X^k) -
    \nabla f_{\xi^k}(X^{k-1}))`; ``correction='storm'`` gives the alternative
    :math:`\beta(g^k - g^{k-1})`.  :math:`g^k` as in MVR-2.
    """

    correction: str = "gradient"

    name: ClassVar[str] = "mvr3"
    claim: ClassVar[str] = "mvr3"
    provenance: ClassVar[str] = "[R]"
    CORRECTIONS: ClassVar[tuple] = ("gradient", "storm")

    def __post_init__(self):
        if self.correction not in self.CORRECTIONS:
            raise ValueError(f"mvr3 correction must be one of {self.CORRECTIONS}; got {self.correction!r}")

    def step(self, state, g, g_prev, params):
        g_old, M = state
        beta = params.beta
        g_est = self._storm(g_old, g, g_prev, params.q)
        diff = (g - g_prev) if self.correction == "gradient" else (g_est - g_old)
        M = beta * M + (1.0 - beta) * g_est + beta * diff
        return M, (g_est, M)


@dataclass(frozen=True)
class PreviousSampleEstimator(Estimator):
    r"""Contrast (not a method of the papers): any same-sample estimator fed the PREVIOUS
    iteration's stochastic gradient :math:`\nabla f_{\xi^{k-1}}(X^{k-1})` in place of
    :math:`\nabla f_{\xi^k}(X^{k-1})` (as MARS "approx" does).  One oracle call per iteration;
    the noise no longer cancels, so there is no variance reduction.  ``inner`` names the
    estimator wrapped (``'mvr1'`` by default: the ``mvr1-prev`` preset), ``options`` its own
    parameters as ``(name, value)`` pairs."""

    inner: str = "mvr1"
    options: tuple = ()

    name: ClassVar[str] = "previous-sample"
    mechanism: ClassVar[str] = "the correction with the previous sample (no variance reduction)"
    provenance: ClassVar[str] = "contrast, defined here"

    def __post_init__(self):
        object.__setattr__(self, "options", tuple(tuple(o) for o in self.options))
        est = get_estimator(self.inner, **dict(self.options))
        if not est.same_sample_previous:
            raise ValueError(f"previous-sample contrast: inner estimator {self.inner!r} uses no previous "
                             f"gradient; allowed: {', '.join(n for n, c in ESTIMATORS.items() if c.same_sample_previous)}")
        object.__setattr__(self, "_inner", est)

    @property
    def parameters(self):
        return self._inner.parameters

    def equivalent(self) -> Estimator:
        r"""MVR-1 collapses to the raw gradient with the previous sample: from :math:`M^0 = g^0`,
        :math:`M^k - g^k = \beta(M^{k-1} - g^{k-1}) = 0`, exactly 0 in floating point too
        (``g + beta * 0``; ``tests/test_method.py``).  MVR-3 collapses algebraically as well, but its
        arithmetic rounds differently (about 1e-14), so it is computed on its own."""
        if self.inner == "mvr1":
            return NoMomentumEstimator()
        return self

    def init(self, g0):
        state, M = self._inner.init(g0)
        return (state, g0), M

    def step(self, state, g, g_prev, params):
        inner_state, g_last = state
        M, inner_state = self._inner.step(inner_state, g, g_last, params)
        return M, (inner_state, g)


def PreviousSampleMVR1Estimator():
    """The ``mvr1-prev`` contrast (kept name): :class:`PreviousSampleEstimator` around MVR-1."""
    return PreviousSampleEstimator("mvr1")


ESTIMATORS: dict[str, type] = {}


def register_estimator(cls):
    """Make ``cls`` (an :class:`Estimator` subclass) known by ``cls.name``; usable as a decorator.

    Registration lets a stored cell (which names its estimator) be run again, also in worker
    processes when ``cls`` lives in an importable module."""
    if not (isinstance(cls, type) and issubclass(cls, Estimator)):
        raise TypeError(f"register_estimator: expected an Estimator subclass; got {cls!r}")
    known = ESTIMATORS.get(cls.name)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"register_estimator: the name {cls.name!r} belongs to {known.__qualname__}; "
                         f"give {cls.__qualname__} a name of its own")
    ESTIMATORS[cls.name] = cls
    return cls


for _cls in (MomentumEstimator, NoMomentumEstimator, ExactGradientEstimator, MVR1Estimator, MVR2Estimator,
             MVR3Estimator, PreviousSampleEstimator):
    register_estimator(_cls)


def get_estimator(name: str, **options) -> Estimator:
    """Build the estimator registered as ``name`` with its own parameters ``options``.

    ``'mvr1-prev'`` (the previous-sample contrast of MVR-1) is accepted as before."""
    if name == "mvr1-prev":
        return PreviousSampleEstimator("mvr1", **options)
    try:
        cls = ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown estimator {name!r}; allowed: {', '.join(ESTIMATORS)}") from None
    return cls(**options)


def estimator_from_description(d: dict) -> Estimator:
    """Inverse of :meth:`Estimator.describe`."""
    d = dict(d)
    return get_estimator(d.pop("name"), **d)
