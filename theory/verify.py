r"""The symbolic verifier: every bound's algebra, parameter choices, conditions and rates.

:func:`run_all` returns a list of :class:`Check` (name, passed, detail).  Each check is a
function of the formula it checks, with the toolkit's formula as the default argument, so a
wrong formula handed to it is rejected (the tests do exactly that).  Kinds of checks:

- ``recursion:*`` — an error recursion follows from the update rule (exact linear algebra; the
  identities are linear in vector quantities with scalar coefficients, so commuting symbols
  prove them);
- ``step:*`` — a one-step inequality or identity used in a derivation follows from the line
  before it;
- ``exponent:*`` — the leading exponent in ``K`` of a bound on its horizon schedule is the
  claimed one;
- ``minimax:*`` — the schedule's exponents minimise the bound's rate exponent (the linear
  programme of :mod:`theory.asymptotics`), i.e. the terms balance there;
- ``optimum:*`` — a closed-form optimal parameter is a stationary point and a minimum
  (or maximiser of a decrease);
- ``K0:*`` — a condition holds for every ``K`` past a stated ``K0``;
- ``rate:*`` — a star-convex bound on its schedule is :math:`\Theta(K^e(\ln K)^p)` (log power too);
- ``schedules:*`` — :mod:`methods.schedules` agrees with the symbolic choices;
- ``weights:*``, ``step:descent-l1``, ``step:summation:*``, ``step:cauchy-schwarz-layers``,
  ``assembly:*``, ``chain:*`` — the bounds are *valid*: re-derived from their building blocks
  (:mod:`theory.validity`), symbolically where sympy proves it, on seeded random instances
  where not; :func:`validity_report` lists per bound what was checked how.

Each :class:`Check` says how it was decided (``method``: ``"symbolic"`` or ``"numeric"``).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy
import sympy as sp

from gluon_mvr.theory import symbols as S
from gluon_mvr.theory.asymptotics import affine_exponent, max_affine, minimax_exponent, term_exponent
from gluon_mvr.theory.bounds_nonconvex import (C_DRIFT, C_NO_DRIFT, CORR_H, DETERMINISTIC, HORIZON_BOUND_METHODS,
                               NOISE_H, get_bound, symbolic_cap)
from gluon_mvr.theory.bounds_star import STAR_METHODS, get_star_bound
from gluon_mvr.theory import inexact


@dataclass(frozen=True)
class Check:
    """One verification: ``name``, ``passed``, a human ``detail`` and how it was decided:
    ``method`` is ``"symbolic"`` (a sympy proof or exact algebra) or ``"numeric"`` (the verdict
    rests on seeded random instances or sample points; a counterexample fails)."""

    name: str
    passed: bool
    detail: str
    method: str = "symbolic"

    def __post_init__(self):
        object.__setattr__(self, "passed", bool(self.passed))   # sympy booleans -> bool

    def as_dict(self):
        return {"name": self.name, "passed": self.passed, "method": self.method, "detail": self.detail}


def _is_zero(expr) -> bool:
    e = sp.simplify(sp.expand(expr))
    return e == 0


def _is_positive(expr, samples=200) -> bool:
    """``expr > 0`` for all positive symbols and ``0 <= delta < 1`` (see :func:`_positive_how`)."""
    return _positive_how(expr, samples)[0]


def _positive_how(expr, samples=200):
    """``(expr > 0, method)``: sympy first (with :math:`\\delta=s/(1+s)`), ``"symbolic"``; then
    seeded random samples as a fallback (a counterexample fails), ``"numeric"``."""
    sv = sp.Symbol("s_delta", positive=True)
    e = sp.simplify(expr.subs(S.delta, sv / (1 + sv)))
    if e.is_positive:
        return True, "symbolic"
    if e.is_nonpositive:
        return False, "symbolic"
    rng = random.Random(1)
    syms = sorted(e.free_symbols, key=lambda x: x.name)
    f = sp.lambdify(syms, e, "math")
    for _ in range(samples):
        if not f(*[10 ** rng.uniform(-3, 3) for _ in syms]) > 0:
            return False, "numeric"
    return True, "numeric"


def _guard(name, fn, *args, **kw) -> Check:
    """Run one check; an exception is a failure with its message (never a crash of the run)."""
    try:
        return fn(*args, **kw)
    except Exception as exc:  # a formula sympy cannot handle is a failed check, reported
        return Check(name, False, f"error: {type(exc).__name__}: {exc}")


# ================================================================== recursions
beta = sp.Symbol("beta", positive=True)
G1, G0, N, Dk, E_prev, e_prev = sp.symbols("gradf_k gradf_km1 N_k D_k E_prev e_prev")


def _samples():
    """Sample gradients at X^k and X^{k-1} with one sample, in terms of the error symbols."""
    g_at_k = G1 + N
    g_at_km1 = G0 + N - Dk      # from D_k = [g(X^k) - g(X^{k-1})] - [gradf(X^k) - gradf(X^{k-1})]
    return g_at_k, g_at_km1


def _updates():
    gk, gkm1 = _samples()
    M_prev, g_prev = G0 + E_prev, G0 + e_prev
    g_mvr = gk + (1 - S.q) * (g_prev - gkm1)
    return {
        "gluon": beta * M_prev + (1 - beta) * gk,
        "mvr1": gk + beta * (M_prev - gkm1),
        "mvr2": beta * M_prev + (1 - beta) * g_mvr,
        "mvr3": beta * M_prev + (1 - beta) * g_mvr + beta * (gk - gkm1),
        "mvr2-inner": g_mvr,
    }


#: error recursions claimed in the docstrings of :mod:`theory.bounds_nonconvex` [R]
CLAIMED_RECURSIONS = {
    "gluon": beta * E_prev + beta * (G0 - G1) + (1 - beta) * N,
    "mvr1": beta * E_prev + (1 - beta) * N + beta * Dk,
    "mvr2-inner": (1 - S.q) * e_prev + S.q * N + (1 - S.q) * Dk,
    "mvr2": beta * E_prev + beta * (G0 - G1) + (1 - beta) * (e_prev * (1 - S.q) + S.q * N + (1 - S.q) * Dk),
    "mvr3": beta * E_prev + (1 - beta) * ((1 - S.q) * e_prev + S.q * N + (1 - S.q) * Dk) + beta * Dk,
}


def check_recursion(method, claimed=None) -> Check:
    """``M^k - gradf(X^k)`` computed from the update rule equals the claimed recursion."""
    claimed = CLAIMED_RECURSIONS[method] if claimed is None else claimed
    err = _updates()[method] - G1
    ok = _is_zero(err - claimed)
    return Check(f"recursion:{method}", ok,
                 f"E^k = {sp.simplify(err)}; claimed {claimed}" + ("" if ok else " (MISMATCH)"))


def check_mvr3_alternative() -> Check:
    """MVR-3's alternative correction beta(g^k - g^{k-1}) keeps M^k = g^k (so MVR-1's bound, 1-beta -> q)."""
    g_prev, g_new, M_prev = sp.symbols("g_prev g_new M_prev")
    M = beta * M_prev + (1 - beta) * g_new + beta * (g_new - g_prev)
    ok = _is_zero((M - g_new) - beta * (M_prev - g_prev))
    return Check("recursion:mvr3-alt", ok, "M^k - g^k = beta (M^{k-1} - g^{k-1}), and M^0 = g^0, so M^k = g^k")


# ================================================================== one-step lines
def check_step_identity(name, previous, claimed, note="") -> Check:
    ok = _is_zero(previous - claimed)
    return Check(f"step:{name}", ok, f"{previous} == {claimed}" + (f" ({note})" if note else "")
                 + ("" if ok else " (does NOT follow)"))


def check_noise_factors(noise=NOISE_H, corr=CORR_H) -> Check:
    r"""(L2): :math:`(1-\beta)/\sqrt{1-\beta^2}` and :math:`\beta/\sqrt{1-\beta^2}` in terms of h."""
    b = 1 - S.one_minus_beta
    a1 = sp.simplify((S.one_minus_beta / sp.sqrt(1 - b ** 2)) ** 2 - noise ** 2)
    a2 = sp.simplify((b / sp.sqrt(1 - b ** 2)) ** 2 - corr ** 2)
    ok = a1 == 0 and a2 == 0
    return Check("step:martingale-factors", ok,
                 f"(1-b)/sqrt(1-b^2) = {noise}; b/sqrt(1-b^2) = {corr}" + ("" if ok else f" (residuals {a1}, {a2})"))


def check_descent_coefficient(method, floor) -> Check:
    r"""Under the schedule caps (and :math:`t\le1/L_1`), :math:`c_i\ge` ``floor`` (:math:`\delta=0`).

    :math:`c` is affine and decreasing in :math:`u=L_1t\le1` and :math:`v=(1-h)L_1t/h\le1/8`,
    so its minimum over the caps is at the corner; verified symbolically and on random samples.
    """
    c = (C_DRIFT if method in ("gluon", "mvr2") else C_NO_DRIFT).subs(S.delta, 0)
    u, v = sp.symbols("u v", nonnegative=True)
    h = S.one_minus_beta
    lin = 1 - u / 2 - 2 * v if method in ("gluon", "mvr2") else 1 - u / 2
    same = _is_zero(c - lin.subs({u: S.L1 * S.t, v: (1 - h) * S.L1 * S.t / h}))
    corner = lin.subs({u: 1, v: sp.Rational(1, 8)})
    rng = random.Random(0)
    worst = math.inf
    fc = sp.lambdify((S.t, S.L1, h), c)
    fcap = sp.lambdify((h, S.L1), symbolic_cap(method))
    for _ in range(2000):
        hh, L1 = rng.uniform(1e-4, 1.0 - 1e-9), 10 ** rng.uniform(-3, 3)
        cap = min(1 / L1, fcap(hh, L1))
        worst = min(worst, fc(cap * rng.random(), L1, hh), fc(cap, L1, hh))
    ok = same and corner >= floor and worst >= floor - 1e-12
    return Check(f"step:descent-coefficient:{method}", ok,
                 f"c = {lin} with u = L1 t <= 1, v = (1-h) L1 t / h <= 1/8 -> c >= {corner} "
                 f"(claimed {floor}); sampled min {worst:.4f}")


# ================================================================== exponents and minimax
def _horizon_terms(bound, horizon=None, exact=True):
    """Homogeneous terms (one layer, w = 1, exact LMO) on a horizon schedule."""
    hz = dict(bound.horizon if horizon is None else horizon)
    vals = {S.t: hz["t"], S.one_minus_beta: hz["one_minus_beta"], S.q: hz["q"]}
    return [(n, e.subs(S.delta, 0).subs(S.w, 1).subs(vals)) for n, e in bound.homogeneous_terms(p=1)]


def check_exponent(name, terms, claimed, K=S.K) -> Check:
    """The largest exponent among the positive ``terms`` equals ``claimed``."""
    exps = [(n, term_exponent(sp.sympify(e), K)) for n, e in terms]
    lead = max(e for _, e in exps)
    ok = sp.simplify(lead - sp.sympify(claimed)) == 0
    return Check(f"exponent:{name}", ok, f"leading exponent {lead} (claimed {claimed}); terms "
                 + ", ".join(f"{n}: {e}" for n, e in exps))


def check_horizon_exponent(method, claimed=None, horizon=None) -> Check:
    b = get_bound(method)
    claimed = b.claimed_exponent if claimed is None else claimed
    return check_exponent(method, _horizon_terms(b, horizon), claimed)


def check_coefficient_limit(method) -> Check:
    """On the horizon schedule, the descent coefficient c tends to a positive constant (1)."""
    b = get_bound(method)
    hz = b.horizon
    c = b.coefficient.subs(S.delta, 0).subs({S.t: hz["t"], S.one_minus_beta: hz["one_minus_beta"], S.q: hz["q"]})
    lim = sp.limit(c, S.K, sp.oo)
    ok = bool(lim.is_positive)
    return Check(f"K0:coefficient-limit:{method}", ok, f"lim c_i = {lim} as K -> oo")


def _exponent_forms(bound, region_points):
    """Affine exponent forms of every term of ``bound`` in (x, y): t = K^-x, (1-beta or q) = K^-y."""
    second = bound.exponent_params[1]
    forms = []
    for name, _ in bound.numerator:
        def term_of(pt, name=name):
            hz = dict(bound.horizon)
            hz["t"] = S.K ** (-pt[0])
            hz[second] = S.K ** (-pt[1])
            return dict(_horizon_terms(bound, hz))[name]
        forms.append((name, affine_exponent(term_of, ("x", "y"), region_points)))
    return forms


#: probe points for the affine fits (inside the region where every term is a monomial:
#: 0 < y < x < 1 keeps t/(1-beta) -> 0 for the drift methods)
PROBES = (("3/4", "1/2"), ("7/8", "1/2"), ("3/4", "5/8"), ("5/6", "1/3"))


def check_minimax(method, claimed_point=None, forms=None) -> Check:
    """The claimed exponents (x, y) minimise the rate exponent max_j e_j(x, y) (terms balance)."""
    from gluon_mvr.methods.schedules import horizon_exponents
    b = get_bound(method)
    claimed_point = horizon_exponents(method) if claimed_point is None else claimed_point
    claimed_point = tuple(sp.nsimplify(v) for v in claimed_point)
    forms = [f for _, f in _exponent_forms(b, PROBES)] if forms is None else forms
    box = [(0, 2), (0, 1)]
    if method in ("gluon",):
        box.append(("ge", (1, -1), 0))           # t must vanish faster than 1-beta (c_i > 0)
    best, argbest = minimax_exponent(forms, box)
    at_claim = max_affine(forms, claimed_point)
    ok = at_claim == best
    return Check(f"minimax:{method}", ok,
                 f"min over (x, y) of the rate exponent = {best} at {argbest}; the schedule "
                 f"{claimed_point} gives {at_claim}" + ("" if ok else " (NOT optimal)"))


# ================================================================== K0 conditions
def _monomial_after(ratio, K0, name) -> Check:
    """``ratio(K)`` = condition quantity / its limit; it must be a decreasing monomial equal to 1 at K0."""
    r = sp.powsimp(sp.simplify(ratio), force=True)
    coeff, alpha = r.as_coeff_exponent(S.K)
    ok = (not coeff.has(S.K)) and alpha < 0 and _is_zero(sp.simplify(r.subs(S.K, K0)) - 1)
    return Check(f"K0:{name}", ok, f"ratio {r} ~ K^{alpha}, equals 1 at K0 = {K0}; holds for K >= K0"
                 + ("" if ok else " (FAILS)"))


def k0_checks() -> list:
    r"""Conditions of the horizon schedules, uncapped, and the ``K0`` past which they hold [R].

    - gluon: :math:`1-\beta=c_\beta K^{-1/2}\le1` for :math:`K\ge c_\beta^2`;
      :math:`t_0K^{-3/4}\le1/L_1` for :math:`K\ge(t_0L_1)^{4/3}`;
      :math:`t_0K^{-3/4}\le h/(8L_1)\le h/(8\beta L_1)` for :math:`K\ge(8t_0L_1/c_\beta)^4`.
    - mvr1: :math:`t_0K^{-2/3}\le1/L_1` for :math:`K\ge(t_0L_1)^{3/2}`; :math:`1-\beta\le1` for
      :math:`K\ge c_\beta^{3/2}`.
    - mvr2/3: :math:`q\le1` for :math:`K\ge c_q^{3/2}`; :math:`t_0K^{-2/3}\le(1-\beta)/(8\beta L_1)`
      for :math:`K\ge(8\beta t_0L_1/(1-\beta))^{3/2}`.
    """
    h = S.one_minus_beta
    bb = sp.Symbol("beta_const", positive=True)   # beta of MVR-2/3, a positive constant
    g = get_bound("gluon").horizon
    m1 = get_bound("mvr1").horizon
    m2 = get_bound("mvr2").horizon
    return [
        _monomial_after(g["one_minus_beta"], S.c_beta ** 2, "gluon:1-beta<=1"),
        _monomial_after(g["t"] * S.L1, (S.t0 * S.L1) ** sp.Rational(4, 3), "gluon:t<=1/L1"),
        _monomial_after(g["t"] / (g["one_minus_beta"] / (8 * S.L1)), (8 * S.t0 * S.L1 / S.c_beta) ** 4,
                        "gluon:t<=(1-beta)/(8 beta L1)"),
        _monomial_after(m1["t"] * S.L1, (S.t0 * S.L1) ** sp.Rational(3, 2), "mvr1:t<=1/L1"),
        _monomial_after(m1["one_minus_beta"], S.c_beta ** sp.Rational(3, 2), "mvr1:1-beta<=1"),
        _monomial_after(m2["q"], S.c_q ** sp.Rational(3, 2), "mvr2/3:q<=1"),
        _monomial_after(m2["t"] / (h / (8 * bb * S.L1)), (8 * bb * S.t0 * S.L1 / h) ** sp.Rational(3, 2),
                        "mvr2/3:t<=(1-beta)/(8 beta L1)"),
    ]


# ================================================================== optimal parameters
def check_minimiser(name, expr, var, candidate, domain_point=None) -> Check:
    """``candidate`` is a stationary point of ``expr`` in ``var`` with positive second derivative."""
    d1 = sp.simplify(sp.diff(expr, var).subs(var, candidate))
    d2 = sp.simplify(sp.diff(expr, var, 2).subs(var, candidate))
    pos, how = _positive_how(d2)
    ok = d1 == 0 and pos
    return Check(f"optimum:{name}", ok, f"d/d{var} = {d1} at {var} = {candidate}; second derivative "
                 f"{d2} positive: {pos} ({how})", how)


def check_inexact_deterministic(t_star=None, rate=None) -> Check:
    B = inexact.deterministic_bound()
    t_star = inexact.deterministic_optimal_radius() if t_star is None else t_star
    rate = inexact.deterministic_optimal_rate() if rate is None else rate
    c = check_minimiser("inexact-deterministic-t*", B, S.t, t_star)
    rate_ok = _is_zero(sp.simplify(B.subs(S.t, t_star) - rate))
    return Check(c.name, c.passed and rate_ok, c.detail + f"; B(t*) = rate {rate}: {rate_ok}", c.method)


def check_adaptive_radius(name, decrease, radius, A) -> Check:
    """The adaptive radius maximises the one-layer decrease (stationary, concave)."""
    d1 = sp.simplify(sp.diff(decrease, S.t).subs(S.t, radius))
    d2 = sp.simplify(sp.diff(decrease, S.t, 2))
    concave, how = _positive_how(-d2)
    ok = d1 == 0 and concave
    return Check(f"optimum:{name}", ok, f"d/dt decrease = {d1} at t = {radius}; concave: {concave} ({how})", how)


def check_inexact_stochastic(t_star=None, h_star=None, t_exponents=(sp.Rational(-1, 4), sp.Rational(-3, 4)),
                             h_exponents=(sp.Rational(1, 2), sp.Rational(-1, 2))) -> Check:
    r"""(t*, h*) is stationary for the leading-order inexact bound, which is what the Gluon bound
    gives, and t* ~ (1+delta)^{-1/4} K^{-3/4}, 1-beta* ~ (1+delta)^{1/2} K^{-1/2}."""
    B = inexact.stochastic_leading_bound()
    from_gluon = inexact.stochastic_leading_bound_full()
    same = _is_zero(sp.simplify(B - from_gluon))
    ts, hs = inexact.stochastic_optimal_parameters()
    ts = ts if t_star is None else t_star
    hs = hs if h_star is None else h_star
    sub = {S.t: ts, S.one_minus_beta: hs}
    g1 = sp.simplify(sp.diff(B, S.t).subs(sub))
    g2 = sp.simplify(sp.diff(B, S.one_minus_beta).subs(sub))
    u = sp.Symbol("u", positive=True)     # u = 1 + delta

    def exps(e):
        e = e.subs(S.delta, u - 1)
        return (sp.simplify(u * sp.diff(sp.log(e), u)), sp.simplify(S.K * sp.diff(sp.log(e), S.K)))
    et, eh = exps(ts), exps(hs)
    ok = same and g1 == 0 and g2 == 0 and et == tuple(t_exponents) and eh == tuple(h_exponents)
    return Check("optimum:inexact-stochastic", ok,
                 f"leading bound from Gluon's: {same}; gradient at (t*, h*) = ({g1}, {g2}); "
                 f"t* ~ (1+delta)^{et[0]} K^{et[1]}, 1-beta* ~ (1+delta)^{eh[0]} K^{eh[1]}")


def check_deterministic_complexity(claimed=None) -> Check:
    """Solving the derived deterministic bound for K reproduces GLUON Thm 1's complexity [C]."""
    K_needed, (wbar, Rsum) = DETERMINISTIC.complexity()
    if claimed is None:
        claimed = 2 * S.Delta0 * Rsum / (S.eps ** 2 * wbar ** 2) + 2 * S.Delta0 / (S.eps * wbar)
    ok = _is_zero(K_needed - claimed)
    return Check("step:deterministic-complexity", ok, f"K = {sp.simplify(K_needed)}; GLUON Thm 1: {claimed}")


