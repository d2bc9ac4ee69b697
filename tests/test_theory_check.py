"""``gluon-mvr theory check`` reads schedules as users write them (issue 16), through the CLI.

The four cases of the issue: the momentum written as beta, a ``Min`` cap with a constant, a
polylog factor, a decimal exponent; plus one-line parse errors naming the flag (exit 2).
"""
import json

import pytest
import sympy as sp

from gluon_mvr.experiments.cli.main import main
from gluon_mvr.theory import check as C


def _run(capsys, *argv):
    rc = main(["theory", "check", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


# ------------------------------------------------------------------- momentum as beta / 1 - beta
def test_momentum_written_as_beta(capsys):
    sched = ("--method", "mvr1", "--radius", "K**(-2/3)")
    # the old flag keeps meaning 1 - beta: 1 - K^-2/3 there is "no momentum", K^0, with a hint
    rc, out, _ = _run(capsys, *sched, "--momentum", "1 - K**(-2/3)")
    assert rc == 1 and "O(K^0)" in out and "does NOT attain" in out
    assert "--momentum is read as 1 - beta" in out
    hints = [ln for ln in out.splitlines() if "hint:" in ln]
    assert len(hints) == 1 and "--beta" in hints[0] and "tends to 1" in hints[0]
    # the same text as beta attains K^-1/3, and so does its 1 - beta written with the new flag
    rc, out, _ = _run(capsys, *sched, "--beta", "1 - K**(-2/3)")
    assert rc == 0 and "O(K^-1/3)" in out and "attains" in out and "hint" not in out
    rc, out, _ = _run(capsys, *sched, "--one-minus-beta", "K**(-2/3)")
    assert rc == 0 and "hint" not in out and "read as 1 - beta" not in out
    # the converse slip: 1 - beta passed as --beta
    rc, out, _ = _run(capsys, *sched, "--beta", "K**(-2/3)")
    hints = [ln for ln in out.splitlines() if "hint:" in ln]
    assert rc == 1 and len(hints) == 1 and "--one-minus-beta" in hints[0]
    # a 1 - beta that does not tend to 1 gets no hint
    rc, out, _ = _run(capsys, *sched, "--one-minus-beta", "K**(-1/2)")
    assert rc == 1 and "hint" not in out


def test_momentum_flags_exclusive_and_required(capsys):
    rc, out, err = _run(capsys, "--method", "mvr1", "--radius", "K**(-2/3)")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--beta" in err
    rc, _, err = _run(capsys, "--method", "mvr1", "--radius", "K**(-2/3)", "--beta", "0.5", "--momentum", "0.5")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "only one of" in err


# ------------------------------------------------------------------- caps and constants
def test_min_cap_with_constant(capsys, tmp_path):
    path = tmp_path / "c.json"
    rc, out, err = _run(capsys, "--method", "mvr1", "--radius", "Min(1/L1, K**(-2/3))",
                        "--one-minus-beta", "c_beta*K**(-2/3)", "--json", str(path))
    assert rc == 0 and err == "" and "O(K^-1/3)" in out
    assert "is K**(-2/3) for large K" in out
    data = json.loads(path.read_text())
    assert data["attained"] and data["exponent"] == "-1/3" and data["momentum_flag"] == "one_minus_beta"
    # the cap picks the eventually smaller argument: Max picks the larger one, K^-1/2, too slow
    rc, out, _ = _run(capsys, "--method", "mvr1", "--radius", "Max(t0*K**(-1/2), K**(-2/3))",
                      "--one-minus-beta", "K**(-2/3)")
    assert rc == 1 and "is t0/sqrt(K) for large K" in out
    # gluon's capped form with its 1-beta cap
    rc, out, _ = _run(capsys, "--method", "gluon", "--radius", "Min(1/L1, K**(-3/4))", "--beta", "1 - K**(-1/2)")
    assert rc == 0 and "O(K^-1/4)" in out


# ------------------------------------------------------------------- polylog factors
def test_polylog_reported_and_not_attained(capsys, tmp_path):
    path = tmp_path / "c.json"
    rc, out, _ = _run(capsys, "--method", "gluon", "--radius", "log(K)**3*K**(-3/4)",
                      "--one-minus-beta", "K**(-1/2)", "--json", str(path))
    assert rc == 1 and "O(K^-1/4 log^3 K)" in out and "does NOT attain" in out and "log" in out
    data = json.loads(path.read_text())
    assert data["exponent"] == "-1/4" and data["log_power"] == "3" and not data["attained"]
    # without the log factor the same schedule attains
    rc, out, _ = _run(capsys, "--method", "gluon", "--radius", "K**(-3/4)", "--one-minus-beta", "K**(-1/2)")
    assert rc == 0 and "O(K^-1/4)" in out


def test_polylog_attains_only_where_the_claim_allows(monkeypatch):
    r = C.check_schedule("gluon", "log(K)**3*K**(-3/4)", one_minus_beta_expr="K**(-1/2)")
    assert (r.exponent, r.log_power, r.attained) == (sp.Rational(-1, 4), 3, False)
    # a claim with log^3 K allowed (as the star-convex "up to logs" claims) accepts it, log^2 not
    real = C.get_bound

    class Allowing:
        def __init__(self, power):
            self._b, self.claimed_log_power = real("gluon"), power

        def __getattr__(self, name):
            return getattr(self._b, name)
    for power, ok in ((3, True), (2, False)):
        monkeypatch.setattr(C, "get_bound", lambda m, power=power: Allowing(power))
        assert C.check_schedule("gluon", "log(K)**3*K**(-3/4)", one_minus_beta_expr="K**(-1/2)").attained is ok


@pytest.mark.parametrize("term,order", [("log(K)**3*K**(-3/4)", (sp.Rational(-3, 4), 3)),
                                        ("sqrt(K*log(K))", (sp.Rational(1, 2), sp.Rational(1, 2))),
                                        ("K**2/log(3*K)", (2, -1)), ("1/(K + log(K))", (-1, 0)),
                                        ("exp(-K) + K**(-1)", (-1, 0))])
def test_term_order(term, order):
    assert C.term_order(C.parse_user_expr("radius", term)) == tuple(sp.sympify(v) for v in order)


# ------------------------------------------------------------------- decimal exponents
def test_decimal_exponents_snapped_with_note(capsys):
    for dec in ("-0.6667", "-0.66666667"):
        rc, out, _ = _run(capsys, "--method", "mvr1", "--radius", f"K**({dec})", "--one-minus-beta", f"K**({dec})")
        assert rc == 0 and "O(K^-1/3)" in out, out
        assert f"exponent {dec} read as -2/3" in out
    # read exactly instead, K^-0.6667 for both would not attain (the transient is K^-0.3333)
    t = C.parse_user_expr("radius", "K**(-0.6667)")
    assert t == C.S.K ** sp.Rational(-2, 3)
    # an exact decimal needs no note; one far from a small rational is read exactly, no note
    notes = []
    assert C.parse_user_expr("radius", "K**(-0.75)", notes) == C.S.K ** sp.Rational(-3, 4) and notes == []
    assert C.parse_user_expr("radius", "K**(-0.62)", notes) == C.S.K ** sp.Rational(-31, 50) and notes == []
    rc, out, _ = _run(capsys, "--method", "mvr1", "--radius", "K**(-0.62)", "--one-minus-beta", "K**(-2/3)")
    assert rc == 1 and "read as" not in out


# ------------------------------------------------------------------- parse errors
@pytest.mark.parametrize("argv,flag", [
    (("--method", "mvr9", "--radius", "K", "--beta", "0.5"), "--method"),
    (("--method", "mvr1", "--radius", "K**(", "--beta", "0.5"), "--radius"),
    (("--method", "mvr1", "--radius", "1/0", "--beta", "0.5"), "--radius"),
    (("--method", "mvr1", "--radius", "K**(-2/3)", "--beta", "foo*K"), "--beta"),
    (("--method", "mvr1", "--radius", "K**(-2/3)", "--one-minus-beta", ""), "--one-minus-beta"),
    (("--method", "mvr1", "--radius", "K**(-2/3)", "--momentum", "__import__('os')"), "--momentum"),
    (("--method", "mvr2", "--radius", "K**(-2/3)", "--beta", "0.5", "--q", "K**(-2/3"), "--q"),
    (("--method", "mvr2", "--radius", "K**(-2/3)", "--beta", "0.5"), "--q"),
    (("--method", "mvr1", "--radius", "Min(K**(-2/3), exp(K))", "--beta", "0.5"), "--radius"),
])
def test_parse_errors_one_line_naming_the_flag(capsys, argv, flag):
    rc, out, err = _run(capsys, *argv)
    lines = err.strip().splitlines()
    assert rc == 2 and out == "" and len(lines) == 1, err
    assert lines[0].startswith("gluon-mvr theory check: error: " + flag), lines[0]
    assert "Traceback" not in err
