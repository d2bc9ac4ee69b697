r"""Empirical rates: fit :math:`\log G_K = c + s\log K` and bootstrap the seeds for an interval.

The runs at different horizons use the same seed ids, so a bootstrap replicate resamples seed
ids once and uses them at every horizon.  The interval is the percentile interval of the
replicates' slopes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy

VERDICTS = ("match", "faster", "slower")


@dataclass(frozen=True)
class RateFit:
    slope: float
    intercept: float
    ci: tuple
    horizons: tuple          # the horizons used in the fit (the tail)
    n_seeds: int
    n_excluded: int          # seeds excluded for divergence

    def as_dict(self):
        return {"slope": self.slope, "intercept": self.intercept, "ci": list(self.ci),
                "fit_horizons": list(self.horizons), "n_seeds": self.n_seeds,
                "n_excluded": self.n_excluded}


def _slope(logK, logG):
    A = numpy.vstack([logK, numpy.ones_like(logK)]).T
    coef, *_ = numpy.linalg.lstsq(A, logG, rcond=None)
    return coef


def fit_rate(horizons, G, tail: int = 3, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
             log_factor=None) -> RateFit:
    """Fit the decay exponent of ``G`` (shape ``(S, n_K)``: per seed, per horizon).

    Parameters
    ----------
    horizons : sequence of int
    G : array (S, n_K)
        Measured quantity per seed and horizon; rows with any NaN (diverged seeds) are excluded
        and counted.
    tail : int
        Fit on the last ``tail`` horizons (the asymptotic regime).
    log_factor : callable, optional
        ``G`` is divided by ``log_factor(K)`` before fitting (to divide out log factors a bound
        states).
    """
    K = numpy.asarray(horizons, dtype=float)
    G = numpy.asarray(G, dtype=float)
    if G.ndim != 2 or G.shape[1] != len(K):
        raise ValueError(f"G must have shape (seeds, {len(K)}); got {G.shape}")
    if len(K) < 2:
        raise ValueError("a rate fit needs at least 2 horizons")
    tail = max(2, min(int(tail), len(K)))
    ok = numpy.isfinite(G).all(axis=1) & (G > 0).all(axis=1)
    Gok = G[ok][:, -tail:]
    Kt = K[-tail:]
    if log_factor is not None:
        Gok = Gok / numpy.asarray([log_factor(k) for k in Kt])[None, :]
    if len(Gok) == 0:
        nan = float("nan")
        return RateFit(nan, nan, (nan, nan), tuple(int(k) for k in Kt), 0, int((~ok).sum()))
    logK = numpy.log(Kt)
    s, c = _slope(logK, numpy.log(Gok.mean(axis=0)))
    rng = numpy.random.default_rng(seed)
    idx = rng.integers(0, len(Gok), size=(n_boot, len(Gok)))
    boot_means = Gok[idx].mean(axis=1)                     # (n_boot, tail)
    A = numpy.vstack([logK, numpy.ones_like(logK)]).T
    slopes = numpy.linalg.lstsq(A, numpy.log(boot_means).T, rcond=None)[0][0]
    a = (1 - level) / 2
    lo, hi = numpy.quantile(slopes, [a, 1 - a])
    return RateFit(float(s), float(c), (float(lo), float(hi)), tuple(int(k) for k in Kt),
                   int(ok.sum()), int((~ok).sum()))


def verdict(fit: RateFit, theory: float, tol: float = 0.04) -> str:
    """``'match'`` when the slope is within ``tol`` of ``theory`` or the interval contains it;
    otherwise ``'faster'`` (steeper decay than theory) or ``'slower'``."""
    s, (lo, hi) = fit.slope, fit.ci
    if not numpy.isfinite(s):
        return "slower"
    if abs(s - theory) <= tol or lo <= theory <= hi:
        return "match"
    return "faster" if s < theory else "slower"


def mean_interval(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0):
    """Seed-bootstrap percentile interval of the mean of ``values`` (NaNs excluded)."""
    v = numpy.asarray(values, dtype=float)
    v = v[numpy.isfinite(v)]
    if len(v) == 0:
        return (float("nan"), float("nan"))
    rng = numpy.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    a = (1 - level) / 2
    lo, hi = numpy.quantile(means, [a, 1 - a])
    return (float(lo), float(hi))


STABILITY = ("stable", "drifting", "not checked")


def local_slopes(horizons, G, window: int = 3, log_factor=None) -> list:
    """Slope of the seed-mean :math:`\\log G_K` against :math:`\\log K` on each window of
    ``window`` consecutive horizons (left to right); diverged seeds excluded as in
    :func:`fit_rate`."""
    K = numpy.asarray(horizons, dtype=float)
    G = numpy.asarray(G, dtype=float)
    window = max(2, min(int(window), len(K)))
    ok = numpy.isfinite(G).all(axis=1) & (G > 0).all(axis=1)
    if not ok.any():
        return [float("nan")] * (len(K) - window + 1)
    mean = G[ok].mean(axis=0)
    if log_factor is not None:
        mean = mean / numpy.asarray([log_factor(k) for k in K])
    out = []
    for j in range(len(K) - window + 1):
        s, _ = _slope(numpy.log(K[j:j + window]), numpy.log(mean[j:j + window]))
        out.append(float(s))
    return out


def stability(slopes, tol: float = 0.04) -> str:
    """``'stable'`` when successive local slopes differ by at most ``tol``, else ``'drifting'``;
    ``'not checked'`` with a single window (nothing to compare: the check cannot fail)."""
    s = numpy.asarray(slopes, dtype=float)
    if len(s) < 2:
        return "not checked"
    if not numpy.isfinite(s).all():
        return "drifting"
    return "stable" if numpy.abs(numpy.diff(s)).max() <= tol else "drifting"


def slope_difference(horizons, G_a, G_b, tail: int = 3, n_boot: int = 2000, level: float = 0.95,
                     seed: int = 0, log_factor=None):
    """Slope of ``G_a`` minus slope of ``G_b`` on the last ``tail`` horizons, with a PAIRED seed
    bootstrap interval (the same resampled seed ids in both: the runs share seed ids).

    Seeds that diverged in either run are excluded.  Returns ``(difference, (lo, hi))``."""
    K = numpy.asarray(horizons, dtype=float)
    A, B = numpy.asarray(G_a, dtype=float), numpy.asarray(G_b, dtype=float)
    if A.shape != B.shape or A.ndim != 2 or A.shape[1] != len(K):
        raise ValueError(f"G_a and G_b must both have shape (seeds, {len(K)}); got {A.shape}, {B.shape}")
    tail = max(2, min(int(tail), len(K)))
    ok = (numpy.isfinite(A) & (A > 0)).all(axis=1) & (numpy.isfinite(B) & (B > 0)).all(axis=1)
    A, B, Kt = A[ok][:, -tail:], B[ok][:, -tail:], K[-tail:]
    if log_factor is not None:
        lf = numpy.asarray([log_factor(k) for k in Kt])[None, :]
        A, B = A / lf, B / lf
    if len(A) == 0:
        nan = float("nan")
        return nan, (nan, nan)
    logK = numpy.log(Kt)
    X = numpy.vstack([logK, numpy.ones_like(logK)]).T
    d = float(_slope(logK, numpy.log(A.mean(axis=0)))[0] - _slope(logK, numpy.log(B.mean(axis=0)))[0])
    rng = numpy.random.default_rng(seed)
    idx = rng.integers(0, len(A), size=(n_boot, len(A)))
    sa = numpy.linalg.lstsq(X, numpy.log(A[idx].mean(axis=1)).T, rcond=None)[0][0]
    sb = numpy.linalg.lstsq(X, numpy.log(B[idx].mean(axis=1)).T, rcond=None)[0][0]
    a = (1 - level) / 2
    lo, hi = numpy.quantile(sa - sb, [a, 1 - a])
    return d, (float(lo), float(hi))