def check_deterministic_exponent() -> Check:
    b = DETERMINISTIC
    e = b.expr.subs({b.R.symbol: S.L0, b.Lam.symbol: S.L1})
    return check_exponent("gluon-deterministic", [("bound", e)], b.claimed_exponent)


def check_descent_convexity() -> Check:
    r""":math:`\psi(V)=V^2/(R+\Lambda V)` is convex (Jensen step of the deterministic bound)."""
    V, R, Lam = sp.symbols("V R Lambda", positive=True)
    d2 = sp.factor(sp.diff(V ** 2 / (R + Lam * V), V, 2))
    ok = _is_zero(d2 - 2 * R ** 2 / (R + Lam * V) ** 3)
    return Check("step:deterministic-jensen", ok, f"psi'' = {d2} >= 0")


# ================================================================== star-convex
def check_star_exponent(method, claimed=None, momentum=None, overrides=None) -> Check:
    b = get_star_bound(method)
    claimed = b.claimed_exponent if claimed is None else claimed
    return check_exponent(method, b.terms_on_schedule(p=1, momentum=momentum, overrides=overrides), claimed)


def check_star_minimax(method, claimed_y=None) -> Check:
    r"""Over :math:`1-\beta=K^{-y}` (``star-mvr``, ``star-momentum``) or :math:`q=K^{-y}`
    (``star-mvr2``, ``star-mvr3``, :math:`\beta` constant), with :math:`a=2\ln K/K`, the
    schedule's ``y`` minimises the rate exponent."""
    b = get_star_bound(method)
    claimed_y = b.tuned_exponent if claimed_y is None else sp.nsimplify(claimed_y)
    forms = []
    for name, _ in b.numerator:
        def term_of(pt, name=name):
            return dict(b.terms_on_schedule(p=1, overrides={b.tuned: S.K ** (-pt[0])}))[name]
        forms.append(affine_exponent(term_of, ("y",), (("1/3",), ("1/2",), ("3/4",))))
    best, argbest = minimax_exponent(forms, [(0, 1)])
    at = max_affine(forms, (claimed_y,))
    ok = at == best
    return Check(f"minimax:{method}", ok, f"min over y ({b.tuned} = K^-y) of the rate exponent = {best} at "
                 f"{argbest}; y = {claimed_y} gives {at}")


