r"""Validity of the bounds: each is re-derived from its building blocks and must dominate them.

The exponent and minimax checks of :mod:`theory.verify` would pass a bound whose constants are
wrong (e.g. MVR-1 with its noise terms shrunk 100x).  The checks here test that every declared
bound is *valid*, i.e. at least what its derivation gives, in three layers:

1. **weights** (``weights:*``, symbolic): each closed-form factor of a bound dominates the finite
   geometric sum it replaces, for every horizon: the sums are written in closed form, the closed
   form is proved by induction (value at 0, one-step difference), and the factor minus the sum
   is proved nonnegative (:func:`prove_nonnegative`);
2. **steps** (``step:*``): the one-step inequalities of the derivations — the descent step (L1)
   from the A1 consequence and the inexact-LMO premises (symbolic), the unrolling of Gluon's and
   MVR-1's error recursions from their update rules (exact, symbolic), the martingale identity
   (L2) with Jensen and the norm equivalence (exact expectations over all sign paths of seeded
   martingale instances, numeric), Cauchy–Schwarz over layers (numeric), and the summation (L4)
   that moves the drift to the left (:math:`c_i`, symbolic);
3. **assembly** (``assembly:*``, symbolic) and **chain** (``chain:*``, numeric): the declared
   numerator dominates, term by term, the numerator assembled from the proven weights; and on
   random admissible instances (seeded: layers, constants, horizon, parameters with the bound's
   conditions met) the declared bound dominates the bound obtained from the building blocks with
   every finite sum computed exactly (no geometric-series relaxation).  A bound with a term too
   small fails both.

Premises taken as given (the lemmas, not re-proved here): A1's consequence
:math:`f(Y)\le f(X)+\langle\nabla f(X),Y-X\rangle+\sum_i\frac{L_{0,i}+L_{1,i}\|\nabla_if\|_*}{2}\|Y_i-X_i\|^2`,
the inexact-LMO model (:math:`\langle M,\widetilde{\rm lmo}(M)\rangle\le-(1-\delta)\|M\|_*`,
:math:`\|\widetilde{\rm lmo}(M)\|\le1+\delta`), the triangle inequality, A2, A3, and the error
recursions (checked exactly in :mod:`theory.verify`, ``recursion:*``); the martingale identity
:math:`E\|\sum_jc_jN_j\|_F^2=\sum_jc_j^2E\|N_j\|_F^2` is a lemma too, exercised numerically.

Each function returns a :class:`Verdict` whose ``method`` is ``"symbolic"`` (a sympy proof)
or ``"numeric"`` (seeded random instances; a counterexample fails).  All derivations are the
toolkit's [R].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy
import sympy as sp

from gluon_mvr.theory import symbols as S
from gluon_mvr.theory.bounds_nonconvex import (C_DRIFT, C_NO_DRIFT, CORR_H, CORR_Q, NOISE_H, NOISE_Q,
                                               get_bound)
from gluon_mvr.theory.bounds_star import get_star_bound

h, q, delta = S.one_minus_beta, S.q, S.delta
_k = sp.Symbol("k_steps", positive=True, integer=True)     # a horizon / step index, >= 1
_s = sp.Symbol("s_slack", nonnegative=True)


@dataclass(frozen=True)
class Verdict:
    """``passed``, ``method`` (``"symbolic"`` or ``"numeric"``) and a human ``detail``."""

    passed: bool
    method: str
    detail: str

    def __post_init__(self):
        object.__setattr__(self, "passed", bool(self.passed))   # numpy / sympy booleans -> bool


# ============================================================================ proving
def _unit_interval(expr):
    r"""Substitute :math:`h=1/(1+s_h)`, :math:`q=1/(1+s_q)` (both in (0, 1]) and
    :math:`\delta=s_\delta/(1+s_\delta)` (in [0, 1)), with nonnegative :math:`s`."""
    sh, sq, sd = sp.symbols("s_h s_q s_d", nonnegative=True)
    return expr.subs({h: 1 / (1 + sh), q: 1 / (1 + sq), delta: sd / (1 + sd)}, simultaneous=True)


def prove_nonnegative(expr, samples=400, seed=0, extra=None):
    """``(ok, method)``: is ``expr >= 0`` for all admissible symbols?

    Symbolic first: after :func:`_unit_interval` the expression (simplified, then factored) is
    nonnegative by sympy's assumptions (every symbol positive / nonnegative).  Otherwise numeric:
    ``samples`` seeded log-uniform instances (``h``, ``q`` in (0, 1], ``delta`` in [0, 1), ``k``
    a positive integer, other symbols in [1e-3, 1e3]); any negative value (beyond 1e-12
    relative) fails.  ``extra`` maps symbols to sampler functions ``rng -> value``.
    """
    e = _unit_interval(sp.sympify(expr))
    for form in (e, sp.simplify(e), sp.factor(sp.simplify(e))):
        if form.is_nonnegative:
            return True, "symbolic"
        if form.is_negative:
            return False, "symbolic"
    rng = numpy.random.default_rng(seed)
    syms = sorted(expr.free_symbols, key=lambda x: x.name)
    f = sp.lambdify(syms, expr, "math")
    scale_f = sp.lambdify(syms, sum(sp.Abs(a) for a in sp.Add.make_args(sp.expand(expr))), "math")

    def draw(sym):
        if extra and sym in extra:
            return extra[sym](rng)
        if sym in (h, q):
            return 10 ** rng.uniform(-4, 0)
        if sym == delta:
            return 0.0 if rng.random() < 0.3 else rng.uniform(0, 0.9)
        if sym.is_integer:
            return int(10 ** rng.uniform(0, 4))
        return 10 ** rng.uniform(-3, 3)
    for _ in range(samples):
        vals = [draw(x) for x in syms]
        try:
            v, scale = f(*vals), scale_f(*vals)
        except (ZeroDivisionError, OverflowError, ValueError):
            continue
        if not v >= -1e-12 * max(1.0, scale):
            return False, "numeric"
    return True, "numeric"


def _sum_closed_form(ratio, closed, start=0):
    r"""Induction: ``closed(k)`` equals :math:`\sum_{n=start}^{k-1+start}` ``ratio``:math:`^n`, i.e.
    ``closed(0) = 0`` and ``closed(k) - closed(k-1) = ratio**(k-1+start)`` (the difference is
    divided by its last term so that the powers of ``k`` combine)."""
    last = ratio ** (_k - 1 + start)
    step = sp.powsimp(sp.expand((closed - closed.subs(_k, _k - 1) - last) / last), force=True, combine="exp")
    return sp.simplify(closed.subs(_k, 0)) == 0 and sp.simplify(step) == 0


# ============================================================================ 1. weights
def weight_checks(noise_h=NOISE_H, corr_h=CORR_H, noise_q=NOISE_Q, corr_q=CORR_Q, families=("h", "q")):
    r"""The closed-form factors dominate their finite sums for every ``k`` (symbolic).

    With :math:`\beta=1-h`, :math:`V_k=\sum_{j=1}^k\beta^{2(k-j)}=(1-\beta^{2k})/(1-\beta^2)`:

    - ``initial``: :math:`\sum_{n=0}^{k-1}\beta^n=(1-\beta^k)/h\le1/h`;
    - ``noise``: :math:`h^2V_k\le` ``noise_h``:math:`^2` (:math:`=h/(2-h)`);
    - ``correction``: :math:`\beta^2V_k\le` ``corr_h``:math:`^2`;
    - ``drift``: :math:`\sum_{n=1}^{k}\beta^n\le(1-h)/h`;
    - ``outer``: :math:`h\sum_{n=0}^{k-1}\beta^n\le1` (MVR-2/3's outer weights);
    - and the same with :math:`1-\beta\to q` (``noise-q``, ``correction-q``, ``initial-q``:
      :math:`\sum_{n=1}^k(1-q)^n\le(1-q)/q`).

    Returns ``{name: Verdict}`` (``families`` selects the :math:`h` and/or :math:`q` factors).
    """
    out = {}
    fams = {"h": ("", h, noise_h, corr_h), "q": ("-q", q, noise_q, corr_q)}
    for label, x, noise, corr in (fams[f] for f in families):
        b = 1 - x
        geo = (1 - b ** _k) / x                       # sum_{n=0}^{k-1} b^n
        V = (1 - b ** (2 * _k)) / (1 - b ** 2)        # sum_{j=1}^{k} b^{2(k-j)} = sum_{n=0}^{k-1} b^{2n}
        drift = b * (1 - b ** _k) / x                 # sum_{n=1}^{k} b^n
        cases = {
            f"initial{label}": (geo, sp.Integer(1) / x if not label else None, _sum_closed_form(b, geo, 0)),
            f"noise{label}": (x ** 2 * V, noise ** 2, _sum_closed_form(b ** 2, V, 0)),
            f"correction{label}": (b ** 2 * V, corr ** 2, _sum_closed_form(b ** 2, V, 0)),
        }
        if label:
            cases["initial-q"] = (drift, (1 - x) / x, _sum_closed_form(b, drift, 1))
        else:
            cases["drift"] = (drift, (1 - x) / x, _sum_closed_form(b, drift, 1))
            cases["outer"] = (x * geo, sp.Integer(1), _sum_closed_form(b, geo, 0))
        for name, (total, factor, induction) in cases.items():
            if factor is None:
                continue
            ok, how = prove_nonnegative(factor - total)
            out[name] = Verdict(bool(ok and induction), how if induction else "symbolic",
                                f"{factor} - ({sp.simplify(total)}) >= 0 for all k >= 1: {ok} ({how}); "
                                f"closed form by induction: {induction}")
    return out


# ============================================================================ 2. steps
def check_descent_step(c0=None) -> Verdict:
    r"""(L1) from its premises, symbolically (slack variables for the inequalities).

    Premises, per layer, with :math:`a=\|\nabla_if\|_*`, :math:`e=\|E_i\|_*`, :math:`m=\|M_i\|_*`:
    :math:`\langle\nabla_if,\widetilde{\rm lmo}\rangle=\langle M,\widetilde{\rm lmo}\rangle-\langle E,\widetilde{\rm lmo}\rangle
    \le-(1-\delta)m+(1+\delta)e`, :math:`m=a-e+s_1` (triangle, slack :math:`s_1\ge0`), step
    :math:`\|Y-X\|\le(1+\delta)t`, A1's consequence.  Claim:
    :math:`f(Y)-f(X)\le-c_0ta+2te+L_0(1+\delta)^2t^2/2` with :math:`c_0` = ``C_NO_DRIFT``.
    """
    c0 = C_NO_DRIFT if c0 is None else c0
    a_, e_, s1 = sp.symbols("a_grad e_err s_1", nonnegative=True)
    t = S.t
    m = a_ - e_ + s1                                   # ||M||_* >= ||grad f||_* - ||E||_*
    inner = -(1 - delta) * m + (1 + delta) * e_        # <grad f, lmo~> <= this
    # A1's consequence with Y - X = t lmo~, ||Y - X|| <= (1 + delta) t
    derived = t * inner + (S.L0 + S.L1 * a_) * ((1 + delta) * t) ** 2 / 2
    claimed = -c0 * t * a_ + 2 * t * e_ + S.L0 * (1 + delta) ** 2 * t ** 2 / 2
    gap = sp.expand(claimed - derived)
    ok, how = prove_nonnegative(gap)
    return Verdict(ok, how, f"claimed - derived = {sp.factor(gap)} >= 0: {ok} ({how})")


def check_summation_coefficient(method, coefficient=None) -> Verdict:
    r"""(L4): moving the drift :math:`\sum_k\sum_{j\le k}\beta^{k-j+1}L_1(1+\delta)t^2a_{j-1}\le
    \frac{\beta}{h}L_1(1+\delta)t^2\sum_ka_k` (``weights:drift``) to the left of the summed
    descent step gives :math:`c_i=c_0-2\frac{1-h}{h}L_1(1+\delta)t` (Gluon, MVR-2) or
    :math:`c_0` (MVR-1/3); the declared coefficient must not exceed it (symbolic)."""
    b = get_bound(method)
    declared = b.coefficient if coefficient is None else coefficient
    drift = method in ("gluon", "mvr2")
    derived = C_NO_DRIFT - (2 * (1 - h) / h * S.L1 * (1 + delta) * S.t if drift else 0)
    ok, how = prove_nonnegative(derived - declared)
    return Verdict(ok, how, f"derived c = {sp.simplify(derived)}, declared c = {sp.simplify(declared)}; "
                            f"derived - declared >= 0: {ok} ({how})")


def check_cauchy_schwarz(samples=500, seed=11) -> Verdict:
    r""":math:`\sum_it_i\rho_i\kappa_ix_i\le\sqrt{\sum_it_i^2\rho_i^2\kappa_i^2}\sqrt{\sum_ix_i^2}`
    (the A3 part over layers) on seeded random instances, 1-8 layers (numeric)."""
    rng = numpy.random.default_rng(seed)
    worst = -math.inf
    for _ in range(samples):
        p = int(rng.integers(1, 9))
        a = 10 ** rng.uniform(-3, 3, p)
        x = 10 ** rng.uniform(-3, 3, p)
        lhs = float(a @ x)
        rhs = float(numpy.sqrt(a @ a) * numpy.sqrt(x @ x))
        worst = max(worst, lhs / rhs)
    ok = worst <= 1 + 1e-12
    return Verdict(ok, "numeric", f"max lhs/rhs over {samples} instances = {worst:.15f} (<= 1)")


def unrolled(method, k, N_, D_, S_):
    r"""The unrolled error of Gluon / MVR-1 (step 2 of their derivations) [R]:
    :math:`E^k=\beta^kN_0+h\sum_{j=1}^k\beta^{k-j}N_j+\sum_{j=1}^k\beta^{k-j+1}X_j`, with
    :math:`X_j=S_j` (Gluon's drift) or :math:`D_j` (MVR-1's correction)."""
    beta = 1 - h
    last = S_ if method == "gluon" else D_
    return (beta ** k * N_[0] + h * sum(beta ** (k - j) * N_[j] for j in range(1, k + 1))
            + sum(beta ** (k - j + 1) * last[j] for j in range(1, k + 1)))


def check_unroll(method, kmax=5, closed=None) -> Verdict:
    r"""Unrolling, exactly (symbolic): iterating the **update rule** of ``gluon`` or ``mvr1`` for
    :math:`k\le` ``kmax`` with free symbols :math:`\nabla f(X^j)=G_j`, noise :math:`N_j`,
    :math:`\nabla f_{\xi_j}(X^{j-1})=G_{j-1}+N_j-D_j`, :math:`M^0=G_0+N_0`, gives
    :func:`unrolled` (MVR-2/3's unrolled forms are checked as ``step:star-unroll:*``)."""
    closed = unrolled if closed is None else closed
    beta = 1 - h
    G = sp.symbols(f"G0:{kmax + 1}")
    N_ = sp.symbols(f"N0:{kmax + 1}")
    D_ = (0,) + sp.symbols(f"D1:{kmax + 1}")
    S_ = (0,) + tuple(G[j - 1] - G[j] for j in range(1, kmax + 1))
    M = G[0] + N_[0]
    bad = []
    for k in range(1, kmax + 1):
        gk, gkm1 = G[k] + N_[k], G[k - 1] + N_[k] - D_[k]
        M = beta * M + h * gk if method == "gluon" else gk + beta * (M - gkm1)
        if sp.expand(M - G[k] - closed(method, k, N_, D_, S_)) != 0:
            bad.append(k)
    return Verdict(not bad, "symbolic", f"E^k from the update rule = beta^k N_0 + h sum beta^(k-j) N_j + "
                                        f"sum beta^(k-j+1) {'S_j' if method == 'gluon' else 'D_j'} for k = 1..{kmax}"
                                        + ("" if not bad else f" (MISMATCH at k = {bad})"))


def martingale_gap(n_steps=8, shape=(2, 3), seed=13, dependent=True, n_instances=40):
    r"""Exact expectations over all :math:`2^n` sign paths (numeric, seeded instances).

    Martingale differences :math:`N_j=\varepsilon_jV_j(\varepsilon_1,\dots,\varepsilon_{j-1})`
    (Rademacher signs, a matrix :math:`V_j` depending on the past signs, so the :math:`N_j` are
    martingale differences, not independent); weights :math:`c_j` random.  Returns the largest
    relative deviations of

    - (L2) :math:`E\|\sum_jc_jN_j\|_F^2` from :math:`\sum_jc_j^2E\|N_j\|_F^2` (must be 0), and
    - Jensen + norm equivalence: :math:`E\|\sum_jc_jN_j\|_*/(\rho\sqrt{\sum_jc_j^2E\|N_j\|_F^2})`
      with the nuclear norm, :math:`\rho=\sqrt{\min(m,n)}` (must be :math:`\le1`).

    ``dependent=False`` replaces the signs by one shared sign (not a martingale difference
    sequence: the control that the identity can fail).
    """
    rng = numpy.random.default_rng(seed)
    paths = numpy.array(numpy.meshgrid(*[[-1.0, 1.0]] * n_steps, indexing="ij")).reshape(n_steps, -1).T
    rho = math.sqrt(min(shape))
    worst_l2, worst_jensen = 0.0, 0.0
    for _ in range(n_instances):
        c = rng.normal(size=n_steps)
        base = rng.normal(size=(n_steps, *shape))
        mix = rng.normal(size=(n_steps, n_steps, *shape))
        total = numpy.zeros((paths.shape[0], *shape))
        sq = numpy.zeros(paths.shape[0])
        for j in range(n_steps):
            # V_j depends on the earlier signs (predictable); the sign of step j multiplies it
            V = base[j] + numpy.einsum("pk,kab->pab", paths[:, :j], mix[j, :j]) / max(j, 1)
            sign = paths[:, j] if dependent else paths[:, 0]
            N = sign[:, None, None] * V
            total += c[j] * N
            sq += c[j] ** 2 * numpy.sum(N ** 2, axis=(1, 2))
        lhs = numpy.mean(numpy.sum(total ** 2, axis=(1, 2)))
        rhs = numpy.mean(sq)
        worst_l2 = max(worst_l2, abs(lhs - rhs) / rhs)
        nuc = numpy.mean(numpy.linalg.svd(total, compute_uv=False).sum(axis=1))
        worst_jensen = max(worst_jensen, nuc / (rho * math.sqrt(rhs)))
    return worst_l2, worst_jensen


def check_martingale(dependent=True) -> Verdict:
    """(L2) and Jensen with the norm equivalence, exactly in expectation over all sign paths of
    seeded martingale instances (:func:`martingale_gap`; numeric)."""
    l2, jensen = martingale_gap(dependent=dependent)
    ok = l2 <= 1e-10 and jensen <= 1 + 1e-12
    return Verdict(ok, "numeric", f"max |E||sum c N||_F^2 - sum c^2 E||N||_F^2| / rhs = {l2:.3g} (= 0); "
                                  f"max E||sum c N||_nuc / (rho sqrt(sum c^2 E||N||_F^2)) = {jensen:.6f} (<= 1)")


# ============================================================================ 3. assembly
def _nonconvex_derived_terms(method):
    """The numerator assembled from the proven weights (aggregate symbols), by term name."""
    b = get_bound(method)
    agg = {ag.symbol.name: ag.symbol for ag in (*b.aggregates, b.tau)}
    Ss, Sq, K = agg["S_sigma"], agg["S_quad"], S.K
    uses_q = method in ("mvr2", "mvr3")
    terms = {"transient": S.Delta0, "smoothness": K * Sq / 2}
    terms["initial error"] = 2 * Ss * (1 / h + ((1 - q) / q if uses_q else 0))
    terms["noise"] = 2 * K * Ss * (NOISE_Q if uses_q else NOISE_H)
    if method != "gluon":
        AA = agg["A_rk"] * agg["A_ell"]
        corr = {"mvr1": CORR_H, "mvr2": CORR_Q, "mvr3": CORR_Q + CORR_H}[method]
        terms["mvr correction"] = 2 * K * AA * corr
    if method in ("gluon", "mvr2"):
        terms["momentum drift"] = 2 * K * (1 - h) / h * agg["S_drift"]
    return terms


def check_assembly(method, numerator=None) -> Verdict:
    r"""Each term of the declared numerator is at least the term assembled from the weights of
    :func:`weight_checks` (symbolic): :math:`\Delta_0`, :math:`2S_\sigma\cdot` initial weight,
    :math:`2KS_\sigma\cdot` noise weight, :math:`2KA_{\rho\kappa}A_\ell\cdot` correction weight,
    :math:`2KS_{\rm drift}(1-h)/h`, :math:`KS_{\rm quad}/2`; no derived term may be missing."""
    b = get_bound(method)
    declared = dict(b.numerator if numerator is None else numerator)
    derived = _nonconvex_derived_terms(method)
    return _compare_terms(declared, derived)


def _compare_terms(declared, derived):
    bad, hows = [], set()
    for name, d in derived.items():
        if name not in declared:
            bad.append(f"{name} missing")
            continue
        ok, how = prove_nonnegative(declared[name] - d)
        hows.add(how)
        if not ok:
            bad.append(f"{name}: declared {declared[name]} < derived {d}")
    how = "numeric" if "numeric" in hows else "symbolic"
    return Verdict(not bad, how, f"declared >= derived for terms {sorted(derived)} ({how})"
                   + ("" if not bad else "; FAILS: " + "; ".join(bad)))


STAR_ESTIMATOR_TERMS = {"star-momentum": "drift", "star-mvr": "mvr", "star-mvr2": "drift-q", "star-mvr3": "mvr-q"}


def _star_derived_terms(method):
    r"""Steps 3-5 / M3-M6 of :mod:`theory.bounds_star` from the proven weights (aggregates)."""
    b = get_star_bound(method)
    agg = {ag.symbol.name: ag.symbol for ag in b.aggregates}
    Ss, C, K, a = agg["S_sigmaD"], agg["C_smooth"], S.K, S.a
    kind = STAR_ESTIMATOR_TERMS[method]
    with_q = kind.endswith("-q")
    mu = q * h / (q + h)
    terms = {"transient": sp.exp(-a * K) * S.r0, "smoothness": 2 * a * C,
             "initial error": (4 if with_q else 2) * a * K * Ss * sp.exp(-sp.Min(a, mu if with_q else h) * (K - 1)),
             "noise": 2 * Ss * (NOISE_Q if with_q else NOISE_H)}
    if kind.startswith("mvr"):
        RL = agg["R_kappa"] * agg["Lambda_ell"]
        if with_q:
            terms["mvr correction"] = 4 * a * RL * CORR_Q
            terms["beta correction"] = 4 * a * RL * CORR_H
        else:
            terms["mvr correction"] = 4 * a * RL * CORR_H
    if kind.startswith("drift"):
        terms["momentum drift"] = 4 * a * (1 - h) / h * C
        if with_q:
            terms["mvr correction"] = 4 * a * agg["R_kappa"] * agg["Lambda_ell"] * CORR_Q
    return terms


def check_star_assembly(method, numerator=None) -> Verdict:
    """As :func:`check_assembly` for a star-convex bound (module docstring of bounds_star)."""
    b = get_star_bound(method)
    declared = dict(b.numerator if numerator is None else numerator)
    return _compare_terms(declared, _star_derived_terms(method))


# ============================================================================ 3'. chain
_HORIZONS = (1, 2, 3, 7, 30, 200, 1500)


def _layers(rng, n, p):
    """``n`` instances of ``p`` layers: log-uniform constants, some L1 / ell / delta zero."""
    lu = lambda lo, hi: 10 ** rng.uniform(lo, hi, (n, p))
    zero = lambda frac: rng.random((n, p)) < frac
    return dict(L0=lu(-3, 3), L1=numpy.where(zero(0.2), 0.0, lu(-3, 3)), ell=numpy.where(zero(0.2), 0.0, lu(-3, 3)),
                sigma=lu(-3, 3), rho=lu(-1, 1), kappa=lu(-1, 1), w=lu(-2, 2), D=lu(-2, 2),
                delta=numpy.where(zero(0.4), 0.0, rng.uniform(0, 0.6, (n, p))))


def _geo_tables(beta, K):
    """Per instance, for k = 0..K-1: beta^k, sqrt(V_k), sum_{n=1}^k beta^n (exact finite sums)."""
    n = beta.shape[0]
    pw, V, dr = numpy.empty((K, n)), numpy.empty((K, n)), numpy.empty((K, n))
    cur_pw, cur_V, cur_dr = numpy.ones(n), numpy.zeros(n), numpy.zeros(n)
    for k in range(K):
        pw[k], V[k], dr[k] = cur_pw, cur_V, cur_dr
        cur_V = beta ** 2 * cur_V + 1.0
        cur_pw = cur_pw * beta
        cur_dr = cur_dr + cur_pw
    return pw, numpy.sqrt(V), dr


def _inner_q(qv, K):
    r""":math:`z^j` and :math:`\sqrt{U_j}`, :math:`U_j=\sum_{l=1}^j z^{2(j-l)}`, j = 0..K-1 (z = 1-q)."""
    return _geo_tables(1 - qv, K)[:2]


def _outer(beta, hv, X):
    r""":math:`Y_k=\sum_{j=1}^kh\beta^{k-j}X_j` by :math:`Y_k=\beta Y_{k-1}+hX_k`, :math:`Y_0=0`."""
    Y = numpy.zeros_like(X)
    for k in range(1, X.shape[0]):
        Y[k] = beta * Y[k - 1] + hv * X[k]
    return Y


def _declared_fn(expr, symbols):
    return sp.lambdify(symbols, expr, "numpy")


def nonconvex_chain_ratio(method, bound=None, samples=60, seed=5):
    r"""Max over seeded admissible instances of derived / declared (must be <= 1).

    Derived (building blocks, exact finite sums, per layer :math:`i`, :math:`\beta=1-h`,
    :math:`z=1-q`): :math:`G_K\le\big[\Delta_0+2\sum_{k<K}\epsilon_k+\frac K2S_{\rm quad}\big]/(K\tau')`,
    :math:`\tau'=\min_ic_i't_i/w_i`, with :math:`\epsilon_k\ge\sum_it_iE\|E^k_i\|_*` from the
    unrolled recursion, the martingale identity and A3:

    - Gluon: :math:`\beta^kS_\sigma+h\sqrt{V_k}S_\sigma+(\sum_{n=1}^k\beta^n)S_{\rm drift}`;
    - MVR-1: :math:`\beta^kS_\sigma+h\sqrt{V_k}S_\sigma+\beta\sqrt{V_k}A_{\rho\kappa}A_\ell`;
    - MVR-2: :math:`\beta^kS_\sigma+(\sum_{n=1}^k\beta^n)S_{\rm drift}+\sum_{j=1}^kh\beta^{k-j}X_j`,
      :math:`X_j=z^jS_\sigma+q\sqrt{U_j}S_\sigma+z\sqrt{U_j}A_{\rho\kappa}A_\ell`;
    - MVR-3: :math:`\beta^kS_\sigma+\sum_jh\beta^{k-j}X_j+\beta\sqrt{V_k}A_{\rho\kappa}A_\ell`;

    :math:`c_i'=c_0-2WL_1(1+\delta)t` with :math:`W=\sum_{n=1}^{K-1}\beta^n` for the drift
    methods (the drift's :math:`L_1` part moved left), :math:`c_0` otherwise.  Instances: 1-3
    layers, horizons :data:`_HORIZONS`, :math:`h,q` log-uniform in [1e-4, 1], radii drawn
    below the declared condition :math:`c_i>0` (so the declared bound applies).
    Returns ``(worst ratio, the worst instance as a dict)``.
    """
    b = get_bound(method) if bound is None else bound
    rng = numpy.random.default_rng(seed)
    drift = method in ("gluon", "mvr2")
    uses_q = method in ("mvr2", "mvr3")
    agg_syms = [ag.symbol for ag in (*b.aggregates, b.tau)]
    num_fn = _declared_fn(sp.Add(*[e for _, e in b.numerator]), (S.K, S.Delta0, h, q, *agg_syms))
    cond_fn = sp.lambdify((S.t, delta, S.L1, h), b.coefficient, "numpy")
    layer_fns = {ag.symbol: sp.lambdify((S.t, delta, S.L0, S.L1, S.ell, S.sigma, S.rho, S.kappa, S.w, h, q),
                                        ag.layer_expr, "numpy") for ag in (*b.aggregates, b.tau)}
    worst, where = -math.inf, None
    for K in _HORIZONS:
        for p in (1, 2, 3):
            n = samples
            L = _layers(rng, n, p)
            hv = 10 ** rng.uniform(-4, 0, n)
            qv = 10 ** rng.uniform(-4, 0, n) if uses_q else numpy.ones(n)
            d = L["delta"]
            # radius below the declared c_i > 0 (c is affine decreasing in t): t = u * t_max
            c_at_1 = cond_fn(1.0, d, L["L1"], hv[:, None])
            c_at_0 = cond_fn(0.0, d, L["L1"], hv[:, None])
            slope = c_at_0 - c_at_1
            tmax = numpy.where(slope > 0, c_at_0 / numpy.where(slope > 0, slope, 1.0), 10.0)
            t = numpy.minimum(tmax, 10.0) * 10 ** rng.uniform(-3, -1e-9, (n, p))
            args = (t, d, L["L0"], L["L1"], L["ell"], L["sigma"], L["rho"], L["kappa"], L["w"], hv[:, None], qv[:, None])
            vals = {}
            for ag in (*b.aggregates, b.tau):
                v = numpy.broadcast_to(layer_fns[ag.symbol](*args), (n, p))
                vals[ag.symbol] = {"sum": v.sum(1), "sqrt_sum": numpy.sqrt(v.sum(1)), "min": v.min(1),
                                   "max": v.max(1)}[ag.kind]
            delta0 = 10 ** rng.uniform(-3, 3, n)
            declared = num_fn(float(K), delta0, hv, qv, *[vals[s_] for s_ in agg_syms]) / (K * vals[agg_syms[-1]])
            # ---- derived, independently of the declared formulas
            Ss = (t * L["rho"] * L["sigma"]).sum(1)
            Squad = (L["L0"] * (1 + d) ** 2 * t ** 2).sum(1)
            Sdrift = (L["L0"] * (1 + d) * t ** 2).sum(1)
            AA = numpy.sqrt((t ** 2 * L["rho"] ** 2 * L["kappa"] ** 2).sum(1)) * \
                numpy.sqrt((L["ell"] ** 2 * (1 + d) ** 2 * t ** 2).sum(1))
            beta = 1 - hv
            pw, sV, dr = _geo_tables(beta, K)
            eps = pw * Ss
            if method in ("gluon", "mvr1"):
                eps = eps + hv * sV * Ss
            if drift:
                eps = eps + dr * Sdrift
            if method in ("mvr1", "mvr3"):
                eps = eps + beta * sV * AA
            if uses_q:
                zj, sU = _inner_q(qv, K)
                X = zj * Ss + qv * sU * Ss + (1 - qv) * sU * AA
                eps = eps + _outer(beta, hv, X)
            c0 = (1 - d) - L["L1"] * (1 + d) ** 2 * t / 2
            if drift:
                W = dr[-1][:, None]                          # sum_{n=1}^{K-1} beta^n, exact
                c0 = c0 - 2 * W * L["L1"] * (1 + d) * t
            tau = (c0 * t / L["w"]).min(1)
            derived = (delta0 + 2 * eps.sum(0) + K * Squad / 2) / (K * tau)
            ratio = numpy.where(tau > 0, derived / declared, numpy.inf)
            i = int(numpy.argmax(ratio))
            if ratio[i] > worst:
                worst = float(ratio[i])
                where = {"K": K, "layers": p, "1-beta": float(hv[i]), "q": float(qv[i]),
                         "declared": float(declared[i]), "derived": float(derived[i])}
    return worst, where


def check_chain(method, bound=None) -> Verdict:
    """Numeric: the declared non-convex bound dominates the derived one (:func:`nonconvex_chain_ratio`)."""
    worst, where = nonconvex_chain_ratio(method, bound)
    ok = worst <= 1 + 1e-9
    return Verdict(ok, "numeric", f"max derived/declared over {len(_HORIZONS) * 3 * 60} seeded admissible "
                                  f"instances = {worst:.9g} (<= 1){'' if ok else ' VIOLATED'} at {where}")


def star_chain_ratio(method, bound=None, samples=60, seed=7):
    r"""Max over seeded instances of derived / declared for a star-convex bound.

    Derived: :math:`r_{k+1}=(1-a)r_k+2a\epsilon_k+2a^2C` from :math:`r_0`, exact, with
    (:math:`S_\sigma=\sum D\rho\sigma`, :math:`RL=2aR_\kappa\Lambda_\ell`)

    - momentum: :math:`\epsilon_k=\beta^kS_\sigma+h\sqrt{V_k}S_\sigma+2aC\sum_{n=1}^k\beta^n`;
    - MVR-1: :math:`\beta^kS_\sigma+h\sqrt{V_k}S_\sigma+\beta\sqrt{V_k}RL`;
    - MVR-2: :math:`u_kS_\sigma+\sum_jh\beta^{k-j}(q\sqrt{U_j}S_\sigma+z\sqrt{U_j}RL)+2aC\sum_{n=1}^k\beta^n`;
    - MVR-3: as MVR-2 with :math:`\beta\sqrt{V_k}RL` instead of the drift;

    :math:`u_k=\beta u_{k-1}+hz^k`, :math:`u_0=1`.  Instances: 1-3 layers, :math:`K\ge2` from
    :data:`_HORIZONS`, :math:`a` log-uniform in [1e-4, 1], :math:`h, q` in [1e-4, 1].
    """
    b = get_star_bound(method) if bound is None else bound
    rng = numpy.random.default_rng(seed)
    kind = STAR_ESTIMATOR_TERMS[method]
    with_q = kind.endswith("-q")
    agg_syms = [ag.symbol for ag in b.aggregates]
    num_fn = _declared_fn(b.expr, (S.K, S.r0, S.a, h, q, *agg_syms))
    layer_fns = {ag.symbol: sp.lambdify((S.D, S.L0, S.L1, S.ell, S.sigma, S.rho, S.kappa), ag.layer_expr, "numpy")
                 for ag in b.aggregates}
    worst, where = -math.inf, None
    for K in (k for k in _HORIZONS if k >= 2):
        for p in (1, 2, 3):
            n = samples
            L = _layers(rng, n, p)
            av = 10 ** rng.uniform(-4, 0, n)
            hv = 10 ** rng.uniform(-4, 0, n)
            qv = 10 ** rng.uniform(-4, 0, n) if with_q else numpy.ones(n)
            r0 = 10 ** rng.uniform(-3, 3, n)
            args = (L["D"], L["L0"], L["L1"], L["ell"], L["sigma"], L["rho"], L["kappa"])
            vals = {}
            for ag in b.aggregates:
                v = numpy.broadcast_to(layer_fns[ag.symbol](*args), (n, p))
                vals[ag.symbol] = v.sum(1) if ag.kind == "sum" else numpy.sqrt(v.sum(1))
            declared = num_fn(float(K), r0, av, hv, qv, *[vals[s_] for s_ in agg_syms])
            Ss = (L["D"] * L["rho"] * L["sigma"]).sum(1)
            C = (L["L0"] * (1 + 2 * L["L1"] * L["D"]) * L["D"] ** 2).sum(1)
            RL = 2 * av * numpy.sqrt((L["D"] ** 2 * L["rho"] ** 2 * L["kappa"] ** 2).sum(1)) * \
                numpy.sqrt((L["ell"] ** 2 * L["D"] ** 2).sum(1))
            beta = 1 - hv
            pw, sV, dr = _geo_tables(beta, K)
            if with_q:
                zj, sU = _inner_q(qv, K)
                u = _outer(beta, hv, zj) + pw              # u_k = beta^k + sum_j h beta^{k-j} z^j
                eps = u * Ss + _outer(beta, hv, qv * sU * Ss + (1 - qv) * sU * RL)
            else:
                eps = pw * Ss + hv * sV * Ss
            if kind.startswith("drift"):
                eps = eps + 2 * av * C * dr
            else:
                eps = eps + beta * sV * RL
            r = r0.copy()
            for k in range(K):
                r = (1 - av) * r + 2 * av * eps[k] + 2 * av ** 2 * C
            ratio = r / declared
            i = int(numpy.argmax(ratio))
            if ratio[i] > worst:
                worst = float(ratio[i])
                where = {"K": K, "layers": p, "a": float(av[i]), "1-beta": float(hv[i]), "q": float(qv[i]),
                         "declared": float(declared[i]), "derived": float(r[i])}
    return worst, where


def check_star_chain(method, bound=None) -> Verdict:
    """Numeric: the declared star-convex bound dominates the derived one (:func:`star_chain_ratio`)."""
    worst, where = star_chain_ratio(method, bound)
    ok = worst <= 1 + 1e-9
    return Verdict(ok, "numeric", f"max derived/declared over {(len(_HORIZONS) - 1) * 3 * 60} seeded instances "
                                  f"= {worst:.9g} (<= 1){'' if ok else ' VIOLATED'} at {where}")
