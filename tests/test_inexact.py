"""Inexact spectral LMOs (docs/theory.md §6) against the float64 SVD truth.

Newton–Schulz maps each singular value s of the normalised input by a polynomial and leaves
the singular vectors alone, so the truth is ``U diag(p(s)) V^T`` with ``G = U diag(s) V^T``
from ``numpy.linalg.svd``; the spectral error is ``max_j |p(s_j) - 1|``.
"""
import math

import numpy
import pytest

from gluon_mvr.methods.inexact import (ControlledErrorLMO, newton_schulz, ns_coefficients, singular_value_map,
                             spectral_error)
from gluon_mvr.methods.norms import get_norm

# coefficient tables as docs/theory.md §6 states them (copied from the spec, not from the code)
JORDAN = (3.4445, -4.7750, 2.0315)
CUBIC = (1.5, -0.5, 0.0)
QUINTIC = (15 / 8, -10 / 8, 3 / 8)
PE_LISTED = [
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
]
PE_TAIL = (1.875, -1.25, 0.375)
# "all but the last [= the (1.875, -1.25, 0.375) tail] divided by (1.01, 1.01^3, 1.01^5)"
PE_STEPS = [(a / 1.01, b / 1.01 ** 3, c / 1.01 ** 5) for a, b, c in PE_LISTED] + [PE_TAIL]


def inner(A, B):
    return numpy.sum(A * B, axis=(-2, -1))


def orthogonal(rng, k):
    Q, R = numpy.linalg.qr(rng.standard_normal((k, k)))
    return Q * numpy.sign(numpy.diag(R))


def with_spectrum(s, m, n, seed=0):
    """An m x n matrix with singular values ``s`` (len min(m, n)) and random singular vectors."""
    rng = numpy.random.default_rng(seed)
    k = min(m, n)
    U = orthogonal(rng, m)[:, :k]
    V = orthogonal(rng, n)[:, :k]
    return (U * numpy.asarray(s)) @ V.T


def spread_spectrum(k, low=1e-3, scale=1.0):
    """Singular values whose ratio to ``scale * ||G||_F`` spans about [low, 1]: one value 1 and
    the rest geometric from ``low`` to 0.05 (small total mass, so ||G||_F stays about 1)."""
    rest = numpy.geomspace(0.05, low, k - 1)
    s = numpy.concatenate([[1.0], rest])
    # lift everything so that the smallest NORMALISED value is at least ``low``
    fro = numpy.sqrt(numpy.sum(s * s))
    s[1:] *= max(1.0, low * scale * fro / s[-1])
    return s


def normalised(s, coefficients, eps=1e-7):
    c = 1.01 if coefficients == "polar-express" else 1.0
    return numpy.asarray(s) / (c * numpy.sqrt(numpy.sum(numpy.square(s))) + eps)


def poly_map(s, steps):
    s = numpy.array(s, dtype=float)
    for a, b, c in steps:
        s = a * s + b * s ** 3 + c * s ** 5
    return s


# ---------------------------------------------------------------- coefficient tables

@pytest.mark.parametrize("name, triple", [("jordan", JORDAN), ("cubic", CUBIC), ("quintic", QUINTIC)])
def test_fixed_coefficients_match_theory(name, triple):
    assert ns_coefficients(name, 4) == [pytest.approx(triple, rel=1e-15)] * 4
    assert ns_coefficients(name, 0) == []


def test_polar_express_first_six_steps_match_theory():
    got = ns_coefficients("polar-express", 6)
    for g, e in zip(got, PE_STEPS[:6]):
        assert g == pytest.approx(e, rel=1e-14)
    assert ns_coefficients("polar-express", 12)[8:] == [pytest.approx(PE_TAIL, rel=1e-15)] * 4


def test_polar_express_seventh_step_is_divided_by_the_safety_factor():
    got = ns_coefficients("polar-express", 8)
    assert got[6] == pytest.approx(PE_STEPS[6], rel=1e-14)
    assert got[7] == pytest.approx(PE_TAIL, rel=1e-15)