def check_star_log_power(method, power=None) -> Check:
    r"""The bound on its schedule is :math:`\Theta(K^{e}(\ln K)^{p})`: every term divided by
    :math:`K^e(\ln K)^p` has a finite limit and at least one a positive one (``e`` the claimed
    exponent, ``p`` the claimed log power; a constant ``1-beta`` set to 1/2)."""
    b = get_star_bound(method)
    power = b.log_power if power is None else sp.nsimplify(power)
    x = sp.Symbol("x_logK", positive=True)
    scale = S.K ** b.claimed_exponent * sp.log(S.K) ** power
    lims = []
    for name, e in b.terms_on_schedule(p=1):
        e = e.subs(S.one_minus_beta, sp.Rational(1, 2))
        r = sp.simplify((e / scale).subs(S.K, sp.exp(x)))
        lims.append((name, sp.limit(r, x, sp.oo)))
    finite = all(v.is_finite for _, v in lims)
    positive = any(v.is_positive for _, v in lims)
    ok = finite and positive
    return Check(f"rate:{method}", ok, f"bound / (K^{b.claimed_exponent} (ln K)^{power}) -> "
                 + ", ".join(f"{n}: {v}" for n, v in lims) + ("" if ok else " (NOT this rate)"))


def check_exp_bound() -> Check:
    r""":math:`(1-a)^n\le e^{-an}`: :math:`\phi(a)=-a-\ln(1-a)` has :math:`\phi(0)=0`, :math:`\phi'\ge0`."""
    phi = -S.a - sp.log(1 - S.a)
    d = sp.simplify(sp.diff(phi, S.a))
    ok = phi.subs(S.a, 0) == 0 and _is_zero(d - S.a / (1 - S.a))
    return Check("step:star-exp-bound", ok, f"phi(0) = 0, phi'(a) = {d} >= 0 on [0, 1)")


