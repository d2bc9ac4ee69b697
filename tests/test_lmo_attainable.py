"""Attainable worst cases over unit-Frobenius spectra of a given dimension (experiments.studies.lmo.attainable)."""
import numpy
import pytest

from gluon_mvr.experiments.studies.lmo.attainable import (attainable_alignment, attainable_max_measures,
                                                          phi_and_derivative, realise_spectrum, spectrum_deltas)
from gluon_mvr.experiments.studies.lmo.error import phi, worst_case, worst_case_table

CASES = [("ns-jordan", 2, 1e-3), ("ns-jordan", 5, 1e-2), ("ns-cubic", 5, 1e-2), ("polar-express", 1, 1e-2),
         ("ns-quintic", 2, 1e-1)]


@pytest.mark.parametrize("u", [[1.0], [0.8, 0.6], [0.5] * 4, [0.9, 0.3, 0.3, 0.1, 0.05, 0.01]])
@pytest.mark.parametrize("name, steps", [("ns-jordan", 2), ("polar-express", 3), ("ns-cubic", 4)])
def test_spectrum_formula_agrees_with_realised_matrices(u, name, steps):
    u = numpy.asarray(u) / numpy.linalg.norm(u)
    want = spectrum_deltas(name, steps, u)
    # scale 1e6: Newton-Schulz's guard 1e-7 in ||G||_F + 1e-7 no longer shows
    got = realise_spectrum(name, steps, u, shape=(12, 8), seed=1, scale=1e6)["float64"]
    for key in ("spectral", "alignment", "overshoot"):
        assert got[key] == pytest.approx(want[key], abs=1e-9), key


def test_derivative_of_the_composed_map():
    u = numpy.linspace(0.02, 1.0, 9)
    for name, T in (("ns-jordan", 3), ("polar-express", 4)):
        p, dp = phi_and_derivative(name, T, u)
        numpy.testing.assert_allclose(p, phi(name, T, u), rtol=1e-14)
        e = 1e-6
        numpy.testing.assert_allclose(dp, (phi(name, T, u + e) - phi(name, T, u - e)) / (2 * e), rtol=1e-5, atol=1e-6)


def test_dimension_one_is_the_single_value_one():
    for name, T in (("ns-jordan", 5), ("ns-cubic", 2)):
        got = attainable_alignment(name, T, 1e-2, dim=1)
        assert got["spectrum"] == [1.0]
        assert got["alignment"] == pytest.approx(1.0 - float(phi(name, T, 1.0)), abs=1e-15)


@pytest.mark.parametrize("name, steps, ratio", CASES)
def test_dimension_two_matches_brute_force(name, steps, ratio):
    """k <= 2 values: the simplex is a segment; a fine grid gives the supremum directly."""
    u1 = numpy.linspace(ratio, numpy.sqrt(1 - ratio ** 2), 400001)
    u2 = numpy.sqrt(1 - u1 ** 2)
    two = (u1 * (1 - phi(name, steps, u1)) + u2 * (1 - phi(name, steps, u2))) / (u1 + u2)
    brute = max(float(two.max()), 1.0 - float(phi(name, steps, 1.0)))
    got = attainable_alignment(name, steps, ratio, dim=2)["alignment"]
    assert got == pytest.approx(brute, abs=1e-6)


@pytest.mark.parametrize("name, steps, ratio", CASES)
def test_attainable_is_attained_dominates_random_spectra_and_sits_below_the_pointwise_sup(name, steps, ratio):
    dim = 16
    att = attainable_alignment(name, steps, ratio, dim)
    u = numpy.asarray(att["spectrum"])
    assert len(u) <= dim and numpy.all(u >= ratio * (1 - 1e-9)) and numpy.sum(u * u) == pytest.approx(1.0, abs=1e-12)
    real = realise_spectrum(name, steps, u, shape=(24, 16))["float64"]["alignment"]
    assert real == pytest.approx(att["alignment"], abs=1e-6)
    rng = numpy.random.default_rng(0)
    best_random = -numpy.inf
    for _ in range(300):
        k = int(rng.integers(1, dim + 1))
        v = numpy.exp(rng.uniform(numpy.log(ratio), 0.0, k))     # log-uniform values, then normalised
        v = v / numpy.linalg.norm(v)
        if v.min() < ratio:
            continue
        best_random = max(best_random, spectrum_deltas(name, steps, v)["alignment"])
    assert best_random <= att["alignment"] + 1e-9
    assert att["alignment"] <= worst_case(name, steps, ratio)["alignment"] + 1e-9


def test_pointwise_alignment_column_is_not_attained():
    """The old column (pointwise sup) against the attainable one: Jordan 2 steps on [1e-3, 1] says
    0.988; no spectrum of 32 values comes near (the realised worst is about 0.41)."""
    pw = worst_case("ns-jordan", 2, 1e-3)["alignment"]
    att = attainable_alignment("ns-jordan", 2, 1e-3, 32)
    assert pw > 0.95 and att["alignment"] < 0.5
    real = realise_spectrum("ns-jordan", 2, att["spectrum"])["float64"]["alignment"]
    assert real == pytest.approx(att["alignment"], abs=1e-6) and real < pw - 0.4


def test_max_measures_attained_and_table_agrees_with_matrices():
    mx = attainable_max_measures("polar-express", 5, 1e-3, 32)
    assert mx["spectral"] == pytest.approx(worst_case("polar-express", 5, 1e-3)["spectral"], abs=1e-6)
    rows = worst_case_table(["ns-jordan"], [2], [1e-1, 1e-3])
    assert [r["ratio"] for r in rows] == [1e-1, 1e-3]
    for r in rows:
        assert r["matrix"]["alignment_float64"] == pytest.approx(r["alignment"], abs=1e-6)
        assert r["alignment"] <= r["alignment_pointwise"] + 1e-9
    assert rows[1]["alignment"] >= rows[0]["alignment"] - 1e-12      # a larger domain: never smaller
