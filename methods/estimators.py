r"""Gradient estimators: how the direction :math:`M^k` fed to the LMO is formed (docs/theory.md §3).

Each estimator works on one stacked group array at a time (the loop maps it over groups) and
is stateless: its state is a tuple of arrays passed in and returned, so a seed batch is just a
leading axis.  ``g`` is :math:`\nabla f_{\xi^k}(X^k)`; ``g_prev`` is the SAME sample's gradient
at :math:`X^{k-1}` (MVR) or the previous iteration's stochastic gradient (the contrast
variant).  All start from :math:`M^0 = g^0 = \nabla f_{\xi^0}(X^0)` [C].
"""
from __future__ import annotations


class Estimator:
    """Base class.  ``calls_per_step`` counts oracle calls per iteration ``k >= 1``;
    ``same_sample_previous`` says whether ``g_prev`` must be the current sample at X^{k-1}."""

    name = "estimator"
    calls_per_step = 1
    same_sample_previous = False
    uses_previous = False          # needs g_prev at all
    uses_q = False
    provenance = "[C]"

    def init(self, g0):
        """State after iteration 0 and :math:`M^0`."""
        return (g0,), g0

    def step(self, state, g, g_prev, beta, q):
        """Return ``(M^k, state)``."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class MomentumEstimator(Estimator):
    r"""Gluon [C]: :math:`M^k = \beta M^{k-1} + (1-\beta)\nabla f_{\xi^k}(X^k)`."""

    name = "momentum"

    def step(self, state, g, g_prev, beta, q):
        (M,) = state
        M = beta * M + (1.0 - beta) * g
        return M, (M,)


class MVR1Estimator(Estimator):
    r"""Gluon-MVR-1 [C, Alg. 2]:
    :math:`M^k = \nabla f_{\xi^k}(X^k) + \beta(M^{k-1} - \nabla f_{\xi^k}(X^{k-1}))`."""

    name = "mvr1"
    calls_per_step = 2
    same_sample_previous = True
    uses_previous = True

    def step(self, state, g, g_prev, beta, q):
        (M,) = state
        M = g + beta * (M - g_prev)
        return M, (M,)


class PreviousSampleMVR1Estimator(MVR1Estimator):
    r"""Contrast (not a method of the paper): MVR-1 with the previous iteration's stochastic
    gradient :math:`\nabla f_{\xi^{k-1}}(X^{k-1})` in place of the same-sample one.  One oracle
    call per iteration; the noise no longer cancels, so there is no variance reduction."""

    name = "mvr1-prev"
    calls_per_step = 1
    same_sample_previous = False
    provenance = "contrast, defined here"

    def init(self, g0):
        return (g0, g0), g0

    def step(self, state, g, g_prev, beta, q):
        M, g_last = state
        M = g + beta * (M - g_last)
        return M, (M, g)


class MVR2Estimator(Estimator):
    r"""Gluon-MVR-2 [C, Alg. 4]:
    :math:`g^k = \nabla f_{\xi^k}(X^k) + (1-q)(g^{k-1} - \nabla f_{\xi^k}(X^{k-1}))`,
    :math:`M^k = \beta M^{k-1} + (1-\beta) g^k`.  With ``q = 1`` it is Gluon."""

    name = "mvr2"
    calls_per_step = 2
    same_sample_previous = True
    uses_previous = True
    uses_q = True

    def init(self, g0):
        return (g0, g0), g0

    def _storm(self, g_est, g, g_prev, q):
        return g + (1.0 - q) * (g_est - g_prev)

    def step(self, state, g, g_prev, beta, q):
        g_est, M = state
        g_est = self._storm(g_est, g, g_prev, q)
        M = beta * M + (1.0 - beta) * g_est
        return M, (g_est, M)


class MVR3Estimator(MVR2Estimator):
    r"""Gluon-MVR-3 [R: "MVR-2 plus a correction term starting with beta"].

    Default form: :math:`M^k = \beta M^{k-1} + (1-\beta) g^k + \beta(\nabla f_{\xi^k}(X^k) -
    \nabla f_{\xi^k}(X^{k-1}))`; ``correction='storm'`` gives the alternative
    :math:`\beta(g^k - g^{k-1})`.  :math:`g^k` as in MVR-2.
    """

    name = "mvr3"
    provenance = "[R]"
    CORRECTIONS = ("gradient", "storm")

    def __init__(self, correction: str = "gradient"):
        if correction not in self.CORRECTIONS:
            raise ValueError(f"mvr3 correction must be one of {self.CORRECTIONS}; got {correction!r}")
        self.correction = correction

    def step(self, state, g, g_prev, beta, q):
        g_old, M = state
        g_est = self._storm(g_old, g, g_prev, q)
        diff = (g - g_prev) if self.correction == "gradient" else (g_est - g_old)
        M = beta * M + (1.0 - beta) * g_est + beta * diff
        return M, (g_est, M)

    def __repr__(self):
        return f"MVR3Estimator(correction={self.correction!r})"


ESTIMATORS = {"momentum": MomentumEstimator, "mvr1": MVR1Estimator, "mvr1-prev": PreviousSampleMVR1Estimator,
              "mvr2": MVR2Estimator, "mvr3": MVR3Estimator}


def get_estimator(name: str, **options) -> Estimator:
    try:
        cls = ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown estimator {name!r}; allowed: {', '.join(ESTIMATORS)}") from None
    return cls(**options)
