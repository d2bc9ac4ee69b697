"""``gluon-mvr theory stress`` (issue 16, power measured): the stress search finds where a bound is
tight, kills a shrunk term there (mutant), does not "kill" the correct bound (control), counts
only runs inside the hypotheses, and rejects bad input with one line and exit 2."""
import json
import math
import types

import pytest

from gluon_mvr.experiments.cli.main import main
from gluon_mvr.experiments.studies import stress as ST

# the noiseless Frobenius quadratic: every inequality of the MVR-1 derivation is an equality
# up to the schedule's constants (issue 16's rounding case), so the bound is tight there
TIGHT = {"layers": 1, "dim": 2, "sigma": 0.0, "norm": "frobenius", "curvature": 1.0, "distance": 1.0,
         "seed": 0, "radius_scale": 1.0, "momentum_scale": 1.0}
H = (10, 32)


@pytest.fixture(scope="module")
def tight():
    return ST.stress("mvr1", "quadratic", budget=1, seeds=2, horizons=H, fixed=TIGHT, mutations=True)


def _mutant(res, term, factor):
    b = res.document["bounds"][0]
    return next(m for m in b["mutants"] if m["term"] == term and m["factor"] == factor)


def test_mutant_killed_on_seeded_tight_instance(tight):
    b = tight.document["bounds"][0]
    assert b["counted"] == len(H)
    assert b["worst"]["ratio"] > 0.99            # tight: the search's worst ratio is ~1
    # halving the transient (or the smoothness term) makes the bound invalid there: killed
    assert _mutant(tight, "transient", 2.0)["killed"]
    assert _mutant(tight, "smoothness", 2.0)["killed"]
    assert _mutant(tight, "transient", 10.0)["worst_ratio"] > 1


def test_correct_bound_not_killed(tight):
    """Control: the unmutated bound holds on every run (no violation), a factor-1 'mutant' is
    never killed, and a term that is zero on every run (no noise) cannot be killed; it is
    reported as a finding with its reason."""
    b = tight.document["bounds"][0]
    assert b["violations"] == []
    assert all(r["status"] == "holds" for r in tight.rows)
    assert not any(ST.kills(r, n, 1.0) for r in tight.rows for n in r["terms"])
    assert not _mutant(tight, "noise", 10.0)["killed"]
    finds = {f["term"]: f["why"] for f in b["findings"]}
    assert "noise" in finds and "zero" in finds["noise"]
    assert "transient" not in finds
    assert b["kill_rate_per_term"]["transient"] == 1.0 and b["kill_rate_per_term"]["noise"] == 0.0


def test_terms_sum_to_the_rate_checks_bound(tight, monkeypatch):
    for r in tight.rows:
        assert math.isclose(sum(r["terms"].values()), r["bound_value"], rel_tol=1e-12)
        assert r["key"] is not None                 # stored as a rate-check cell
    # the guard fires when the terms and the rate check's bound drift apart (mutant of the terms)
    real = ST.bound_terms
    monkeypatch.setattr(ST, "bound_terms", lambda *a: {k: v / 2 for k, v in real(*a).items()})
    with pytest.raises(RuntimeError, match="do not sum"):
        ST.evaluate("mvr1", "quadratic", TIGHT, horizons=H, seeds=2, store=":memory:")


def test_runs_outside_hypotheses_do_not_count(monkeypatch):
    rep = types.SimpleNamespace(hypotheses=["inside", "outside: radius"])
    assert ST._hypotheses(None, rep, 1) == "outside: radius"
    monkeypatch.setattr(ST, "_hypotheses", lambda res, rep, i: "outside: forced by the test")
    res = ST.stress("mvr1", "quadratic", budget=1, seeds=2, horizons=H, fixed=TIGHT, mutations=True)
    b = res.document["bounds"][0]
    assert b["counted"] == 0 and b["outside"] == len(H) and b["worst"] is None
    assert not any(m["killed"] for m in b["mutants"])


def test_search_finds_the_tight_instance_and_is_reproducible():
    """A seeded search with the noise and norm pinned (everything else searched) kills the
    halved transient; the same seed gives the same numbers."""
    fixed = {"sigma": 0.0, "norm": "frobenius", "layers": 1, "dim": 2}
    a = ST.stress("mvr1", "quadratic", budget=3, seeds=2, horizons=H, fixed=fixed, mutations=True, seed=1)
    b = ST.stress("mvr1", "quadratic", budget=3, seeds=2, horizons=H, fixed=fixed, mutations=True, seed=1)
    assert [r["measured"] for r in a.rows] == [r["measured"] for r in b.rows]
    assert a.document["bounds"][0]["worst"]["ratio"] > 0.9
    assert any(m["killed"] for m in a.document["bounds"][0]["mutants"] if m["factor"] == 2.0)


def _cli(capsys, *argv):
    rc = main(["theory", "stress", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("argv, flag", [
    (("--bound", "mvr9"), "--bound"), (("--family", "nosuch"), "--family"),
    (("--bound", "star-mvr", "--family", "l0l1"), "--family"), (("--budget", "0"), "--budget"),
    (("--budget", "x"), "--budget"), (("--seeds", "1"), "--seeds")])
def test_bad_input_one_line_exit_2(capsys, argv, flag, tmp_path):
    rc, out, err = _cli(capsys, *argv, "--store", str(tmp_path / "s.sqlite"), "--no-progress")
    assert rc == 2
    assert err.count("\n") == 1 and flag in err and "Traceback" not in err
    assert not (tmp_path / "s.sqlite").exists()       # nothing stored
    assert out == ""


def test_cli_quick_mutations_prints_kill_table(capsys, tmp_path):
    store = str(tmp_path / "s.sqlite")
    argv = ("--bound", "mvr1", "--quick", "--mutations", "--no-progress", "--store", store, "--json", "-")
    rc, out, err = _cli(capsys, *argv)
    assert rc == 0
    doc = json.loads(out)
    assert "kill rate" in err and "findings" in err     # the table (on stderr with --json -)
    b = doc["bounds"][0]
    assert b["bound"] == "mvr1" and len(b["mutants"]) == 2 * len(b["kill_rate_per_term"])
    # a rerun reads the stored cells back: the same numbers
    rc2, out2, _ = _cli(capsys, *argv)
    assert json.loads(out2)["runs"] == doc["runs"]


def test_real_run_outside_pair_radius_is_not_counted():
    """l0l1 at K = 10 with MVR-1's horizon schedule steps beyond the family's pair radius
    (issue 16): the rate check reports it outside, and the search does not count it; K = 32
    stays inside and counts (control)."""
    rows = ST.evaluate("mvr1", "l0l1", {"layers": 1, "dim": 2}, horizons=H, seeds=2, store=":memory:")
    by_K = {r["K"]: r for r in rows}
    assert by_K[10]["hypotheses"].startswith("outside: step") and not by_K[10]["counted"]
    assert by_K[32]["hypotheses"] == "inside" and by_K[32]["counted"]


def test_bad_json_path_and_ctrl_c(capsys, tmp_path, monkeypatch):
    rc, out, err = _cli(capsys, "--json", str(tmp_path / "no" / "such.json"), "--no-progress")
    assert rc == 2 and err.startswith("gluon-mvr theory stress: error: --json:") and err.count("\n") == 1

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(ST, "stress", interrupted)
    rc, out, err = _cli(capsys, "--no-progress", "--store", str(tmp_path / "s.sqlite"))
    assert rc == 130 and err.count("\n") == 1 and "interrupted" in err and out == ""