#: one-step recursions claimed in :mod:`theory.bounds_star` (M1) for MVR-2/3 [R]:
#: ``(inner e^k, outer E^k)``; ``E_prev``/``e_prev`` are :math:`E^{k-1}`, :math:`e^{k-1}`.
STAR_CLAIMED_RECURSIONS = {
    "mvr2": ((1 - S.q) * e_prev + S.q * N + (1 - S.q) * Dk,
             beta * E_prev + beta * (G0 - G1) + (1 - beta) * sp.Symbol("e_k")),
    "mvr3": ((1 - S.q) * e_prev + S.q * N + (1 - S.q) * Dk,
             beta * E_prev + (1 - beta) * sp.Symbol("e_k") + beta * Dk),
}


def check_star_recursion(method, claimed=None) -> Check:
    """``g^k - gradf(X^k)`` and ``M^k - gradf(X^k)`` from the update rules equal the claimed
    (inner, outer) recursions of the star-convex MVR-2/3 derivation (M1)."""
    inner, outer = STAR_CLAIMED_RECURSIONS[method] if claimed is None else claimed
    u = _updates()
    e_k = u["mvr2-inner"] - G1
    E_k = u[method] - G1
    ok_in = _is_zero(e_k - inner)
    ok_out = _is_zero(E_k - outer.subs(sp.Symbol("e_k"), e_k))
    ok = ok_in and ok_out
    return Check(f"recursion:star-{method}", ok,
                 f"e^k = {sp.simplify(e_k)} (claimed {inner}: {ok_in}); E^k = {outer} with e_k = e^k: {ok_out}")


