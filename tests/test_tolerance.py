"""theory.tolerance: measured vs bound up to the dtype's rounding, with the margin reported."""
import math

import numpy
import pytest

from gluon_mvr.theory.tolerance import C_EVAL, LAMBDA, Comparison, compare, measurement_terms, rounding_rtol


def test_issue_rounding_case_holds_with_margin():
    # rate-check --problem quadratic --param sigma=0 --param norm=frobenius --methods mvr1
    # --horizons 100,316,1000 (16 seeds): measured 0.14 against bound 0.13999999999999999 at K = 1000
    measured, bound = 0.14, 0.13999999999999999
    assert measured > bound                                  # the old strict comparison flagged this
    c = compare(measured, bound, "float64", n_terms=measurement_terms(1000, 16, 1))
    assert c.status == "holds" and c.holds and c.within_rounding
    assert c.margin == pytest.approx(1 - measured / bound) and -1e-15 < c.margin < 0
    assert "holds" in c.describe() and "margin" in c.describe()


def test_genuine_violations_stay_violated():
    # 1e-6 relative excess is far beyond float64 rounding of a 16 000-term sum
    c = compare(0.14 * (1 + 1e-6), 0.14, "float64", n_terms=16_000)
    assert c.status == "violated" and not c.within_rounding and c.margin == pytest.approx(-1e-6, rel=1e-6)
    assert "VIOLATED" in c.describe()
    # a 1e-3 excess is a violation in float32 too; 1e-6 is within float32 rounding of 16 000 terms
    assert compare(1.001, 1.0, "float32", n_terms=16_000).status == "violated"
    assert compare(1.0 + 1e-6, 1.0, "float32", n_terms=16_000).status == "holds"
    assert compare(1.0 + 1e-6, 1.0, "float64", n_terms=16_000).status == "violated"
    # a huge number of terms still does not excuse a 1 % excess in float32
    assert compare(1.01, 1.0, "float32", n_terms=10 ** 8).status == "violated"


def test_plain_cases_and_margin():
    c = compare(0.5, 2.0)
    assert c == Comparison("holds", 0.75, rounding_rtol(), 0.5, 2.0, False)
    assert compare(2.0, 2.0).margin == 0.0 and compare(2.0, 2.0).holds
    assert compare(0.0, 0.0).holds and compare(1e-300, 0.0).status == "violated"
    assert compare(1.0, math.inf).holds and compare(1.0, math.inf).margin == 1.0
    assert compare(math.nan, 1.0).status == "violated" and compare(1.0, math.nan).status == "violated"
    assert compare(math.inf, 1.0).status == "violated"
    assert set(compare(1.0, 2.0).as_dict()) == {"status", "margin", "rtol", "measured", "bound", "within_rounding"}


def test_rtol_scaling():
    u64, u32 = numpy.finfo(numpy.float64).eps / 2, numpy.finfo(numpy.float32).eps / 2
    assert rounding_rtol("float64", 1) == pytest.approx(C_EVAL * u64 + LAMBDA * u64)
    assert rounding_rtol("float64", 10 ** 6) == pytest.approx(C_EVAL * u64 + LAMBDA * u64 * 1000)
    assert rounding_rtol("float32", 100) == pytest.approx(C_EVAL * u64 + LAMBDA * u32 * 10)
    assert rounding_rtol(numpy.float32, 4) > rounding_rtol("float64", 4)
    assert rounding_rtol("float64", 10 ** 6) < 2e-12          # far below any modelling error
    assert measurement_terms(1000, 16, 2) == 32_000
    with pytest.raises(ValueError, match="seeds"):
        measurement_terms(10, 0)
    with pytest.raises(ValueError, match="n_terms"):
        rounding_rtol("float64", 0)
    with pytest.raises(ValueError, match="dtype"):
        rounding_rtol("int64", 3)


def test_tolerance_covers_real_summation_rounding():
    # the rounding of an actual float32 mean of n nonnegative terms stays inside rtol (seeded),
    # and the same excess computed in float64 would be flagged: the tolerance is dtype-specific
    rng = numpy.random.default_rng(0)
    for n in (10, 1000, 100_000):
        x = rng.random(n)
        exact = math.fsum(x.tolist()) / n
        s32 = numpy.float32(0)
        for v in x.astype(numpy.float32)[: min(n, 20_000)]:  # naive recursive sum (worst realistic order)
            s32 = numpy.float32(s32 + v)
        approx = float(s32) / min(n, 20_000)
        ref = math.fsum(x.astype(numpy.float32)[: min(n, 20_000)].astype(float).tolist()) / min(n, 20_000)
        assert compare(approx, ref, "float32", n_terms=min(n, 20_000)).holds
        assert compare(exact * (1 + 10 * rounding_rtol("float64", n)), exact, "float64", n_terms=n).status == "violated"
