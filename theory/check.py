r"""``theory check``: what rate does a user's schedule give in a method's bound?

The user gives the radius :math:`t(K)`, the momentum parameter :math:`1-\beta(K)` and (MVR-2/3)
the mixing :math:`q(K)` as expressions in ``K`` and the constant symbols (``t0``, ``c_beta``,
``c_q``, ``L0``, ``L1``, ``ell``, ``sigma``, ``rho``, ``kappa``, ``Delta0``).  They are
substituted into the method's bound (:mod:`theory.bounds_nonconvex`, one layer, exact LMO), the
descent condition :math:`c>0` is checked in the limit, and the leading exponent of the resulting
rate (:mod:`theory.asymptotics`) is compared with the method's claimed one
(:math:`-1/4` Gluon, :math:`-1/3` MVR).  A rate as fast or faster than claimed is "attained".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

from gluon_mvr.theory import symbols as S
from gluon_mvr.theory.asymptotics import term_exponent
from gluon_mvr.theory.bounds_nonconvex import HORIZON_BOUND_METHODS, get_bound

_FUNCS = {"sqrt": sp.sqrt, "log": sp.log, "ln": sp.log, "exp": sp.exp, "Min": sp.Min, "Max": sp.Max,
          "min": sp.Min, "max": sp.Max, "Rational": sp.Rational}
_ALLOWED = re.compile(r"^[A-Za-z0-9_+\-*/^(). ,]*$")


class BadInput(ValueError):
    """A user expression or option that cannot be used; ``field`` names it."""

    def __init__(self, field_name, message):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def parse_user_expr(field_name: str, text: str):
    """Parse ``text`` into a sympy expression in ``K`` and the allowed constant symbols."""
    if text is None or not str(text).strip():
        raise BadInput(field_name, "empty expression")
    text = str(text)
    if not _ALLOWED.match(text) or "__" in text:
        raise BadInput(field_name, f"unsupported characters in {text!r}")
    local = dict(S.USER_NAMES)
    local.update(_FUNCS)
    try:
        expr = parse_expr(text, local_dict=local, global_dict={"Integer": sp.Integer, "Float": sp.Float,
                                                                 "Symbol": sp.Symbol, "Rational": sp.Rational},
                          transformations=standard_transformations + (convert_xor,), evaluate=True)
    except Exception as exc:
        raise BadInput(field_name, f"cannot parse {text!r} ({type(exc).__name__})") from None
    if not isinstance(expr, sp.Expr):
        raise BadInput(field_name, f"{text!r} is not an expression")
    unknown = sorted(s.name for s in expr.free_symbols if s not in set(S.USER_NAMES.values()))
    if unknown:
        raise BadInput(field_name, f"unknown symbol(s) {unknown}; allowed: K, {', '.join(n for n in S.USER_NAMES if n != 'K')}")
    expr = sp.nsimplify(expr, rational=True) if expr.has(sp.Float) else expr
    return expr


@dataclass
class CheckResult:
    """Outcome of :func:`check_schedule`."""

    method: str
    radius: str
    momentum: str
    q: str | None
    exponent: sp.Rational | None
    claimed: sp.Rational
    attained: bool
    conditions: list = field(default_factory=list)   # (name, passed, detail)
    terms: list = field(default_factory=list)        # (name, exponent)
    message: str = ""

    def as_dict(self):
        return {"method": self.method, "radius": self.radius, "momentum": self.momentum, "q": self.q,
                "exponent": None if self.exponent is None else str(self.exponent),
                "claimed": str(self.claimed), "attained": bool(self.attained),
                "conditions": [{"name": n, "passed": bool(p), "detail": d} for n, p, d in self.conditions],
                "terms": [{"name": n, "exponent": str(e)} for n, e in self.terms], "message": self.message}


def check_schedule(method: str, radius_expr: str, momentum_expr: str, q_expr: str | None = None) -> CheckResult:
    """Rate of ``method``'s bound under a user schedule; see the module docstring.

    Raises
    ------
    BadInput
        For an unknown method or an expression that cannot be parsed (``field`` names it).
    """
    if method not in HORIZON_BOUND_METHODS:
        raise BadInput("method", f"unknown method {method!r}; allowed: {', '.join(HORIZON_BOUND_METHODS)}")
    b = get_bound(method)
    t = parse_user_expr("radius", radius_expr)
    h = parse_user_expr("momentum", momentum_expr)
    needs_q = method in ("mvr2", "mvr3")
    if needs_q and q_expr is None:
        raise BadInput("q", f"method {method} needs --q (the MVR mixing q(K))")
    q = parse_user_expr("q", q_expr) if q_expr is not None else sp.Integer(1)

    conditions = []
    K = S.K
    for name, e in (("radius", t), ("momentum", h), ("q", q)):
        lim = sp.limit(e, K, sp.oo)
        pos = bool(sp.simplify(e.subs(K, 10 ** 6)).is_positive)
        conditions.append((f"{name} > 0", pos, f"{name}(K) = {e}, positive at K = 1e6: {pos}"))
        if name != "radius":
            ok = bool((lim - 1).is_nonpositive) if lim.is_finite else False
            conditions.append((f"{name} <= 1 for large K", ok, f"lim {name} = {lim}"))
    vals = {S.t: t, S.one_minus_beta: h, S.q: q}
    c = b.coefficient.subs(S.delta, 0).subs(vals)
    c_lim = sp.limit(c, K, sp.oo)
    c_ok = bool(c_lim.is_positive)
    conditions.append(("descent coefficient c > 0 for large K", c_ok, f"lim c = {c_lim}"))
    ok_all = all(p for _, p, _ in conditions)
    result = CheckResult(method, str(radius_expr), str(momentum_expr), None if q_expr is None else str(q_expr),
                         None, b.claimed_exponent, False, conditions)
    if not ok_all:
        failed = [n for n, p, _ in conditions if not p]
        result.message = f"{method}: the bound does not apply to this schedule ({', '.join(failed)} fails)"
        return result
    terms = [(n, e.subs(S.delta, 0).subs(S.w, 1).subs(vals)) for n, e in b.homogeneous_terms(p=1)]
    try:
        exps = [(n, term_exponent(sp.simplify(e), K)) for n, e in terms]
    except (ValueError, NotImplementedError, TypeError) as exc:
        raise BadInput("radius/momentum/q", f"the rate has no power-law exponent in K ({exc})") from None
    lead = max(e for _, e in exps)
    result.terms = exps
    result.exponent = lead
    result.attained = bool(lead <= b.claimed_exponent)
    verdict = "attains" if result.attained else "does NOT attain"
    result.message = (f"{method}: this schedule gives G_K = O(K^{lead}); it {verdict} the claimed "
                      f"O(K^{b.claimed_exponent})")
    return result