def star_unrolled(method, k, N_, D_, S_, hq=None):
    r"""The closed form M2 of :mod:`theory.bounds_star` for :math:`E^k` (lists indexed by ``j``;
    ``S_[j]`` is :math:`S_j=\nabla f(X^{j-1})-\nabla f(X^j)`, ``D_[j]`` :math:`D_j`)."""
    q = S.q
    hh = 1 - beta
    z = 1 - q
    u_k = beta ** k + hh * sum(beta ** (k - j) * z ** j for j in range(1, k + 1))
    mart = hh * sum(beta ** (k - j) * (q * sum(z ** (j - l) * N_[l] for l in range(1, j + 1))
                                       + z * sum(z ** (j - l) * D_[l] for l in range(1, j + 1)))
                    for j in range(1, k + 1))
    last = S_ if method == "mvr2" else D_
    tail = sum(beta ** (k - j + 1) * last[j] for j in range(1, k + 1))
    return u_k * N_[0] + mart + tail


def check_star_unroll(method, kmax=4, closed=None) -> Check:
    r"""M2: iterating the **update rules** (not the claimed recursions) for ``k <= kmax`` with
    free symbols :math:`\nabla f(X^j)=G_j`, :math:`\nabla f_{\xi_j}(X^j)=G_j+N_j`,
    :math:`\nabla f_{\xi_j}(X^{j-1})=G_{j-1}+N_j-D_j` gives the closed form exactly."""
    closed = star_unrolled if closed is None else closed
    G = sp.symbols(f"G0:{kmax + 1}")
    N_ = sp.symbols(f"N0:{kmax + 1}")
    D_ = (0,) + sp.symbols(f"D1:{kmax + 1}")
    S_ = (0,) + tuple(G[j - 1] - G[j] for j in range(1, kmax + 1))
    q = S.q
    M = g = G[0] + N_[0]
    bad = []
    for k in range(1, kmax + 1):
        gk, gkm1 = G[k] + N_[k], G[k - 1] + N_[k] - D_[k]
        g_new = gk + (1 - q) * (g - gkm1)
        M = beta * M + (1 - beta) * g_new + (beta * (gk - gkm1) if method == "mvr3" else 0)
        g = g_new
        if not _is_zero(M - G[k] - closed(method, k, N_, D_, S_)):
            bad.append(k)
    ok = not bad
    return Check(f"step:star-unroll:{method}", ok,
                 f"E^k from the update rules = u_k N_0 + martingale + "
                 f"{'drift sum beta^(k-j+1) S_j' if method == 'mvr2' else 'sum beta^(k-j+1) D_j'} "
                 f"for k = 1..{kmax}" + ("" if ok else f" (MISMATCH at k = {bad})"))