def test_singular_value_map_is_the_scalar_polynomial():
    s = numpy.linspace(0.0, 1.0, 101)
    for name, steps in [("jordan", [JORDAN] * 5), ("cubic", [CUBIC] * 7), ("quintic", [QUINTIC] * 3),
                        ("polar-express", PE_STEPS[:6])]:
        numpy.testing.assert_allclose(singular_value_map(s, len(steps), name), poly_map(s, steps),
                                      rtol=1e-12, atol=1e-14)


def test_bad_coefficients_and_steps_are_rejected():
    with pytest.raises(ValueError, match="jordan"):
        ns_coefficients("nope", 3)
    for bad in (-1, 2.5):
        with pytest.raises(ValueError, match="steps"):
            ns_coefficients("jordan", bad)
    with pytest.raises(ValueError):
        get_norm("spectral-ns", steps=3, coefficients="nope")


# ---------------------------------------------------------------- plateau / convergence

def test_jordan_plateaus_scalar():
    """The scalar map on [1e-3, 1]: about 0.3 error however many steps, never to 0."""
    s = numpy.geomspace(1e-3, 1.0, 4001)
    for steps in (8, 10, 20, 50):
        err = numpy.abs(singular_value_map(s, steps, "jordan") - 1).max()
        assert 0.2 < err < 0.4, (steps, err)
        # the whole spectrum sits in the plateau band, none of it converged to exactly 1
        out = singular_value_map(s, steps, "jordan")
        assert out.min() > 0.6 and out.max() < 1.2


def test_jordan_plateaus_on_matrices():
    m, n = 40, 48
    s = spread_spectrum(m)
    G = with_spectrum(s, m, n, seed=1)
    sn = normalised(s, "jordan")
    assert sn.min() >= 1e-3 * 0.99 and sn.max() > 0.98
    for steps in (8, 10, 20, 50):
        err = float(spectral_error(G, newton_schulz(G, steps, "jordan")))
        assert 0.2 < err < 0.4, (steps, err)
        # the same number from the scalar map of the actual singular values
        assert err == pytest.approx(numpy.abs(singular_value_map(sn, steps, "jordan") - 1).max(), abs=1e-8)


def test_polar_express_scalar():
    s = numpy.geomspace(1e-3, 1.0, 4001) / 1.01
    assert numpy.abs(singular_value_map(s, 5, "polar-express") - 1).max() < 0.2
    assert numpy.abs(singular_value_map(s, 8, "polar-express") - 1).max() < 1e-6
    # and it is a real improvement over Jordan at equal steps
    assert numpy.abs(singular_value_map(s * 1.01, 5, "jordan") - 1).max() > 0.3


@pytest.mark.parametrize("m, n", [(24, 32), (32, 24)])
def test_polar_express_on_matrices(m, n):
    k = min(m, n)
    s = spread_spectrum(k, scale=1.01)
    G = with_spectrum(s, m, n, seed=2)
    sn = normalised(s, "polar-express")
    assert sn.min() >= 1e-3 * 0.99 and sn.max() > 0.97
    err5 = float(spectral_error(G, newton_schulz(G, 5, "polar-express")))
    err8 = float(spectral_error(G, newton_schulz(G, 8, "polar-express")))
    assert err5 < 0.2
    assert err8 < 1e-6
    jordan5 = float(spectral_error(G, newton_schulz(G, 5, "jordan")))
    assert jordan5 > err5


