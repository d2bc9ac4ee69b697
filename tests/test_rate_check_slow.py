"""The default rate check's claims, end to end (slow: ~1 minute; run with ``-m slow``)."""
import pytest

from gluon_mvr.experiments.core.config import validate
from gluon_mvr.experiments.studies.rate_check import rate_check


@pytest.mark.slow
def test_default_rate_check_matches_the_theory_exponents(tmp_path):
    cfg = validate({"store": str(tmp_path / "s.sqlite")})
    reports = {r.method: r for r in rate_check(cfg)[0]}
    for m, theory in (("gluon", -0.25), ("mvr1", -1 / 3), ("mvr2", -1 / 3), ("mvr3", -1 / 3)):
        r = reports[m]
        assert abs(r.fit.slope - theory) <= 0.04, (m, r.fit.slope)
        assert r.noise_share >= 1 / 3, (m, r.noise_share)
        assert r.bound_ratio is not None and r.bound_ratio <= 1.0
        assert r.diverged == 0
    g_lo, g_hi = reports["gluon"].fit.ci
    for m in ("mvr1", "mvr2", "mvr3"):
        lo, hi = reports[m].fit.ci
        assert hi < g_lo, (m, reports[m].fit.ci, reports["gluon"].fit.ci)   # intervals do not overlap


@pytest.mark.slow
def test_star_tightness_setting_shows_the_theory_exponents(tmp_path):
    from pathlib import Path

    from gluon_mvr.experiments.core.config import load_toml
    raw = load_toml(Path(__file__).resolve().parent.parent / "configs" / "star-tight.toml")
    cfg = validate({**raw, "store": str(tmp_path / "s.sqlite")})
    reports = {r.method: r for r in rate_check(cfg)[0]}
    for m, theory in (("gluon", -1 / 3), ("mvr1", -0.5), ("mvr2", -0.5), ("mvr3", -0.5)):
        r = reports[m]
        assert abs(r.fit.slope - theory) <= 0.05, (m, r.fit.slope)
        assert r.bound_ratio is not None and r.bound_ratio <= 1.0
    for m in ("mvr1", "mvr2", "mvr3"):        # MVR's gap below momentum's at the largest K
        assert reports[m].G_last_ci[1] < reports["gluon"].G_last_ci[0]