def check_star_initial_split(mu=None, samples=2000) -> Check:
    r"""M3: :math:`u_k=\beta^k+h\sum_{j=1}^k\beta^{k-j}(1-q)^j\le2e^{-\mu k}`, :math:`\mu=qh/(q+h)`.

    Symbolically: the weights sum to 1 (for symbolic ``k``), and at :math:`\theta=q/(q+h)` the
    two exponents :math:`q(1-\theta)` and :math:`h\theta` both equal ``mu``.  Numerically (a
    counterexample fails): exact :math:`u_k` by its recursion :math:`u_k=\beta u_{k-1}+h(1-q)^k`
    on random :math:`(h, q, k)` including extreme ratios.
    """
    from gluon_mvr.theory.bounds_star import MU
    mu = MU if mu is None else mu
    hh = S.one_minus_beta
    k, j = sp.symbols("k_sum j_sum", positive=True, integer=True)
    weights = (1 - hh) ** k + hh * sp.summation((1 - hh) ** (k - j), (j, 1, k))
    w_ok = _is_zero(sp.simplify(weights - 1))
    theta = S.q / (S.q + hh)
    split_ok = _is_zero(S.q * (1 - theta) - MU) and _is_zero(hh * theta - MU)
    f_mu = sp.lambdify((S.q, hh), mu, "numpy")
    rng = numpy.random.default_rng(3)
    hv = 10 ** rng.uniform(-4, 0, samples)
    qv = 10 ** rng.uniform(-4, 0, samples)
    m_v = numpy.broadcast_to(numpy.asarray(f_mu(qv, hv), dtype=float), hv.shape)
    u, zk = numpy.ones(samples), numpy.ones(samples)
    worst, bad = -math.inf, None           # max over samples and k of log(u_k / (2 e^{-mu k}))
    with numpy.errstate(divide="ignore", under="ignore"):
        for kk in range(1, 20001):
            zk = zk * (1 - qv)
            u = (1 - hv) * u + hv * zk
            # compared while 2 e^{-mu k} > 1e-260 (no underflow of u_k <= it there)
            excess = numpy.where(m_v * kk < 600, numpy.log(u) - (math.log(2) - m_v * kk), -math.inf)
            i = int(numpy.argmax(excess))
            worst = max(worst, float(excess[i]))
            if bad is None and excess[i] > 1e-12:
                bad = (float(hv[i]), float(qv[i]), kk, float(u[i]))
    worst = math.exp(min(worst, 700.0))
    ok = w_ok and split_ok and bad is None
    return Check("step:star-initial-split", ok,
                 f"weights beta^k + h sum beta^(k-j) = 1: {w_ok}; exponents equal mu at theta = q/(q+h): "
                 f"{split_ok}; sampled max u_k / (2 exp(-mu k)) = {worst:.4g}"
                 + ("" if bad is None else f" (VIOLATED at h, q, k, u = {bad})"), "numeric")


def check_star_schedule(method) -> Check:
    """``methods.schedules.star_horizon_schedule`` (default scales) equals :func:`star_schedule`."""
    from gluon_mvr.methods.schedules import star_horizon_schedule
    from gluon_mvr.theory.bounds_star import STAR_ESTIMATOR, star_schedule
    bad = []
    for K in (2, 10, 137, 1000, 10 ** 5):
        sym = star_schedule(method, K)
        s = star_horizon_schedule(STAR_ESTIMATOR[method], K, (2.0, 3.0))
        num = {"a": s.radius[0] / s.ball[0], "one_minus_beta": s.one_minus_beta, "q": s.q}
        for key, v in sym.items():
            if abs(num[key] - v) > 1e-12 * max(1.0, abs(v)):
                bad.append(f"K={K} {key}: {num[key]} vs {v}")
    ok = not bad
    return Check(f"schedules:{method}", ok, "a, 1-beta, q of star_horizon_schedule agree with the symbolic "
                 "schedule" + ("" if ok else ": " + "; ".join(bad[:5])), "numeric")