@pytest.mark.parametrize("name, steps", [("cubic", 30), ("quintic", 20)])
def test_classic_iterations_converge_on_well_conditioned_input(name, steps):
    s = numpy.linspace(1.0, 0.3, 6)
    G = with_spectrum(s, 6, 9, seed=3)
    errs = [float(spectral_error(G, newton_schulz(G, t, name))) for t in (2, 5, steps)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-10
    exact = get_norm("spectral").polar(G)
    numpy.testing.assert_allclose(newton_schulz(G, steps, name), exact, atol=1e-10)


# ---------------------------------------------------------------- structure

@pytest.mark.parametrize("name", ["jordan", "cubic", "quintic", "polar-express"])
def test_orientation_safe(name):
    G = numpy.random.default_rng(4).standard_normal((2, 7, 4))
    tall = newton_schulz(G, 5, name)
    wide = newton_schulz(numpy.swapaxes(G, -1, -2), 5, name)
    assert tall.shape == G.shape
    numpy.testing.assert_allclose(tall, numpy.swapaxes(wide, -1, -2), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["jordan", "cubic", "quintic", "polar-express"])
@pytest.mark.parametrize("shape", [(5, 8), (8, 5), (6, 6)])
def test_singular_vectors_preserved(name, shape):
    """newton_schulz(G) = U diag(p(s / (c ||G||_F + eps))) V^T, float64, to 1e-8."""
    G = 3.0 * numpy.random.default_rng(5).standard_normal(shape)
    U, s, Vh = numpy.linalg.svd(G, full_matrices=False)
    for steps in (1, 3, 5):
        p = singular_value_map(normalised(s, name), steps, name)
        numpy.testing.assert_allclose(newton_schulz(G, steps, name), (U * p) @ Vh, atol=1e-8)
        # against the independent polynomial (docs/theory.md §6's coefficients) as well
        table = {"jordan": [JORDAN] * steps, "cubic": [CUBIC] * steps, "quintic": [QUINTIC] * steps,
                 "polar-express": PE_STEPS[:steps]}[name]
        numpy.testing.assert_allclose(newton_schulz(G, steps, name), (U * poly_map(normalised(s, name), table)) @ Vh,
                                      atol=1e-8)


def test_zero_steps_is_the_normalised_input():
    G = numpy.random.default_rng(6).standard_normal((4, 6))
    numpy.testing.assert_allclose(newton_schulz(G, 0, "jordan"), G / (numpy.linalg.norm(G) + 1e-7), rtol=1e-14)
    numpy.testing.assert_allclose(newton_schulz(G, 0, "polar-express"), G / (1.01 * numpy.linalg.norm(G) + 1e-7),
                                  rtol=1e-14)


def test_float32_working_dtype():
    G = numpy.random.default_rng(7).standard_normal((3, 6, 10))
    ref = newton_schulz(G, 5, "jordan")
    low = newton_schulz(G, 5, "jordan", dtype="float32")
    assert low.dtype == numpy.float64
    assert not numpy.array_equal(low, ref)           # the working precision was really used
    numpy.testing.assert_allclose(low, ref, atol=1e-3)
    G32 = G.astype(numpy.float32)
    out = newton_schulz(G32, 5, "polar-express")
    assert out.dtype == numpy.float32
    numpy.testing.assert_allclose(out, newton_schulz(G, 5, "polar-express"), atol=1e-3)


def test_batched_input():
    G = numpy.random.default_rng(8).standard_normal((3, 2, 5, 4))
    out = newton_schulz(G, 5, "polar-express")
    assert out.shape == G.shape
    for a in range(3):
        for b in range(2):
            numpy.testing.assert_allclose(out[a, b], newton_schulz(G[a, b], 5, "polar-express"),
                                          rtol=1e-12, atol=1e-13)
    err = spectral_error(G, out)
    assert err.shape == (3, 2)


def test_zero_input():
    Z = numpy.zeros((2, 3, 4))
    assert numpy.array_equal(newton_schulz(Z, 5, "jordan"), Z)


# ---------------------------------------------------------------- as geometries

def test_newton_schulz_spectral_norm():
    G = numpy.random.default_rng(9).standard_normal((2, 5, 7))
    exact = get_norm("spectral")
    ns = get_norm("spectral-ns", steps=5, coefficients="jordan")
    numpy.testing.assert_allclose(ns.lmo(G), -newton_schulz(G, 5, "jordan"), rtol=1e-14)
    numpy.testing.assert_allclose(ns.dual_norm(G), exact.dual_norm(G), rtol=1e-14)
    numpy.testing.assert_allclose(ns.norm(G), exact.norm(G), rtol=1e-14)
    # enough Polar Express steps: the exact LMO
    pe = get_norm("spectral-ns", steps=10, coefficients="polar-express")
    numpy.testing.assert_allclose(pe.lmo(G), exact.lmo(G), atol=1e-6)
    # the working dtype option reaches the iteration
    f32 = get_norm("spectral-ns", steps=5, coefficients="jordan", dtype="float32")
    assert f32.lmo(G).dtype == G.dtype and not numpy.array_equal(f32.lmo(G), ns.lmo(G))


def test_newton_schulz_scaled_spectral_norm():
    G = numpy.random.default_rng(10).standard_normal((2, 3, 8))
    ns = get_norm("scaled-spectral-ns", steps=10, coefficients="polar-express")
    numpy.testing.assert_allclose(ns.lmo(G), get_norm("scaled-spectral").lmo(G), atol=1e-6)
    numpy.testing.assert_allclose(ns.lmo(G), -math.sqrt(3 / 8) * newton_schulz(G, 10, "polar-express"), rtol=1e-14)
    numpy.testing.assert_allclose(ns.dual_norm(G), get_norm("scaled-spectral").dual_norm(G), rtol=1e-14)


# ---------------------------------------------------------------- controlled error

BASES = ["spectral", "frobenius", "sign", "colnorm", "scaled-spectral", "l1"]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("delta", [0.0, 0.3, 0.9])
def test_controlled_error_modes(base, delta):
    M = numpy.random.default_rng(11).standard_normal((4, 5, 3))
    norm = get_norm(base)
    exact = norm.lmo(M)
    dual = norm.dual_norm(M)

    adv = get_norm("controlled", base=base, delta=delta, mode="adversarial").lmo(M)
    numpy.testing.assert_allclose(inner(M, -adv) / dual, 1 - delta, rtol=0, atol=1e-12)
    numpy.testing.assert_allclose(norm.norm(adv - exact), delta, atol=1e-12)

    over = get_norm("controlled", base=base, delta=delta, mode="overshoot").lmo(M)
    numpy.testing.assert_allclose(norm.norm(over), 1 + delta, rtol=0, atol=1e-12)
    numpy.testing.assert_allclose(norm.norm(over - exact), delta, atol=1e-12)

    rnd_lmo = get_norm("controlled", base=base, delta=delta, mode="random", seed=3)
    for _ in range(3):   # fresh draws each call
        rnd = rnd_lmo.lmo(M)
        err = norm.norm(rnd - exact)
        assert (err <= delta + 1e-12).all()
        numpy.testing.assert_allclose(err, delta, atol=1e-12)
        # the error model's consequences (docs/theory.md §6)
        assert (inner(M, rnd) <= -(1 - delta) * dual + 1e-12).all()
        assert (norm.norm(rnd) <= 1 + delta + 1e-12).all()


def test_controlled_error_random_is_seeded():
    M = numpy.random.default_rng(12).standard_normal((2, 4, 4))
    a = get_norm("controlled", delta=0.5, mode="random", seed=1).lmo(M)
    b = get_norm("controlled", delta=0.5, mode="random", seed=1).lmo(M)
    c = get_norm("controlled", delta=0.5, mode="random", seed=2).lmo(M)
    assert numpy.array_equal(a, b) and not numpy.array_equal(a, c)


def test_controlled_error_delegates_norms():
    M = numpy.random.default_rng(13).standard_normal((2, 4, 6))
    c = ControlledErrorLMO(base="colnorm", delta=0.2)
    base = get_norm("colnorm")
    numpy.testing.assert_allclose(c.dual_norm(M), base.dual_norm(M))
    numpy.testing.assert_allclose(c.norm(M), base.norm(M))
    assert c.rho((4, 6)) == base.rho((4, 6))


@pytest.mark.parametrize("delta", [-0.1, 1.0, 1.5, float("nan")])
def test_controlled_error_rejects_bad_delta(delta):
    with pytest.raises(ValueError, match="delta"):
        get_norm("controlled", delta=delta)


def test_controlled_error_rejects_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        get_norm("controlled", delta=0.1, mode="sideways")

