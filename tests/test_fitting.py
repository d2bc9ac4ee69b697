"""experiments.fitting: the log-log rate fit, its seed bootstrap, and the verdict."""
import math

import numpy
import pytest

from gluon_mvr.experiments.core.fitting import RateFit, fit_rate, verdict

HORIZONS = (100, 316, 1000, 3162, 10000)


def _synthetic(slope, horizons=HORIZONS, n_seeds=16, noise=0.02, c=3.0, seed=0):
    """G[s, j] = c K_j^slope (1 + noise * N(0, 1)) per seed and horizon."""
    rng = numpy.random.default_rng(seed)
    K = numpy.asarray(horizons, dtype=float)
    return c * K[None, :] ** slope * (1.0 + noise * rng.standard_normal((n_seeds, len(K))))


@pytest.mark.parametrize("slope", [-0.25, -1 / 3, -0.5, -1.0, 0.1])
def test_recovers_known_slope_with_ci_covering_it(slope):
    fit = fit_rate(HORIZONS, _synthetic(slope), tail=5, n_boot=1000)
    assert abs(fit.slope - slope) < 0.01
    lo, hi = fit.ci
    assert lo <= slope <= hi
    assert lo < fit.slope < hi and hi - lo < 0.05      # a real interval, not a point
    assert fit.n_seeds == 16 and fit.n_excluded == 0
    assert fit.intercept == pytest.approx(math.log(3.0), abs=0.05)


def test_exact_power_law_gives_exact_slope_and_degenerate_ci():
    K = numpy.asarray(HORIZONS, dtype=float)
    G = numpy.vstack([c * K ** -0.3 for c in (1.0, 2.0, 0.5)])
    fit = fit_rate(HORIZONS, G, tail=4, n_boot=200)
    assert fit.slope == pytest.approx(-0.3, abs=1e-12)
    assert fit.ci[0] == pytest.approx(-0.3, abs=1e-12) and fit.ci[1] == pytest.approx(-0.3, abs=1e-12)


def test_bootstrap_is_seeded_and_deterministic():
    G = _synthetic(-0.25, noise=0.1)
    a = fit_rate(HORIZONS, G, n_boot=500, seed=7)
    b = fit_rate(HORIZONS, G, n_boot=500, seed=7)
    c = fit_rate(HORIZONS, G, n_boot=500, seed=8)
    assert a == b
    assert a.slope == c.slope and a.ci != c.ci


def test_diverged_seeds_are_excluded_and_counted():
    G = _synthetic(-1 / 3, n_seeds=10)
    clean = fit_rate(HORIZONS, G[3:], tail=3, n_boot=300)
    G = G.copy()
    G[0, 0] = numpy.nan            # NaN outside the tail still excludes the seed
    G[1, -1] = numpy.inf
    G[2, 2] = 1e6 * numpy.nan
    fit = fit_rate(HORIZONS, G, tail=3, n_boot=300)
    assert fit.n_excluded == 3 and fit.n_seeds == 7
    assert numpy.isfinite(fit.slope) and numpy.isfinite(fit.ci).all()
    assert fit.slope == clean.slope           # the remaining seeds alone determine the fit
    assert fit.as_dict()["n_excluded"] == 3


def test_all_seeds_diverged_gives_nan_fit_and_slower_verdict():
    G = numpy.full((4, len(HORIZONS)), numpy.nan)
    fit = fit_rate(HORIZONS, G)
    assert fit.n_seeds == 0 and fit.n_excluded == 4
    assert math.isnan(fit.slope) and all(math.isnan(v) for v in fit.ci)
    assert verdict(fit, -0.25) == "slower"


def test_tail_selects_the_last_horizons():
    # slope -1 on the first two horizons, -0.25 on the last three: the tail fit sees only the latter
    K = numpy.asarray(HORIZONS, dtype=float)
    g = numpy.where(K <= 316, K ** -1.0, 0.0)
    g[2:] = g[1] * (K[2:] / K[1]) ** -0.25
    G = numpy.vstack([g, g * 1.1, g * 0.9])
    fit = fit_rate(HORIZONS, G, tail=3, n_boot=200)
    assert fit.horizons == (1000, 3162, 10000)
    assert fit.slope == pytest.approx(-0.25, abs=1e-12)
    full = fit_rate(HORIZONS, G, tail=5, n_boot=200)
    assert full.horizons == HORIZONS and full.slope < -0.35
    # tail is clamped to [2, n_K]
    assert fit_rate(HORIZONS, G, tail=1, n_boot=100).horizons == (3162, 10000)
    assert fit_rate(HORIZONS, G, tail=99, n_boot=100).horizons == HORIZONS


def test_log_factor_divides_before_fitting():
    K = numpy.asarray(HORIZONS, dtype=float)
    G = numpy.vstack([c * K ** -0.25 * numpy.log(K) ** 2 for c in (1.0, 1.3)])
    raw = fit_rate(HORIZONS, G, tail=5, n_boot=100)
    fit = fit_rate(HORIZONS, G, tail=5, n_boot=100, log_factor=lambda k: math.log(k) ** 2)
    assert fit.slope == pytest.approx(-0.25, abs=1e-12)
    assert raw.slope > -0.1                   # without dividing, the log factor flattens the slope


def test_shape_errors():
    with pytest.raises(ValueError):
        fit_rate(HORIZONS, numpy.ones(len(HORIZONS)))
    with pytest.raises(ValueError):
        fit_rate(HORIZONS, numpy.ones((3, len(HORIZONS) - 1)))
    with pytest.raises(ValueError):
        fit_rate((10,), numpy.ones((3, 1)))


def _fit(slope, lo, hi):
    return RateFit(slope, 0.0, (lo, hi), HORIZONS, 8, 0)


@pytest.mark.parametrize("slope, ci, theory, tol, expected", [
    (-0.25, (-0.26, -0.24), -0.25, 0.04, "match"),
    (-0.285, (-0.29, -0.28), -0.25, 0.04, "match"),      # within tol, CI excludes theory
    (-0.215, (-0.22, -0.21), -0.25, 0.04, "match"),
    (-0.30, (-0.31, -0.29), -0.25, 0.04, "faster"),      # beyond tol, steeper
    (-0.20, (-0.21, -0.19), -0.25, 0.04, "slower"),      # beyond tol, flatter
    (-0.40, (-0.60, -0.30), -1 / 3, 0.04, "match"),      # beyond tol but CI covers theory
    (-0.10, (-0.30, 0.00), -0.25, 0.0, "match"),
    (-1 / 3 - 0.05, (-0.40, -0.37), -1 / 3, 0.04, "faster"),
    (-1 / 3 + 0.05, (-0.30, -0.27), -1 / 3, 0.04, "slower"),
    (-1 / 3 + 0.05, (-0.30, -0.27), -1 / 3, 0.06, "match"),
])
def test_verdict(slope, ci, theory, tol, expected):
    assert verdict(_fit(slope, *ci), theory, tol) == expected


def test_verdict_on_fits_of_synthetic_data():
    assert verdict(fit_rate(HORIZONS, _synthetic(-0.25)), -0.25) == "match"
    assert verdict(fit_rate(HORIZONS, _synthetic(-0.5)), -0.25) == "faster"
    assert verdict(fit_rate(HORIZONS, _synthetic(-0.1)), -1 / 3) == "slower"