# ================================================================== schedules.py agreement
def check_schedule_exponents(method) -> Check:
    """``horizon_exponents`` equals the exponents of the symbolic horizon choices."""
    from gluon_mvr.methods.schedules import horizon_exponents
    b = get_bound(method)
    a_num, b_num = horizon_exponents(method)
    second = b.exponent_params[1]
    ea = -term_exponent(b.horizon["t"], S.K)
    eb = -term_exponent(b.horizon[second], S.K)
    ok = sp.nsimplify(a_num) == ea and sp.nsimplify(b_num) == eb
    return Check(f"schedules:exponents:{method}", ok,
                 f"methods.schedules: t ~ K^-{a_num}, {second} ~ K^-{b_num}; theory: K^-{ea}, K^-{eb}")


def check_schedule_numbers(method, Ks=(8, 100, 4096, 10 ** 6), L1s=(0.0, 0.5, 3.0), t0=0.7, c=1.3,
                           beta0=0.9) -> Check:
    """``horizon_schedule`` and ``radius_cap`` equal the symbolic formulas at sample points, and
    there the bound's descent coefficient is at least 1/4 (1/2 for MVR-1), once
    :math:`\\beta\\ge1/2` for the drift methods (``K0``, see :func:`k0_checks`)."""
    from gluon_mvr.methods.schedules import horizon_schedule, radius_cap
    b = get_bound(method)
    h = S.one_minus_beta
    floor = 0.5 if method == "mvr1" else 0.25
    worst, bad = math.inf, []
    for K in Ks:
        s = horizon_schedule(method, K, L1s, radius_scale=t0, momentum_scale=c, beta=beta0)
        vals = {S.K: K, S.t0: t0, S.c_beta: c, S.c_q: c, h: 1 - beta0}
        h_sym = min(1.0, float(b.horizon["one_minus_beta"].subs(vals)))
        q_sym = min(1.0, float(b.horizon["q"].subs(vals)))
        for label, x, y in (("1-beta", s.one_minus_beta, h_sym), ("q", s.q, q_sym)):
            if abs(x - y) > 1e-12:
                bad.append(f"K={K} {label}: {x} vs {y}")
        for i, L1 in enumerate(L1s):
            if L1 == 0 or (method != "mvr1" and h_sym >= 1):
                cap_sym = math.inf       # schedules.py: no cap without L1 or without momentum
            else:
                cap_sym = float(symbolic_cap(method).subs({h: h_sym, S.L1: L1}))
            t_sym = min(float(b.horizon["t"].subs(vals)), cap_sym)
            for label, x, y in (("radius", s.radius[i], t_sym), ("cap", radius_cap(method, L1, h_sym), cap_sym)):
                if not (x == y or abs(x - y) <= 1e-12 * max(1.0, abs(y))):
                    bad.append(f"K={K} L1={L1} {label}: {x} vs {y}")
            cval = float(b.coefficient.subs({S.delta: 0, S.t: s.radius[i], S.L1: L1, h: h_sym}))
            if method == "mvr1" or h_sym <= 0.5:
                worst = min(worst, cval)
                if cval < floor:
                    bad.append(f"K={K} L1={L1}: c_i = {cval} < {floor}")
    ok = not bad
    return Check(f"schedules:numbers:{method}", ok,
                 f"radius, cap, 1-beta, q agree at K in {list(Ks)}, L1 in {list(L1s)}; "
                 f"min c_i = {worst:.4f} (>= {floor})" + ("" if ok else "; mismatches: " + "; ".join(bad[:5])))


# ================================================================== check CLI self-test
def check_theory_check_example() -> Check:
    """``theory check`` on mvr1 with radius K^-3/4, 1-beta = K^-1/2 reports K^-1/4, not attained."""
    from gluon_mvr.theory.check import check_schedule
    r = check_schedule("mvr1", "K**(-3/4)", "K**(-1/2)", None)
    good = check_schedule("mvr1", "K**(-2/3)", "K**(-2/3)", None)
    ok = r.exponent == sp.Rational(-1, 4) and not r.attained and good.attained
    return Check("check:mvr1-wrong-schedule", ok,
                 f"K^-3/4, K^-1/2 -> exponent {r.exponent} (attained {r.attained}); "
                 f"horizon schedule -> {good.exponent} (attained {good.attained})")


# ================================================================== validity
def _from_verdict(name, verdict) -> Check:
    return Check(name, verdict.passed, verdict.detail, verdict.method)


def validity_tasks() -> list:
    """``(name, thunk)`` for the validity checks of :mod:`theory.validity`: weights, one-step
    inequalities, and per bound the assembly (symbolic) and the chain (numeric)."""
    from gluon_mvr.theory import validity as VD

    def weights():
        return [_from_verdict(f"weights:{n}", v) for n, v in VD.weight_checks().items()]
    out = [("weights", weights),
           ("step:descent-l1", lambda: _from_verdict("step:descent-l1", VD.check_descent_step())),
           ("step:cauchy-schwarz-layers", lambda: _from_verdict("step:cauchy-schwarz-layers", VD.check_cauchy_schwarz())),
           ("step:martingale-l2", lambda: _from_verdict("step:martingale-l2", VD.check_martingale()))]
    for m in ("gluon", "mvr1"):
        out.append((f"step:unroll:{m}", lambda m=m: _from_verdict(f"step:unroll:{m}", VD.check_unroll(m))))
    for m in HORIZON_BOUND_METHODS:
        out.append((f"step:summation:{m}", lambda m=m: _from_verdict(f"step:summation:{m}", VD.check_summation_coefficient(m))))
        out.append((f"assembly:{m}", lambda m=m: _from_verdict(f"assembly:{m}", VD.check_assembly(m))))
        out.append((f"chain:{m}", lambda m=m: _from_verdict(f"chain:{m}", VD.check_chain(m))))
    for m in STAR_METHODS:
        out.append((f"assembly:{m}", lambda m=m: _from_verdict(f"assembly:{m}", VD.check_star_assembly(m))))
        out.append((f"chain:{m}", lambda m=m: _from_verdict(f"chain:{m}", VD.check_star_chain(m))))
    return out


