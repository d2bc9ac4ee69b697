"""The mechanism verdict has power: 'not visible' on the isotropic quadratic (a method with no
momentum matches MVR's exponent there), 'visible' on the skewed default (every control fails)."""
import pytest

import gluon_mvr as gm

GRID = dict(horizons=[100, 316, 1000, 3162], seeds=4, bootstrap=500, noise_share=False)


def test_isotropic_quadratic_mvr_match_is_the_schedules():
    res = gm.rate_check("quadratic", ["mvr1"], params=dict(layers=2, dim=8, sigma=1.0), **GRID)
    (r,) = res.reports
    assert r.rate_verdict == "match" and r.mechanism == "not visible"
    assert r.verdict == "match (schedule only)"
    assert "mvr1~no-momentum" in r.matched_by
    nm = next(c for c in r.controls if c.kind == "no-momentum")
    assert abs(nm.fit.slope - r.fit.slope) < 0.02           # the same exponent without momentum


def test_skewed_default_mvr_beats_every_control():
    from gluon_mvr.experiments.core.config import DEFAULT_PARAMS, DEFAULT_PROBLEM
    res = gm.rate_check(DEFAULT_PROBLEM, ["mvr1"], params=DEFAULT_PARAMS, **GRID)
    (r,) = res.reports
    assert r.mechanism == "visible" and r.verdict == "match" and r.matched_by == []
    assert {c.kind for c in r.controls} == {"momentum", "no-momentum", "prev-sample"}
    for c in r.controls:
        assert c.beaten and c.slope_difference_ci[1] < 0 and r.G_last_ci[1] < c.G_last_ci[0]


def test_the_mechanism_verdict_can_fail_on_a_mutated_control(monkeypatch):
    """Mutant: if the method's own runs stood in for a control, the control could not be beaten
    (same numbers): the verdict must then say 'not visible'."""
    import gluon_mvr.experiments.studies.rate_check as rc
    from gluon_mvr.methods.controls import Control
    real = rc.controls_for

    def same_as_method(m):
        from gluon_mvr.methods import get_method
        return [Control(get_method(m).name, "momentum", get_method(m).with_schedule(get_method(m).schedule,
                                                                                    name="mvr1~clone"))] + real(m)
    monkeypatch.setattr(rc, "controls_for", same_as_method)
    from gluon_mvr.experiments.core.config import DEFAULT_PARAMS, DEFAULT_PROBLEM
    res = gm.rate_check(DEFAULT_PROBLEM, ["mvr1"], params=DEFAULT_PARAMS,
                        **{**GRID, "seeds": 2, "horizons": [100, 316, 1000], "controls": "on"})
    (r,) = res.reports
    assert r.mechanism == "not visible" and r.matched_by == ["mvr1~clone"]


@pytest.mark.slow
def test_the_default_rate_check_claims_hold():
    """The README's first table: default settings, every verdict as printed there."""
    res = gm.rate_check(executor="processes")
    by = {r.method: r for r in res.reports}
    assert abs(by["gluon"].fit.slope + 0.25) <= 0.04
    for m in ("mvr1", "mvr2", "mvr3"):
        assert abs(by[m].fit.slope + 1 / 3) <= 0.04 and by[m].mechanism == "visible" and by[m].verdict == "match"


def test_tuned_gluon_is_an_opt_in_control():
    res = gm.rate_check("quadratic", ["mvr1"], horizons=[20, 40, 80], seeds=2, params=dict(layers=1, dim=3),
                        controls="tuned", executor="serial", bootstrap=100, noise_share=False)
    (r,) = res.reports
    tuned = [c for c in r.controls if c.kind == "tuned"]
    assert len(tuned) == 1 and tuned[0].name == "gluon~tuned" and len(tuned[0].G) == 3
    assert r.as_dict()["controls"][-1]["kind"] == "tuned"
    off = gm.rate_check("quadratic", ["mvr1"], horizons=[20, 40, 80], seeds=2, params=dict(layers=1, dim=3),
                        controls="off", executor="serial", bootstrap=100, noise_share=False)
    assert off.reports[0].controls == [] and off.reports[0].mechanism == "not checked"
