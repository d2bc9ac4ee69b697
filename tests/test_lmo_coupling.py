"""The coupling study in effective-step terms: the rotation oracle, the rescaling identity, the
near-optimal centre, the verdict, and the rescaling control that must read "rescaling only"."""
import numpy
import pytest

from gluon_mvr.experiments.studies.lmo.bound import lmo_builder
from gluon_mvr.experiments.studies.lmo.coupling import coupling
from gluon_mvr.experiments.studies.lmo.effective import level_optimum, near_optimal_centre, verdict
from gluon_mvr.experiments.studies.lmo.error import lmo_deltas
from gluon_mvr.experiments.studies.lmo.momenta import build_family
from gluon_mvr.experiments.studies.lmo.replay import replay
from gluon_mvr.methods.inexact import RotationErrorLMO


@pytest.mark.parametrize("shape", [(8, 8), (5, 8), (8, 5), (7, 7)])
@pytest.mark.parametrize("base", ["spectral", "scaled-spectral"])
def test_rotation_oracle_exact_gain_unit_norm_direction_error(shape, base):
    rng = numpy.random.default_rng(3)
    M = rng.standard_normal((4,) + shape)
    for delta in (0.0, 0.3, 0.7):
        D = RotationErrorLMO(base=base, delta=delta, seed=1).lmo(M)
        spec, align, over = lmo_deltas(M, D, base)
        numpy.testing.assert_allclose(align, delta, atol=1e-12)          # gain exactly 1 - delta
        numpy.testing.assert_allclose(over, 0.0, atol=1e-12)             # on the unit sphere
        numpy.testing.assert_allclose(spec, numpy.sqrt(2 * delta), atol=1e-12)   # a real direction error
    with pytest.raises(ValueError):
        RotationErrorLMO(delta=1.0)
    with pytest.raises(ValueError):
        RotationErrorLMO(base="frobenius")


def test_adversarial_error_is_the_exact_run_at_a_rescaled_radius():
    problem = build_family("quadratic", {"layers": 1, "dim": 4, "sigma": 2.0})
    t, h = 0.05, 0.2
    adv = replay(problem, "gluon", 30, (0, 1), t, h, lmo_build=lmo_builder("controlled-adversarial", "controlled", 0.5))
    ex = replay(problem, "gluon", 30, (0, 1), 0.5 * t, h)
    numpy.testing.assert_allclose(adv.grad_norms, ex.grad_norms, rtol=1e-12)
    rot = replay(problem, "gluon", 30, (0, 1), t, h, lmo_build=lmo_builder("rotation", "rotation", 0.5))
    assert not numpy.allclose(rot.grad_norms, ex.grad_norms, rtol=1e-3)   # same gain, not the same run


def _bump(t, h, lt0, lh0):
    lt, lh = numpy.meshgrid(numpy.log(t), numpy.log(h), indexing="ij")
    return numpy.exp(0.3 * (lt - lt0) ** 2 + 0.2 * (lh - lh0) ** 2 + 0.1 * (lt - lt0) * (lh - lh0)
                     + 0.02 * (lt - lt0) ** 3)


def test_near_optimal_centre_is_shift_equivariant_off_grid():
    t = numpy.geomspace(1e-3, 1.0, 21)
    h = numpy.geomspace(1e-2, 1.0, 9)
    base = near_optimal_centre(_bump(t, h, numpy.log(0.03), numpy.log(0.1)), t, h)
    for factor in (1.3, 2.5, 1 / 1.7):      # off-grid shifts of the landscape along log t
        G = _bump(t, h, numpy.log(0.03 * factor), numpy.log(0.1))
        got = near_optimal_centre(G, t, h)
        assert got["t"] / base["t"] == pytest.approx(factor, rel=2e-3)
        assert got["h"] / base["h"] == pytest.approx(1.0, rel=2e-3)
        # the same landscape seen through a gain 1/factor: the effective step does not move
        got = near_optimal_centre(G, t, h, gain=numpy.full(G.shape, 1 / factor))
        assert got["x"] / base["x"] == pytest.approx(1.0, rel=2e-3)
        assert got["gain"] == pytest.approx(1 / factor)
    # a grid argmin (the estimator this replaces) moves by whole grid steps instead
    i0 = numpy.argmin(_bump(t, h, numpy.log(0.03), numpy.log(0.1)).min(axis=1))
    i1 = numpy.argmin(_bump(t, h, numpy.log(0.03 * 1.3), numpy.log(0.1)).min(axis=1))
    assert abs(t[i1] / t[i0] - 1.3) > 0.05


def test_verdict_reads_the_intervals():
    assert verdict([0.99, 1.01], [0.98, 1.03])["verdict"] == "rescaling only"
    v = verdict([0.80, 0.85], [0.97, 1.02])
    assert v["verdict"] == "direction effect" and "effective step smaller" in v["detail"]
    v = verdict([0.99, 1.01], [1.10, 1.20])
    assert v["verdict"] == "direction effect" and "1-beta larger" in v["detail"]
    assert verdict([0.982, 0.99], [0.99, 1.0], tol=0.02)["verdict"] == "rescaling only"    # inside the band
    assert verdict([0.96, 0.975], [0.99, 1.0], tol=0.02)["verdict"] == "direction effect"
    assert verdict(None, [1, 1])["verdict"] == "unresolved"
    assert verdict([0.5, 0.6], [0.5, 0.6], edge=True)["verdict"] == "unresolved"


LEVELS = [("exact", ("exact", "exact", 0)),
          ("controlled-adversarial", ("controlled-adversarial", "controlled", 0.5)),
          ("controlled-overshoot", ("controlled-overshoot", "controlled", 0.5)),
          ("rotation", ("rotation", "rotation", 0.5))]