#: which checks establish each bound's validity (beyond its exponents), for the per-bound report
SHARED_VALIDITY = ("weights:", "step:descent-l1", "step:cauchy-schwarz-layers", "step:martingale-factors",
                   "step:martingale-l2",
                   "step:descent-inner-product")


def validity_report(checks) -> dict:
    """``{bound: [{"name", "passed", "method"}, ...]}``: per bound, the checks of its validity
    (its recursion, unrolling, summation, assembly and chain, and the shared weights and steps)."""
    out = {}
    for m in (*HORIZON_BOUND_METHODS, *STAR_METHODS):
        base = m[5:] if m.startswith("star-") else m
        own = {f"recursion:{base}", f"step:unroll:{base}", f"step:summation:{m}", f"assembly:{m}", f"chain:{m}",
               f"recursion:star-{base}", f"step:star-unroll:{base}"}
        if m.startswith("star-"):
            own |= {"step:star-exp-bound"} | ({"step:star-initial-split"} if base in ("mvr2", "mvr3") else set())
        rows = [{"name": c.name, "passed": c.passed, "method": c.method} for c in checks
                if c.name in own or c.name.startswith(SHARED_VALIDITY)]
        out[m] = rows
    return out


# ================================================================== all
#: checks whose verdict rests on sample points (their functions stay as they are)
_NUMERIC_PREFIXES = ("schedules:numbers:",)


def tasks() -> list:
    """Every check as ``(name, thunk)``, in a stable order; a thunk returns a Check or a list."""
    out = []
    add = lambda name, fn, *a: out.append((name, lambda: _guard(name, fn, *a)))
    for m in ("gluon", "mvr1", "mvr2-inner", "mvr2", "mvr3"):
        add(f"recursion:{m}", check_recursion, m)
    add("recursion:mvr3-alt", check_mvr3_alternative)
    a_prev, a_claim = inexact.alignment_consequence()
    add("step:inexact-alignment", check_step_identity, "inexact-alignment", a_prev, a_claim,
        "<M, lmo~(M)> <= -(1-delta)||M||_*")
    d_prev, d_claim = inexact.descent_consequence()
    add("step:descent-inner-product", check_step_identity, "descent-inner-product", d_prev, d_claim,
        "<grad f, lmo~(M)> <= -(1-delta)||grad f||_* + 2||E||_*")
    add("step:martingale-factors", check_noise_factors)
    add("step:descent-coefficient:mvr1", check_descent_coefficient, "mvr1", sp.Rational(1, 2))
    for m in ("gluon", "mvr2"):
        add(f"step:descent-coefficient:{m}", check_descent_coefficient, m, sp.Rational(1, 4))
    add("step:deterministic-jensen", check_descent_convexity)
    add("step:deterministic-complexity", check_deterministic_complexity)
    add("step:star-exp-bound", check_exp_bound)
    for m in HORIZON_BOUND_METHODS:
        add(f"exponent:{m}", check_horizon_exponent, m)
        add(f"minimax:{m}", check_minimax, m)
        add(f"K0:coefficient-limit:{m}", check_coefficient_limit, m)
        add(f"schedules:exponents:{m}", check_schedule_exponents, m)
        add(f"schedules:numbers:{m}", check_schedule_numbers, m)
    add("exponent:gluon-deterministic", check_deterministic_exponent)
    dec, A = DETERMINISTIC.decrease()
    add("optimum:adaptive-radius", check_adaptive_radius, "adaptive-radius", dec.subs(S.delta, 0),
        A / (S.L0 + S.L1 * A), A)
    add("optimum:inexact-adaptive-radius", check_adaptive_radius, "inexact-adaptive-radius",
        inexact.layer_decrease(S.t), inexact.adaptive_radius(), inexact.A_GRAD)
    add("optimum:inexact-deterministic-t*", check_inexact_deterministic)
    add("optimum:inexact-stochastic", check_inexact_stochastic)

    def k0():
        try:
            return k0_checks()
        except Exception as exc:  # reported, never raised
            return [Check("K0", False, f"error: {type(exc).__name__}: {exc}")]
    out.append(("K0", k0))
    for m in ("mvr2", "mvr3"):
        add(f"recursion:star-{m}", check_star_recursion, m)
        add(f"step:star-unroll:{m}", check_star_unroll, m)
    add("step:star-initial-split", check_star_initial_split)
    for m in STAR_METHODS:
        add(f"exponent:{m}", check_star_exponent, m)
        add(f"minimax:{m}", check_star_minimax, m)
        add(f"rate:{m}", check_star_log_power, m)
        add(f"schedules:{m}", check_star_schedule, m)
    add("check:mvr1-wrong-schedule", check_theory_check_example)
    for name, thunk in validity_tasks():
        out.append((name, lambda name=name, thunk=thunk: _guard_many(name, thunk)))
    return out


def _guard_many(name, thunk):
    try:
        return thunk()
    except Exception as exc:  # a check that crashes is a failed check, reported
        return Check(name, False, f"error: {type(exc).__name__}: {exc}")


def run_all(progress=None, only=None) -> list:
    """Every check, in a stable order (see the module docstring).

    ``progress(name)`` is called after each task (the CLI's progress bar); ``only``, a sequence
    of name prefixes, restricts the run to the tasks whose name starts with one of them.
    """
    out = []
    for name, thunk in tasks():
        if only and not name.startswith(tuple(only)):
            continue
        res = thunk()
        for c in (res if isinstance(res, list) else [res]):
            if c.name.startswith(_NUMERIC_PREFIXES):
                c = Check(c.name, c.passed, c.detail, "numeric")
            out.append(c)
        if progress is not None:
            progress(name)
    return out
