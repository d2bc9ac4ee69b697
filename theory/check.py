r"""``theory check``: what rate does a user's schedule give in a method's bound?

The user gives the radius :math:`t(K)`, the momentum (as :math:`\beta(K)` with ``--beta`` or
as :math:`1-\beta(K)` with ``--one-minus-beta``; the older ``--momentum`` also means
:math:`1-\beta`) and (MVR-2/3) the mixing :math:`q(K)` as expressions in ``K`` and the
constant symbols (``t0``, ``c_beta``, ``c_q``, ``L0``, ``L1``, ``ell``, ``sigma``, ``rho``,
``kappa``, ``Delta0``).  They are substituted into the method's bound
(:mod:`theory.bounds_nonconvex`, one layer, exact LMO), the descent condition :math:`c>0` is
checked in the limit, and the order of the resulting rate is compared with the method's claimed
one (:math:`K^{-1/4}` Gluon, :math:`K^{-1/3}` MVR, no log factors).

Reading rules (each one reported as a note when it applies):

- **caps** ``Min(a, b)``/``Max(a, b)``: the bound is analysed as :math:`K\to\infty`, where a
  cap equals its eventually smaller (larger) argument, decided by the order
  :math:`K^e(\ln K)^p` of the arguments (lexicographic in :math:`(e, p)`), and by the limit of
  their ratio when the orders tie;
- **decimal exponents**: a decimal exponent within :math:`10^{-3}` of a rational with
  denominator at most 12 (the denominators rate exponents have) is read as that rational, so
  ``K**(-0.6667)`` is :math:`K^{-2/3}`; other decimals are read exactly;
- **polylog factors**: each term's order is :math:`K^e(\ln K)^p`; the rate is the largest order
  among the terms, and it *attains* the claim when :math:`e` is below the claimed exponent, or
  equal with :math:`p` at most the log power the claim allows (0 for the non-convex claims).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

from gluon_mvr.theory import symbols as S
from gluon_mvr.theory.asymptotics import term_exponent
from gluon_mvr.theory.bounds_nonconvex import HORIZON_BOUND_METHODS, get_bound

_FUNCS = {"sqrt": sp.sqrt, "log": sp.log, "ln": sp.log, "exp": sp.exp, "Min": sp.Min, "Max": sp.Max,
          "min": sp.Min, "max": sp.Max, "Rational": sp.Rational}
_ALLOWED = re.compile(r"^[A-Za-z0-9_+\-*/^(). ,]*$")

#: decimal exponents are read as a rational with denominator <= this, when within SNAP_TOL of it
SNAP_DENOMINATOR = 12
SNAP_TOL = 1e-3

#: the command-line flag of each user field (error messages name the flag)
FLAGS = {"method": "--method", "radius": "--radius", "momentum": "--momentum", "beta": "--beta",
         "one_minus_beta": "--one-minus-beta", "q": "--q"}


class BadInput(ValueError):
    """A user expression or option that cannot be used; ``field`` names it (see :data:`FLAGS`)."""

    def __init__(self, field_name, message):
        super().__init__(f"{FLAGS.get(field_name, field_name)}: {message}")
        self.field = field_name
        self.flag = FLAGS.get(field_name, field_name)


# ------------------------------------------------------------------------------ reading
def _snap(value: float):
    """The rational of denominator <= :data:`SNAP_DENOMINATOR` nearest ``value`` when within
    :data:`SNAP_TOL` of it (smallest denominator first), else ``None``."""
    for den in range(1, SNAP_DENOMINATOR + 1):
        num = round(value * den)
        if abs(value - num / den) <= SNAP_TOL:
            return sp.Rational(num, den)
    return None


def _snap_exponents(expr, notes):
    """Replace decimal exponents of powers by nearby small rationals (module docstring)."""
    def fix(node):
        base, ex = node.args
        reps = {}
        for f in ex.atoms(sp.Float):
            r = _snap(float(f))
            if r is not None and sp.Rational(str(f)) != r:
                note = f"exponent {float(f)!r} read as {r} (within {SNAP_TOL:g})"
                if note not in notes:
                    notes.append(note)
            reps[f] = r if r is not None else sp.Rational(str(f))
        return sp.Pow(base, ex.xreplace(reps))
    return expr.replace(lambda n: n.is_Pow and n.exp.has(sp.Float), fix)


def parse_user_expr(field_name: str, text: str, notes: list | None = None):
    """Parse ``text`` into a sympy expression in ``K`` and the allowed constant symbols.

    Decimal exponents are snapped (module docstring), other decimals read exactly; a note per
    snapped exponent is appended to ``notes``.  Raises :class:`BadInput` naming ``field_name``.
    """
    notes = [] if notes is None else notes
    if text is None or not str(text).strip():
        raise BadInput(field_name, "empty expression")
    text = str(text)
    if not _ALLOWED.match(text) or "__" in text:
        raise BadInput(field_name, f"unsupported characters in {text!r}; use K, numbers, + - * / ^ ( ), "
                                   f"sqrt, log, exp, Min, Max and the constants {', '.join(_constant_names())}")
    local = dict(S.USER_NAMES)
    local.update(_FUNCS)
    try:
        expr = parse_expr(text, local_dict=local, global_dict={"Integer": sp.Integer, "Float": sp.Float,
                                                                 "Symbol": sp.Symbol, "Rational": sp.Rational},
                          transformations=standard_transformations + (convert_xor,), evaluate=True)
    except Exception as exc:  # sympy raises many kinds on malformed text; all are bad input
        raise BadInput(field_name, f"cannot parse {text!r} ({type(exc).__name__})") from None
    if not isinstance(expr, sp.Expr):
        raise BadInput(field_name, f"{text!r} is not an expression")
    unknown = sorted(s.name for s in expr.free_symbols if s not in set(S.USER_NAMES.values()))
    if unknown:
        raise BadInput(field_name, f"unknown symbol(s) {unknown}; allowed: K, {', '.join(_constant_names())}")
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
        raise BadInput(field_name, f"{text!r} is not a finite real expression")
    if expr.has(sp.Float):
        expr = _snap_exponents(expr, notes)
        expr = sp.nsimplify(expr, rational=True) if expr.has(sp.Float) else expr
    return expr


def _constant_names():
    return [n for n in S.USER_NAMES if n != "K"]


# ------------------------------------------------------------------------------ orders
def _order_fast(expr, K):
    r"""Order :math:`(e, p)` of ``expr`` ~ :math:`K^e(\ln K)^p` by structural recursion, or
    ``None`` when undecidable this way (products add, constant powers scale, a sum takes its
    unique largest summand, :math:`\ln(cK^e)` with :math:`e>0` is :math:`(0, 1)`)."""
    if not expr.has(K):
        return None if expr == 0 else (sp.Integer(0), sp.Integer(0))
    if expr == K:
        return (sp.Integer(1), sp.Integer(0))
    if expr.is_Mul:
        parts = [_order_fast(f, K) for f in expr.args]
        if any(v is None for v in parts):
            return None
        return (sp.Add(*[v[0] for v in parts]), sp.Add(*[v[1] for v in parts]))
    if expr.is_Pow:
        base, ex = expr.args
        if ex.has(K) or not ex.is_number:
            return None
        v = _order_fast(base, K)
        return None if v is None else (v[0] * ex, v[1] * ex)
    if isinstance(expr, sp.log):
        v = _order_fast(expr.args[0], K)
        if v is not None and v[0].is_number and v[0] > 0:
            return (sp.Integer(0), sp.Integer(1))
        return None
    if expr.is_Add:
        parts = [_order_fast(f, K) for f in expr.args]
        if any(v is None or not (v[0].is_number and v[1].is_number) for v in parts):
            return None
        top = max(parts, key=lambda v: (v[0], v[1]))
        return top if sum(1 for v in parts if v == top) == 1 else None
    return None


def term_order(term, K=S.K):
    r"""``(e, p)`` with :math:`|b(K)|\asymp K^e(\ln K)^p` for one term ``b`` (rationals).

    Structural first (:func:`_order_fast`); otherwise :math:`e` by :func:`term_exponent` and
    :math:`p=\lim\ln|b/K^e|/\ln\ln K`, taken after :math:`K=e^{e^y}`.
    """
    term = sp.sympify(term)
    fast = _order_fast(term, K)
    if fast is not None:
        return sp.nsimplify(fast[0]), sp.nsimplify(fast[1])
    e = term_exponent(term, K)
    y = sp.Symbol("_y", positive=True)
    rest = sp.log(sp.Abs(term / K ** e)).subs(K, sp.exp(sp.exp(y)))
    p = sp.limit(rest / y, y, sp.oo)
    if p in (sp.oo, -sp.oo) or p.has(sp.nan, sp.zoo) or not p.is_real:
        raise ValueError(f"term {term} is not K^e (log K)^p (log power limit {p})")
    return e, sp.nsimplify(p)


def format_order(e, p) -> str:
    """``O(K^e log^p K)`` as printed (``K^-1/4 log^3 K``; no log part when ``p = 0``)."""
    p = sp.nsimplify(p)
    logs = "" if p == 0 else (" log K" if p == 1 else f" log^{p} K" if p.is_Integer else f" log^({p}) K")
    return f"K^{e}{logs}"


def _resolve_caps(expr, K, notes):
    """``Min``/``Max`` replaced by their eventual argument as :math:`K\\to\\infty` (module
    docstring); a note for each cap that involves ``K``."""
    def pick(kind):
        def chooser(*args):
            if not any(a.has(K) for a in args):
                return kind(*args)
            ordered = [(a, term_order(a, K)) for a in args]
            best = ordered[0]
            for cand in ordered[1:]:
                a, (ea, pa) = best[0], best[1]
                b, (eb, pb) = cand
                if (ea, pa) == (eb, pb):
                    r = sp.limit(b / a, K, sp.oo)
                    better = bool(r < 1) if r.is_number else False
                else:
                    better = (eb, pb) < (ea, pa)
                if better == (kind is sp.Min):
                    best = cand
            note = f"{kind.__name__}({', '.join(map(str, args))}) is {best[0]} for large K"
            if note not in notes:
                notes.append(note)
            return best[0]
        return chooser
    for kind in (sp.Min, sp.Max):
        expr = expr.replace(kind, pick(kind))
    return expr


# ------------------------------------------------------------------------------ result
@dataclass
class CheckResult:
    """Outcome of :func:`check_schedule`.

    ``exponent``/``log_power`` give the rate :math:`O(K^e(\\ln K)^p)` (``None`` when the bound
    does not apply); ``momentum_flag`` says how the momentum was given (``beta``,
    ``one_minus_beta`` or ``momentum`` = :math:`1-\\beta`); ``notes`` and ``hints`` are the
    one-line readings and warnings printed with the verdict.
    """

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
    log_power: sp.Rational | None = None
    claimed_log_power: sp.Rational = sp.Integer(0)
    term_orders: list = field(default_factory=list)  # (name, exponent, log power)
    momentum_flag: str = "momentum"
    one_minus_beta: str = ""
    notes: list = field(default_factory=list)
    hints: list = field(default_factory=list)

    @property
    def rate(self) -> str | None:
        return None if self.exponent is None else f"O({format_order(self.exponent, self.log_power)})"

    def as_dict(self):
        return {"method": self.method, "radius": self.radius, "momentum": self.momentum, "q": self.q,
                "momentum_flag": self.momentum_flag, "one_minus_beta": self.one_minus_beta,
                "exponent": None if self.exponent is None else str(self.exponent),
                "log_power": None if self.log_power is None else str(self.log_power),
                "rate": self.rate, "claimed": str(self.claimed),
                "claimed_log_power": str(self.claimed_log_power), "attained": bool(self.attained),
                "conditions": [{"name": n, "passed": bool(p), "detail": d} for n, p, d in self.conditions],
                "terms": [{"name": n, "exponent": str(e), "log_power": str(p)} for n, e, p in self.term_orders],
                "notes": list(self.notes), "hints": list(self.hints), "message": self.message}


def _momentum_input(momentum_expr, beta_expr, one_minus_beta_expr, notes):
    """``(field, text, 1-beta expression)`` from exactly one of the three momentum inputs."""
    given = [(f, v) for f, v in (("one_minus_beta", one_minus_beta_expr), ("beta", beta_expr),
                                 ("momentum", momentum_expr)) if v is not None]
    if not given:
        raise BadInput("one_minus_beta", "give the momentum as --beta B(K) or --one-minus-beta H(K) "
                                         "(--momentum is the same as --one-minus-beta)")
    if len(given) > 1:
        raise BadInput(given[1][0], f"give only one of --beta, --one-minus-beta, --momentum; got "
                                    f"{', '.join(FLAGS[f] for f, _ in given)}")
    fld, text = given[0]
    e = parse_user_expr(fld, text, notes)
    return fld, str(text), (sp.expand(1 - e) if fld == "beta" else e)


def check_schedule(method: str, radius_expr: str, momentum_expr: str | None = None, q_expr: str | None = None,
                   *, beta_expr: str | None = None, one_minus_beta_expr: str | None = None) -> CheckResult:
    """Rate of ``method``'s bound under a user schedule; see the module docstring.

    Give the momentum as exactly one of ``beta_expr`` (:math:`\\beta(K)`),
    ``one_minus_beta_expr`` or ``momentum_expr`` (both :math:`1-\\beta(K)`).

    Raises
    ------
    BadInput
        For an unknown method, a missing/duplicate momentum, or an expression that cannot be
        parsed or analysed (``field`` names it).
    """
    if method not in HORIZON_BOUND_METHODS:
        raise BadInput("method", f"unknown method {method!r}; allowed: {', '.join(HORIZON_BOUND_METHODS)}")
    b = get_bound(method)
    notes, hints = [], []
    K = S.K
    t = parse_user_expr("radius", radius_expr, notes)
    mfield, mtext, h = _momentum_input(momentum_expr, beta_expr, one_minus_beta_expr, notes)
    needs_q = method in ("mvr2", "mvr3")
    if needs_q and q_expr is None:
        raise BadInput("q", f"method {method} needs --q (the MVR mixing q(K))")
    q = parse_user_expr("q", q_expr, notes) if q_expr is not None else sp.Integer(1)
    if mfield == "momentum":
        notes.append("--momentum is read as 1 - beta (the weight of the new gradient); "
                     "--beta and --one-minus-beta say which one is meant")

    resolved = {}
    for fld, e in (("radius", t), (mfield, h), ("q", q)):
        try:
            resolved[fld] = _resolve_caps(e, K, notes)
        except (ValueError, TypeError, NotImplementedError, AttributeError) as exc:
            raise BadInput(fld, f"cannot order the arguments of a Min/Max as K -> oo ({exc})") from None
    t, h, q = resolved["radius"], resolved[mfield], resolved["q"]

    claimed_p = sp.nsimplify(getattr(b, "claimed_log_power", 0))
    result = CheckResult(method, str(radius_expr), mtext, None if q_expr is None else str(q_expr),
                         None, b.claimed_exponent, False, momentum_flag=mfield, one_minus_beta=str(h),
                         claimed_log_power=claimed_p, notes=notes, hints=hints)
    conditions = result.conditions
    try:
        if h.has(K):
            lim_h = sp.limit(h, K, sp.oo)
            if mfield != "beta" and lim_h == 1:
                hints.append(f"hint: {FLAGS[mfield]} is 1 - beta and {mtext!r} tends to 1 (no momentum); "
                             f"if it is beta, pass --beta {mtext!r}")
            elif mfield == "beta" and lim_h == 1:
                hints.append(f"hint: --beta is beta (the weight of the old momentum) and {mtext!r} tends to 0 "
                             f"(no momentum); if it is 1 - beta, pass --one-minus-beta {mtext!r}")
        for name, fld, e in (("radius", "radius", t), ("1-beta", mfield, h), ("q", "q", q)):
            lim = sp.limit(e, K, sp.oo)
            pos = bool(sp.simplify(e.subs(K, 10 ** 6)).is_positive)
            conditions.append((f"{name} > 0", pos, f"{name}(K) = {e}, positive at K = 1e6: {pos}"))
            if name != "radius":
                ok = bool((lim - 1).is_nonpositive) if lim.is_finite else False
                conditions.append((f"{name} <= 1 for large K", ok, f"lim {name} = {lim}"))
        vals = {S.t: t, S.one_minus_beta: h, S.q: q}
        c = b.coefficient.subs(S.delta, 0).subs(vals)
        c_lim = sp.limit(c, K, sp.oo)
    except (ValueError, TypeError, NotImplementedError, AttributeError) as exc:
        raise BadInput("radius", f"the schedule cannot be analysed as K -> oo ({type(exc).__name__}: {exc})") from None
    c_ok = bool(c_lim.is_positive)
    conditions.append(("descent coefficient c > 0 for large K", c_ok, f"lim c = {c_lim}"))
    if not all(p for _, p, _ in conditions):
        failed = [n for n, p, _ in conditions if not p]
        result.message = f"{method}: the bound does not apply to this schedule ({', '.join(failed)} fails)"
        return result
    terms = [(n, sp.simplify(e.subs(S.delta, 0).subs(S.w, 1).subs(vals))) for n, e in b.homogeneous_terms(p=1)]
    try:
        orders = [(n, *term_order(e, K)) for n, e in terms if e != 0]
    except (ValueError, NotImplementedError, TypeError) as exc:
        raise BadInput("radius", f"the rate is not of the form K^e (log K)^p ({exc})") from None
    lead_e, lead_p = max(((e, p) for _, e, p in orders), key=lambda v: (v[0], v[1]))
    result.term_orders = orders
    result.terms = [(n, e) for n, e, _ in orders]
    result.exponent, result.log_power = lead_e, lead_p
    result.attained = bool(lead_e < b.claimed_exponent or (lead_e == b.claimed_exponent and lead_p <= claimed_p))
    verdict = "attains" if result.attained else "does NOT attain"
    claim = format_order(b.claimed_exponent, claimed_p)
    why = ""
    if not result.attained and lead_e == b.claimed_exponent:
        why = f" (log^{lead_p} K factor; the claim allows " + ("no log factors)" if claimed_p == 0
                                                                else f"log^{claimed_p} K)")
    result.message = f"{method}: this schedule gives G_K = {result.rate}; it {verdict} the claimed O({claim}){why}"
    return result