SMALL = {"layers": 1, "dim": 4, "sigma": 2.0}
T_RANGE, H_FACTORS = (2.0 ** -5, 2.0 ** 3), (0.25, 0.5, 1, 2, 4, 8)


@pytest.fixture(scope="module")
def small_coupling():
    return coupling("quadratic", SMALL, K=60, seeds=(0, 1, 2), levels=LEVELS, t_points=17, t_range=T_RANGE,
                    h_factors=H_FACTORS, n_boot=40, track_every=10)


def test_rescaling_control_reads_rescaling_only(small_coupling):
    rep = small_coupling
    by = {r["lmo"]: r for r in rep["levels"]}
    adv, over = by["controlled-adversarial:0.5"], by["controlled-overshoot:0.5"]
    for r, gain in ((adv, 0.5), (over, 1.5)):
        assert r["gain"] == pytest.approx(gain, abs=1e-9)
        assert r["t_shift"] == pytest.approx(1 / gain, rel=0.02)       # the radius moves as the gain forces
        assert r["x_shift"] == pytest.approx(1.0, abs=0.01)            # the effective step does not
        assert r["verdict"] == "rescaling only", r
        assert not r["t_edge"] and not r["h_edge"]
    assert rep["controls_rescaling_only"] is True
    # levels come ordered by the measured delta (exact first)
    deltas = [r["delta_eff"] for r in rep["levels"]]
    assert deltas[0] == 0 and deltas == sorted(deltas)
    assert by["rotation:0.5"]["delta_eff"] == pytest.approx(0.5, abs=1e-9)
    assert by["rotation:0.5"]["delta_spec"] == pytest.approx(1.0, abs=1e-9)
    # the direction error at the same gain: its effective step is not the exact one's
    assert by["rotation:0.5"]["verdict"] == "direction effect"


def test_mutant_without_the_gain_calls_the_rescaling_a_direction_effect(small_coupling):
    """Mutant of the estimator: effective step = radius (the gain ignored).  The rescaling control
    then shows a resolved shift, so the verdict can fail."""
    from gluon_mvr.experiments.studies.lmo.coupling import parameter_grid, run_level
    problem = build_family("quadratic", SMALL)
    t, h, _, _ = parameter_grid(60, 17, T_RANGE, H_FACTORS)
    ex = run_level(problem, 60, (0, 1, 2), t, h, LEVELS[0][1], track_every=10)
    adv = run_level(problem, 60, (0, 1, 2), t, h, LEVELS[1][1], track_every=10)
    ones = numpy.ones_like(ex["gain_seeds"])
    rng = numpy.random.default_rng(0)
    shifts = []
    for _ in range(40):
        idx = rng.integers(0, 3, 3)
        shifts.append(level_optimum(adv["G_seeds"], ones, t, h, idx)["x"]
                      / level_optimum(ex["G_seeds"], ones, t, h, idx)["x"])
    ci = [numpy.percentile(shifts, 2.5), numpy.percentile(shifts, 97.5)]
    assert verdict(ci, [1.0, 1.0])["verdict"] == "direction effect"
    # and the real estimator on the same runs says rescaling only
    real = (level_optimum(adv["G_seeds"], adv["gain_seeds"], t, h)["x"]
            / level_optimum(ex["G_seeds"], ex["gain_seeds"], t, h)["x"])
    assert real == pytest.approx(1.0, abs=0.01)


def test_cli_coupling_prints_effective_steps_and_verdicts(tmp_path, monkeypatch, capsys):
    import json

    import gluon_mvr.experiments.studies.lmo.coupling as lc
    from gluon_mvr.experiments.cli.main import main
    monkeypatch.setattr(lc, "default_levels", lambda: LEVELS[:2])
    out = tmp_path / "c.json"
    code = main(["lmo-error", "--no-progress", "--parts", "coupling", "--coupling-K", "30", "--coupling-seeds", "2",
                 "--coupling-param", "layers=1", "--coupling-param", "dim=4", "--coupling-param", "sigma=2",
                 "--json", str(out), "--store", ""])
    assert code == 0
    text = capsys.readouterr().out
    assert "eff.step" in text and "controlled-adversarial:0.5" in text and "verdict" in text
    doc = json.loads(out.read_text())["coupling"]
    adv = doc["levels"][1]
    assert {"best_t", "best_t_ci", "gain", "gain_ci", "best_x", "best_x_ci", "best_h", "best_h_ci", "x_shift_ci",
            "verdict", "delta_eff"} <= set(adv)
    assert adv["verdict"] in ("rescaling only", "unresolved")


@pytest.mark.parametrize("shape", [(8, 8), (6, 10), (10, 6)])
def test_stretched_rotation_makes_both_consequences_tight(shape):
    M = numpy.random.default_rng(5).standard_normal((3,) + shape)
    for delta in (0.2, 0.6):
        D = RotationErrorLMO(delta=delta, seed=2, stretch=True).lmo(M)
        spec, align, over = lmo_deltas(M, D)
        numpy.testing.assert_allclose(align, delta, atol=1e-12)         # <M, lmo~> = -(1-delta)||M||_*
        numpy.testing.assert_allclose(over, delta, atol=1e-12)          # ||lmo~|| = 1 + delta
        numpy.testing.assert_allclose(spec, numpy.sqrt(delta ** 2 + 4 * delta), atol=1e-12)
        s = numpy.linalg.svd(D, compute_uv=False)
        numpy.testing.assert_allclose(s, 1 + delta, atol=1e-12)        # every singular value (even sizes)
