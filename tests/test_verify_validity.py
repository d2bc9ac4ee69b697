"""The verifier checks that the bounds are valid, not only their exponents (issue 16).

Mutants: a bound with some terms shrunk (the MVR-1 noise terms 100x, Gluon's drift and noise,
star-convex MVR's noise) passes every exponent/minimax check but must fail ``theory verify``.
"""
import dataclasses
import json

import pytest
import sympy as sp

from gluon_mvr.experiments.cli.main import main
from gluon_mvr.theory import bounds_nonconvex as BN, bounds_star as BS, symbols as S
from gluon_mvr.theory import validity as VD
from gluon_mvr.theory import verify as V


def shrink(bound, names, factor):
    """``bound`` with the numerator terms ``names`` multiplied by ``factor``."""
    assert set(names) <= {n for n, _ in bound.numerator}
    return dataclasses.replace(bound, numerator=tuple((n, e * factor if n in names else e)
                                                      for n, e in bound.numerator))


NOISE = ("initial error", "noise")
MUTANTS = [("mvr1", NOISE, 0.01), ("mvr1", ("mvr correction",), 0.5), ("gluon", ("momentum drift",), 0.01),
           ("gluon", NOISE, 0.5), ("mvr2", ("noise",), 0.5), ("mvr3", ("smoothness",), 0.5)]
STAR_MUTANTS = [("star-mvr", ("noise",), 0.01), ("star-momentum", ("momentum drift",), 0.5),
                ("star-mvr3", ("beta correction",), 0.5)]


# ------------------------------------------------------------------- the real bounds pass
# (every validity check on the real bounds runs in tests/test_theory.py's run_all fixture, which
# asserts they pass and how each is decided)


# ------------------------------------------------------------------- mutants fail
@pytest.mark.parametrize("method,names,factor", MUTANTS)
def test_nonconvex_mutants_fail(method, names, factor):
    mutant = shrink(BN.get_bound(method), names, factor)
    assert not VD.check_assembly(method, mutant.numerator).passed
    worst, where = VD.nonconvex_chain_ratio(method, mutant)
    assert worst > 1.5, (worst, where)            # a clear counterexample, not rounding
    assert not VD.check_chain(method, mutant).passed
    # the old checks had no power against it: the exponents are unchanged
    assert V.check_exponent(method, [(n, e.subs(S.delta, 0).subs(S.w, 1).subs(mutant.horizon_values()))
                                     for n, e in mutant.homogeneous_terms(p=1)], mutant.claimed_exponent).passed


@pytest.mark.parametrize("method,names,factor", STAR_MUTANTS)
def test_star_mutants_fail(method, names, factor):
    mutant = shrink(BS.get_star_bound(method), names, factor)
    assert not VD.check_star_assembly(method, mutant.numerator).passed
    assert not VD.check_star_chain(method, mutant).passed


def test_star_mvr2_initial_error_slack_is_caught_symbolically_only():
    # the factor 2 of u_k <= 2 exp(-mu k) is slack: a 2x shrink survives the numeric chain, the
    # symbolic assembly (against the proven weights) still rejects it
    mutant = shrink(BS.get_star_bound("star-mvr2"), ("initial error",), 0.5)
    assert VD.check_star_chain("star-mvr2", mutant).passed
    assert not VD.check_star_assembly("star-mvr2", mutant.numerator).passed


def test_step_mutants_fail():
    assert not VD.check_descent_step(c0=BN.C_NO_DRIFT + S.L1 * S.t).passed          # too large c_0
    assert VD.check_descent_step(c0=BN.C_NO_DRIFT - S.L1 * S.t).passed              # smaller is still valid
    # Gluon's coefficient with its drift forgotten claims more descent than derived
    assert not VD.check_summation_coefficient("gluon", coefficient=BN.C_NO_DRIFT).passed
    h = S.one_minus_beta
    w = VD.weight_checks(noise_h=sp.sqrt(h / 2), corr_h=(1 - h) / (2 * sp.sqrt(h)), families=("h",))
    assert not w["noise"].passed and not w["correction"].passed and w["drift"].passed


def test_unroll_checked_and_mutant_fails():
    assert VD.check_unroll("gluon").passed and VD.check_unroll("mvr1").passed
    # the drift sum with beta^(k-j) instead of beta^(k-j+1), and gluon/mvr1 swapped, are rejected
    wrong = lambda m, k, N_, D_, S_: VD.unrolled(m, k, N_, D_, S_) - sum(
        (1 - S.one_minus_beta) ** (k - j) * S.one_minus_beta * (S_ if m == "gluon" else D_)[j] for j in range(1, k + 1))
    assert not VD.check_unroll("gluon", closed=wrong).passed
    swapped = lambda m, *rest: VD.unrolled("mvr1" if m == "gluon" else "gluon", *rest)
    assert not VD.check_unroll("gluon", closed=swapped).passed and not VD.check_unroll("mvr1", closed=swapped).passed


def test_martingale_identity_and_control():
    ok = VD.check_martingale()
    assert ok.passed is True and ok.method == "numeric"
    l2, jensen = VD.martingale_gap(dependent=False)       # one shared sign: not martingale differences
    assert l2 > 0.1 and not VD.check_martingale(dependent=False).passed


def test_prove_nonnegative_numeric_fallback():
    x = sp.Symbol("x_test", positive=True)
    ok, how = VD.prove_nonnegative(x ** 2 - 10 * x + 26)       # (x - 5)^2 + 1
    assert ok and how in ("symbolic", "numeric")
    ok, how = VD.prove_nonnegative(sp.log(x) ** 2 - sp.log(x) + sp.Rational(1, 8))   # < 0 near x = e^(1/2)
    assert not ok and how == "numeric"


# ------------------------------------------------------------------- through the CLI
@pytest.fixture
def mutated(monkeypatch):
    """MVR-1 noise terms 100x smaller, Gluon's drift 100x, star-MVR's noise 100x, in the registry."""
    mvr1 = shrink(BN.get_bound("mvr1"), NOISE, 0.01)
    gluon = shrink(BN.get_bound("gluon"), ("momentum drift",), 0.01)
    star = shrink(BS.get_star_bound("star-mvr"), ("noise",), 0.01)
    monkeypatch.setitem(BN._CONSTRUCTORS, "mvr1", lambda: mvr1)
    monkeypatch.setitem(BN._CONSTRUCTORS, "gluon", lambda: gluon)
    monkeypatch.setitem(BS._STAR, "star-mvr", lambda: star)
    BN.get_bound.cache_clear()
    BS.get_star_bound.cache_clear()
    yield
    BN.get_bound.cache_clear()
    BS.get_star_bound.cache_clear()


def test_cli_verify_fails_on_mutants(mutated, tmp_path, capsys):
    path = tmp_path / "v.json"
    rc = main(["theory", "verify", "--only", "assembly:mvr1,assembly:mvr2,assembly:gluon,assembly:star-mvr,chain:,"
               "exponent:mvr1,exponent:gluon", "--no-progress", "--json", str(path)])
    out = capsys.readouterr()
    assert rc == 1 and out.err == ""
    data = json.loads(path.read_text())
    status = {c["name"]: c["passed"] for c in data["checks"]}
    for bad in ("assembly:mvr1", "chain:mvr1", "assembly:gluon", "chain:gluon", "assembly:star-mvr", "chain:star-mvr"):
        assert status[bad] is False, bad
    for good in ("assembly:mvr2", "assembly:star-mvr2", "chain:mvr3", "chain:star-momentum", "exponent:mvr1",
                 "exponent:gluon"):
        assert status[good] is True, good           # exponents cannot see the mutants
    methods = {c["name"]: c["method"] for c in data["checks"]}
    assert methods["assembly:mvr1"] == "symbolic" and methods["chain:mvr1"] == "numeric"
    assert "FAIL  chain:mvr1" in out.out and "FAILED:" in out.out
    assert any(r["name"] == "chain:mvr1" and not r["passed"] for r in data["validity"]["mvr1"])


@pytest.mark.slow
def test_full_verify_fails_on_mvr1_noise_mutant(monkeypatch, capsys):
    mvr1 = shrink(BN.get_bound("mvr1"), NOISE, 0.01)
    monkeypatch.setitem(BN._CONSTRUCTORS, "mvr1", lambda: mvr1)
    BN.get_bound.cache_clear()
    try:
        assert main(["theory", "verify", "--no-progress"]) == 1
    finally:
        BN.get_bound.cache_clear()
    out = capsys.readouterr().out
    failed = out.split("FAILED:")[1]
    assert "chain:mvr1" in failed and "assembly:mvr1" in failed and "exponent:mvr1" not in failed


def test_cli_verify_progress_and_only(capsys):
    assert main(["theory", "verify", "--only", "step:descent-l1,step:cauchy"]) == 0
    out = capsys.readouterr()
    assert "theory verify" in out.err and "0/2" in out.err      # the tqdm bar, on stderr
    assert "step:descent-l1" in out.out and "[symbolic]" in out.out and "[numeric]" in out.out
    assert main(["theory", "verify", "--only", "step:cauchy", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["theory", "verify", "--only", "nosuchcheck", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--only" in err[0]
