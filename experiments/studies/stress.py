r"""Bound stress search and mutation testing of the bounds (issue 16, "power, measured").

A bound of :mod:`gluon_mvr.theory` is only as convincing as the runs that could have broken it.
This study measures that power in two steps.

**Stress search.**  For a bound :math:`B` (``gluon``, ``mvr1``, ... on :math:`G_K`, or a
star-convex bound ``star-*`` on the gap :math:`Ef(X^K)-f^*`) and a problem family, it maximises

.. math:: r(\theta, K) = \frac{\text{measured}(\theta, K)}{B(\theta, K)}

over the family's parameters :math:`\theta` (curvatures, noise level :math:`\sigma` and noise
shape, layer shapes and norms, starting distance and direction, the schedule's radius and
momentum scales) and the horizon :math:`K` of a grid.  The search is a seeded random search
(half the budget, log-uniform over each continuous parameter) followed by a seeded local search:
each further evaluation perturbs (in log space, with a step that shrinks over the budget) the
best point found so far for one objective, the objectives taken in turn: the ratio itself and the
ratio against each not-yet-killed 10x mutant (below), so that instances where one term dominates
are sought for every term.  One evaluation is one rate check (:func:`gluon_mvr.rate_check`,
no controls) of one instance at every horizon of the grid; its cells are stored in the result
store like every rate-check cell, so a rerun reads them back.  The measurement is the seed mean
(:attr:`MethodReport.G`); the bound is that of the rate check
(:func:`~gluon_mvr.experiments.studies.rate_check.bound_for_cell`), kept per run with its named
terms (:func:`gluon_mvr.theory.numeric.bound_details` / ``star_bound_details``).  Only runs inside
the bound's hypotheses count (the rate check's per-horizon ``hypotheses``, where it reports one);
runs where the bound's conditions fail (no bound) do not count either.

**Mutation testing.**  A bound is a sum of named terms :math:`B=\sum_j b_j`.  The mutant
:math:`(j, f)` shrinks term :math:`j` by the factor :math:`f\in\{10, 2\}`:

.. math:: B_{j,f} = B - (1 - 1/f)\,b_j \le B,

evaluated from the same stored runs (no run per mutant).  The search *kills* the mutant when some
counted run has measured :math:`> B_{j,f}` beyond the rounding tolerance
(:func:`gluon_mvr.theory.tolerance.compare`).  A valid bound with a term that cannot be shrunk
10x without being caught is tight in that term on some instance; a term that *survives* a 10x
shrink is a finding: either the bound is slack in that term or the family lacks the instance that
makes it tight.  The kill rate is reported per bound and per term.  This is an empirical
statement [R] about the searched instances, not a proof of tightness.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy

from gluon_mvr.experiments.studies.result import StudyResult

#: bounds that can be stressed: name -> (method preset, criterion)
BOUNDS = {"gluon": ("gluon", "stationarity"), "mvr1": ("mvr1", "stationarity"),
          "mvr2": ("mvr2", "stationarity"), "mvr3": ("mvr3", "stationarity"),
          "star-momentum": ("gluon", "gap"), "star-mvr": ("mvr1", "gap"),
          "star-mvr2": ("mvr2", "gap"), "star-mvr3": ("mvr3", "gap")}
#: the bounds ``theory stress`` checks by default (issue 16: MVR-1, Gluon and the star-convex ones)
DEFAULT_BOUNDS = ("gluon", "mvr1", "star-momentum", "star-mvr")
#: families searched by default for each criterion
DEFAULT_FAMILIES = {"stationarity": ("quadratic", "skewed-quadratic", "l0l1"),
                    "gap": ("star", "quadratic", "skewed-quadratic")}
FACTORS = (10.0, 2.0)
HORIZONS = (10, 32, 100, 316, 1000)
QUICK_HORIZONS = (10, 32, 100)


@dataclass(frozen=True)
class Dim:
    """One searched coordinate: ``kind`` is ``'log'`` (log-uniform on ``[lo, hi]``), ``'int'``
    (uniform integer on ``[lo, hi]``), ``'choice'`` (one of ``values``) or ``'zero-or-log'``
    (0 with probability ``p0``, else log-uniform: a noise level that may vanish)."""

    kind: str
    lo: float = 0.0
    hi: float = 0.0
    values: tuple = ()
    p0: float = 0.25


_NORMS = ("frobenius", "spectral", "sign", "colnorm", "rownorm")
_SHAPE = {"layers": Dim("int", 1, 3), "dim": Dim("choice", values=(1, 2, 4, 8))}
_NOISE = {"sigma": Dim("zero-or-log", 1e-3, 10.0), "noise": Dim("choice", values=("additive", "heavy", "curvature"))}
_START = {"seed": Dim("int", 0, 10_000)}
#: the schedule's constants (any constant schedule meeting the bound's conditions is covered)
_SCHEDULE = {"radius_scale": Dim("log", 0.1, 10.0), "momentum_scale": Dim("log", 0.1, 10.0)}

#: search space per family (problem params, plus the schedule scales of :data:`_SCHEDULE`)
SPACES = {
    "quadratic": {**_SHAPE, "curvature": Dim("log", 1e-2, 1e2), "sigma": _NOISE["sigma"],
                  "distance": Dim("log", 1e-2, 1e2), "norm": Dim("choice", values=_NORMS), **_START, **_SCHEDULE},
    # the controls issue's hard instance: zero-mean skewed noise (rare large kicks)
    "skewed-quadratic": {**_SHAPE, "curvature": Dim("log", 1e-2, 1e2), "distance": Dim("log", 1e-2, 1e2),
                         "sigma": _NOISE["sigma"], "noise": Dim("choice", values=("skewed", "additive")),
                         "skew_prob": Dim("log", 1e-3, 0.5), "skew_weight": Dim("log", 0.05, 1.0),
                         "direction": Dim("choice", values=("orthogonal", "gaussian")),
                         "norm": Dim("choice", values=_NORMS), **_START, **_SCHEDULE},
    "nonconvex": {**_SHAPE, **_NOISE, "curvature": Dim("log", 1e-2, 1e2), "ripple": Dim("log", 1e-3, 2.0),
                  "frequency": Dim("log", 0.3, 30.0), "distance": Dim("log", 1e-2, 1e2),
                  "norm": Dim("choice", values=_NORMS), **_START, **_SCHEDULE},
    "l0l1": {**_SHAPE, **_NOISE, "L0": Dim("log", 1e-2, 1e2), "L1": Dim("log", 1e-2, 10.0),
             "start": Dim("log", 0.1, 10.0), "norm": Dim("choice", values=_NORMS), **_START, **_SCHEDULE},
    "star": {**_SHAPE, **_NOISE, "curvature": Dim("log", 1e-2, 1e2), "modulation": Dim("log", 1e-3, 0.99),
             "frequency": Dim("log", 0.3, 30.0), "growth": Dim("choice", values=("quadratic", "linear")),
             "distance": Dim("log", 1e-2, 1e2), "start": Dim("choice", values=("offset", "origin")),
             "norm": Dim("choice", values=_NORMS), **_START, **_SCHEDULE},
}


class BadStressInput(ValueError):
    """Invalid input; the message names the field and the allowed values (one line)."""


def _parse_list(field_, value, allowed):
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip()]
    if not items:
        raise BadStressInput(f"{field_}: expected one or more of {', '.join(allowed)}; got {value!r}")
    for v in items:
        if v not in allowed:
            raise BadStressInput(f"{field_}: allowed values {', '.join(allowed)}; got {v!r}")
    return list(dict.fromkeys(items))


# -------------------------------------------------------------------------------------------
# sampling
# -------------------------------------------------------------------------------------------

def _sample(dim: Dim, rng):
    if dim.kind == "log":
        return float(math.exp(rng.uniform(math.log(dim.lo), math.log(dim.hi))))
    if dim.kind == "zero-or-log":
        return 0.0 if rng.uniform() < dim.p0 else float(math.exp(rng.uniform(math.log(dim.lo), math.log(dim.hi))))
    if dim.kind == "int":
        return int(rng.integers(int(dim.lo), int(dim.hi) + 1))
    return dim.values[int(rng.integers(len(dim.values)))]


def _perturb(dim: Dim, value, step: float, rng):
    """A neighbour of ``value``: a log-space Gaussian step of width ``step`` (clipped to the
    range) for continuous coordinates; a fresh draw with probability ``step`` otherwise."""
    if dim.kind in ("log", "zero-or-log"):
        if value == 0.0:
            return value if rng.uniform() > step else _sample(Dim("log", dim.lo, dim.hi), rng)
        v = math.exp(math.log(value) + step * rng.normal() * math.log(dim.hi / dim.lo) / 4)
        return float(min(max(v, dim.lo), dim.hi))
    return value if rng.uniform() > step else _sample(dim, rng)


def _sample_point(space, rng):
    return {k: _sample(d, rng) for k, d in space.items()}


def _split(point):
    """``(problem params, radius_scale, momentum_scale)`` of a searched point."""
    params = {k: v for k, v in point.items() if k not in _SCHEDULE}
    return params, point.get("radius_scale", 1.0), point.get("momentum_scale", 1.0)


# -------------------------------------------------------------------------------------------
# one evaluation: a rate check of one instance over the horizon grid, with the bound's terms
# -------------------------------------------------------------------------------------------

def bound_terms(cfg, method, K: int):
    r"""The named terms :math:`b_j` of the bound the rate check ``cfg`` evaluates for ``method``
    at horizon ``K`` (:func:`~gluon_mvr.experiments.studies.rate_check.bound_for_cell`), as a
    dict ``name -> value`` with :math:`\sum_j b_j` the bound, or ``None`` where no bound applies.

    The schedule and problem are built exactly as ``bound_for_cell`` builds them; the caller
    checks that the terms sum to its value (a guard against the two drifting apart)."""
    from gluon_mvr.experiments.core.cells import cell_method
    from gluon_mvr.experiments.studies.rate_check import STAR_BOUND_NAME, bound_name, cell_params
    from gluon_mvr.problems import get_problem
    m = cell_method(method, radius_scale=cfg.radius_scale, momentum_scale=cfg.momentum_scale, beta=cfg.beta,
                    lmo=None if cfg.lmo == "exact" else cfg.lmo, ns_steps=cfg.ns_steps,
                    form="star" if cfg.criterion == "gap" else "horizon")
    name = bound_name(m)
    if name is None:
        return None
    try:
        problem = get_problem(cfg.problem, **cell_params(cfg, method, K))
        sched = m.build_schedule(K, problem)
        if cfg.criterion == "gap":
            from gluon_mvr.theory.numeric import star_bound_details
            d = star_bound_details(STAR_BOUND_NAME[name], K, problem.constants, problem.delta0(),
                                   problem.ball_radii(), a=sched.radius[0] / sched.ball[0],
                                   one_minus_beta=sched.one_minus_beta, q=sched.q, shapes=problem.layout.shapes)
        else:
            from gluon_mvr.theory.numeric import bound_details
            d = bound_details(name, K, sched, problem.constants, problem.delta0(), shapes=problem.layout.shapes)
    except (ImportError, ValueError):
        return None
    return None if d.value is None else dict(d.terms)


def _hypotheses(res, report, i):
    """Per-horizon hypotheses verdict of the rate check ``res`` (``'inside'`` or
    ``'outside: <reason>'``: did the run stay where the problem's constants are certified?).

    Read from the report's ``hypotheses`` field where the rate check has one, else from
    :func:`~gluon_mvr.experiments.studies.rate_check.cell_hypotheses` of the stored cell, else
    (an older rate check that checks nothing) ``'inside'``."""
    h = getattr(report, "hypotheses", None)
    if h is not None:
        v = h[i] if isinstance(h, (list, tuple)) else h
        return v if isinstance(v, str) else ("inside" if v else "outside")
    try:
        from gluon_mvr.experiments.studies.rate_check import cell_hypotheses
    except ImportError:
        return "inside"
    K = res.config.horizons[i]
    cell = next(c for c in res.cells if c["row"] == report.method and c["config"]["K"] == K and c["config"]["noise"])
    return cell_hypotheses(res.config, report.method, K, cell["instance"], cell["result"])


def evaluate(bound: str, family: str, point: dict, *, horizons, seeds: int, store: str, root_seed: int = 0):
    """Rate-check one instance of ``family`` (``point``: params and schedule scales) at every
    horizon; returns one row per horizon: measured, bound, its terms, hypotheses, ratio."""
    from gluon_mvr.experiments.studies.rate_check import bound_for_cell, rate_check
    from gluon_mvr.problems import get_problem
    from gluon_mvr.theory.tolerance import compare, measurement_terms
    method, criterion = BOUNDS[bound]
    params, rs, ms = _split(point)
    res = rate_check(family, [method], horizons=list(horizons), seeds=seeds, params=params,
                               store=store, executor="serial", controls="off", noise_share=False,
                               bootstrap=100, criterion=criterion, radius_scale=rs, momentum_scale=ms,
                               root_seed=root_seed)
    rep = res.reports[0]
    cfg = res.config
    n_layers = len(get_problem(family, **cfg.params).layout.shapes)
    keys = {c["config"]["K"]: c["key"] for c in res.cells if c["row"] == rep.method}
    rows = []
    for i, K in enumerate(cfg.horizons):
        g = float(rep.G[i])
        b = bound_for_cell(cfg, rep.method, K)
        terms = bound_terms(cfg, rep.method, K) if b is not None else None
        if b is not None and (terms is None or abs(sum(terms.values()) - b) > 1e-9 * abs(b)):
            raise RuntimeError(f"bound {bound!r} at K={K}: the named terms do not sum to the rate "
                               f"check's bound ({terms} vs {b}); theory/numeric and rate_check disagree")
        hyp = _hypotheses(res, rep, i)
        n = measurement_terms(1 if criterion == "gap" else K, seeds, 1 if criterion == "gap" else n_layers)
        cmp = compare(g, b, dtype=cfg.dtype, n_terms=n) if b is not None else None
        rows.append({"bound": bound, "family": family, "point": dict(point), "params": dict(cfg.params), "radius_scale": rs,
                     "momentum_scale": ms, "K": int(K), "seeds": seeds, "measured": g, "bound_value": b,
                     "terms": terms, "hypotheses": hyp if b is not None else "no bound (conditions fail)",
                     "counted": bool(b is not None and hyp == "inside" and math.isfinite(g)),
                     "ratio": (g / b) if b else None, "margin": cmp.margin if cmp else None,
                     "status": cmp.status if cmp else None, "dtype": cfg.dtype, "n_terms": n,
                     "key": keys.get(K)})
    return rows


# -------------------------------------------------------------------------------------------
# mutants
# -------------------------------------------------------------------------------------------

def mutated_bound(row, term: str, factor: float) -> float:
    r""":math:`B_{j,f}=B-(1-1/f)b_j` of one stored run (term ``j`` shrunk by ``factor``)."""
    return row["bound_value"] - (1.0 - 1.0 / factor) * row["terms"][term]


def mutant_ratio(row, term, factor):
    mb = mutated_bound(row, term, factor)
    return row["measured"] / mb if mb > 0 else math.inf


def kills(row, term: str, factor: float) -> bool:
    """Does this counted run exceed the mutant beyond the rounding tolerance?"""
    from gluon_mvr.theory.tolerance import compare
    if not row["counted"] or term not in row["terms"]:
        return False
    return not compare(row["measured"], mutated_bound(row, term, factor), dtype=row["dtype"],
                       n_terms=row["n_terms"]).holds


def _where(row):
    """Where a run is: family, K, the searched coordinates (``point``) and the full params."""
    return {"family": row["family"], "K": row["K"], "point": row["point"], "params": row["params"],
            "radius_scale": row["radius_scale"], "momentum_scale": row["momentum_scale"]}


def mutation_table(bound: str, rows, factors=FACTORS):
    """Per term and factor: killed?, the largest measured/mutated-bound ratio and where; plus the
    kill rate per term and for the bound, and the findings (terms surviving the largest factor)."""
    counted = [r for r in rows if r["counted"]]
    names = []
    for r in counted:
        for n in r["terms"]:
            if n not in names:
                names.append(n)
    mutants = []
    for n in names:
        for f in factors:
            best = max(counted, key=lambda r: mutant_ratio(r, n, f), default=None)
            killed = [r for r in counted if kills(r, n, f)]
            zero = all(r["terms"].get(n, 0.0) == 0.0 for r in counted)
            mutants.append({"term": n, "factor": f, "killed": bool(killed), "n_killing_runs": len(killed),
                            "worst_ratio": None if best is None else mutant_ratio(best, n, f),
                            "where": None if best is None else _where(killed[0] if killed else best),
                            "max_share": max((r["terms"].get(n, 0.0) / r["bound_value"] for r in counted), default=0.0),
                            "term_zero_everywhere": zero})
    per_term = {n: sum(m["killed"] for m in mutants if m["term"] == n) / len(factors) for n in names}
    top = max(factors)
    findings = [{"term": m["term"], "factor": m["factor"], "worst_ratio": m["worst_ratio"],
                 "why": ("term is zero on every counted run (missing hard instance)" if m["term_zero_everywhere"]
                         else "survives: slack bound or missing hard instance")}
                for m in mutants if m["factor"] == top and not m["killed"]]
    rate = (sum(m["killed"] for m in mutants) / len(mutants)) if mutants else None
    return {"mutants": mutants, "kill_rate": rate, "kill_rate_per_term": per_term, "findings": findings}


# -------------------------------------------------------------------------------------------
# the search
# -------------------------------------------------------------------------------------------

def _objectives(rows_of, names, mutants_alive):
    """Scores of one evaluation (its rows) for each objective: 'ratio' and, per alive 10x
    mutant, the measured/mutated ratio; counted runs only."""
    c = [r for r in rows_of if r["counted"]]
    out = {"ratio": max((r["ratio"] for r in c), default=-math.inf)}
    for n in names:
        if n in mutants_alive:
            out[n] = max((mutant_ratio(r, n, FACTORS[0]) for r in c if n in r["terms"]), default=-math.inf)
    return out


def search(bound, families, budget, *, seeds, horizons, store, seed=0, fixed=None, progress=None):
    """Seeded random + local search of ``budget`` evaluations over ``families`` (split evenly);
    returns every row (one per evaluation and horizon)."""
    rng = numpy.random.default_rng([seed, sorted(BOUNDS).index(bound)])
    fixed = dict(fixed or {})
    all_rows = []
    shares = [budget // len(families) + (1 if i < budget % len(families) else 0) for i in range(len(families))]
    for family, n_eval in zip(families, shares):
        space = {k: d for k, d in SPACES[family].items() if k not in fixed}
        evals = []                          # (point, rows)
        n_random = max(1, (n_eval + 1) // 2)
        for i in range(n_eval):
            if i < n_random or not evals:
                point = {**_sample_point(space, rng), **fixed}
            else:
                rows_all = [r for _, rs in evals for r in rs]
                names = sorted({n for r in rows_all if r["counted"] for n in r["terms"]})
                alive = {n for n in names
                         if not any(kills(r, n, FACTORS[0]) for r in rows_all)}
                objs = ["ratio"] + [n for n in names if n in alive]
                obj = objs[(i - n_random) % len(objs)]
                scored = [(_objectives(rs, names, alive).get(obj, -math.inf), j) for j, (_, rs) in enumerate(evals)]
                best = evals[max(scored)[1]][0]
                step = 0.5 * (1.0 - (i - n_random) / max(1, n_eval - n_random)) + 0.05
                point = {k: (_perturb(space[k], v, step, rng) if k in space else v) for k, v in best.items()}
            try:
                from gluon_mvr.problems import get_problem
                get_problem(family, **_split(point)[0])
            except ValueError as exc:       # an instance the family rejects: recorded, not counted
                rows = [{"bound": bound, "family": family, "point": point, "params": _split(point)[0], "K": None,
                         "counted": False, "hypotheses": f"rejected: {exc}", "terms": None,
                         "ratio": None, "measured": None, "bound_value": None}]
            else:
                rows = evaluate(bound, family, point, horizons=horizons, seeds=seeds, store=store, root_seed=seed)
            for r in rows:
                r["evaluation"] = i
            evals.append((point, rows))
            all_rows.extend(rows)
            if progress:
                progress()
    return all_rows


def _summary(bound, rows, mutations, factors=FACTORS):
    counted = [r for r in rows if r["counted"]]
    worst = max(counted, key=lambda r: r["ratio"], default=None)
    out = {"bound": bound, "method": BOUNDS[bound][0], "criterion": BOUNDS[bound][1],
           "runs": len(rows), "counted": len(counted),
           "outside": sum(1 for r in rows if str(r.get("hypotheses", "")).startswith("outside")),
           "no_bound": sum(1 for r in rows if r.get("bound_value") is None),
           "violations": [_where(r) | {"measured": r["measured"], "bound": r["bound_value"], "margin": r["margin"]}
                          for r in counted if r["status"] == "violated"],
           "worst": None if worst is None else {**_where(worst), "ratio": worst["ratio"], "measured": worst["measured"],
                                                "bound": worst["bound_value"], "margin": worst["margin"],
                                                "terms": worst["terms"]}}
    if mutations:
        out.update(mutation_table(bound, rows, factors))
    return out


def format_stress(doc) -> str:
    """The command line's table: worst ratio per bound, then (with mutations) the kill table."""
    lines = [f"bound stress search: {doc['config']['budget']} evaluations per bound, "
             f"{doc['config']['seeds']} seeds, K in {list(doc['config']['horizons'])}",
             f"{'bound':<14} {'runs':>5} {'counted':>7} {'worst ratio':>12} {'margin':>9} {'at K':>6}  where", "-" * 110]
    for b in doc["bounds"]:
        w = b["worst"]
        if w is None:
            lines.append(f"{b['bound']:<14} {b['runs']:>5} {b['counted']:>7} {'-':>12} {'-':>9} {'-':>6}  no counted run")
            continue
        ps = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(w["point"].items()))
        lines.append(f"{b['bound']:<14} {b['runs']:>5} {b['counted']:>7} {w['ratio']:>12.7g} {w['margin']:>9.2g} {w['K']:>6}  "
                     f"{w['family']}: {ps}")
        for v in b["violations"]:
            lines.append(f"  !! BOUND VIOLATED at K={v['K']} ({v['family']}): measured {v['measured']:.6g} > "
                         f"bound {v['bound']:.6g} (margin {v['margin']:.3g})")
    if doc["config"]["mutations"]:
        fs = doc["config"]["factors"]
        head = f"{'bound':<14} {'term':<16} " + " ".join(f"{'x' + format(f, 'g') + ' shrink':>22}" for f in fs) + \
               f" {'max share':>9}"
        lines += ["", "mutation testing: each term shrunk in turn; KILLED = a counted run exceeds the mutant "
                      "(beyond rounding); cell = verdict (largest measured/mutant)", head, "-" * len(head)]
        for b in doc["bounds"]:
            terms = list(dict.fromkeys(m["term"] for m in b.get("mutants", [])))
            for t in terms:
                cells = []
                for f in fs:
                    m = next(m for m in b["mutants"] if m["term"] == t and m["factor"] == f)
                    cells.append(f"{'KILLED' if m['killed'] else 'survives'} ({_fmt(m['worst_ratio'])})")
                share = max(m["max_share"] for m in b["mutants"] if m["term"] == t)
                lines.append(f"{b['bound']:<14} {t:<16} " + " ".join(f"{c:>22}" for c in cells) + f" {share:>9.3f}")
            if b.get("kill_rate") is not None:
                lines.append(f"{b['bound']:<14} {'kill rate':<16} {b['kill_rate']:.0%} of {len(b['mutants'])} mutants")
        finds = [(b["bound"], f) for b in doc["bounds"] for f in b.get("findings", [])]
        lines.append("")
        lines.append("findings (terms surviving a 10x shrink): " + ("none" if not finds else ""))
        for bn, f in finds:
            lines.append(f"  {bn}: '{f['term']}' ({f['why']}; largest measured/mutant {_fmt(f['worst_ratio'])})")
    return "\n".join(lines)


def _fmt(v):
    if isinstance(v, float):
        return "inf" if math.isinf(v) else format(v, ".3g")
    return str(v)


def _plot(doc, ax):
    """Worst measured/bound per bound, with the 10x-mutant ratios as markers."""
    names = [b["bound"] for b in doc["bounds"]]
    ax.bar(range(len(names)), [b["worst"]["ratio"] if b["worst"] else 0 for b in doc["bounds"]], color="0.6",
           label="worst measured/bound")
    for i, b in enumerate(doc["bounds"]):
        for m in b.get("mutants", []):
            if m["factor"] == max(doc["config"]["factors"]) and m["worst_ratio"] is not None:
                ax.plot(i, min(m["worst_ratio"], 10), "rx" if m["killed"] else "go", ms=5)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_ylabel("measured / bound")
    ax.set_yscale("log")
    ax.set_title("bound stress search (x: killed 10x mutant, o: surviving)")


def stress(bound="all", family=None, *, budget: int = 128, seeds: int = 4, horizons=None, mutations: bool = False,
           store: str = ":memory:", seed: int = 0, quick: bool = False, fixed=None, factors=FACTORS,
           progress=None) -> StudyResult:
    """Stress-search bounds (module docstring) and, with ``mutations``, mutation-test them.

    Parameters
    ----------
    bound : str or sequence of str
        Names of :data:`BOUNDS` (comma-separated or a list), or ``'all'`` (:data:`DEFAULT_BOUNDS`).
    family : str or sequence of str, optional
        Families searched (each must have a search space, :data:`SPACES`, and suit the bound's
        criterion); default :data:`DEFAULT_FAMILIES` of the bound's criterion.
    budget : int
        Evaluations (instances, each run at every horizon) per bound.
    seeds : int
        Seeds per cell.
    horizons : sequence of int, optional
        The K grid (default :data:`HORIZONS`, :data:`QUICK_HORIZONS` with ``quick``).
    mutations : bool
        Also evaluate the mutants (each term shrunk by each of ``factors``).
    store : str
        Result store path (``':memory:'`` keeps nothing).
    seed : int
        Seed of the search (and the runs' root seed).
    quick : bool
        Small setting for tests (about a minute for the default bounds): budget <= 4, seeds <= 2,
        the short horizon grid.
    fixed : dict, optional
        Coordinates held fixed (problem params or ``radius_scale``/``momentum_scale``).

    Returns
    -------
    StudyResult
        ``rows``: one per run (bound, family, params, K, measured, bound, terms, hypotheses,
        counted); ``document``: ``config``, ``bounds`` (per bound: worst ratio and where,
        violations, and with mutations ``mutants``, ``kill_rate``, ``kill_rate_per_term``,
        ``findings``), ``runs``.
    """
    bounds = list(DEFAULT_BOUNDS) if bound in ("all", None) else _parse_list("bound", bound, tuple(BOUNDS))
    if isinstance(budget, bool) or not isinstance(budget, (int, numpy.integer)) or budget < 1:
        raise BadStressInput(f"budget: expected an integer >= 1; got {budget!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, (int, numpy.integer)) or seeds < 2:
        # the rate check's intervals need two seeds
        raise BadStressInput(f"seeds: expected an integer >= 2; got {seeds!r}")
    if quick:
        budget, seeds = min(budget, 4), 2
    hs = tuple(horizons) if horizons is not None else (QUICK_HORIZONS if quick else HORIZONS)
    if len(hs) < 2 or any(not isinstance(k, (int, numpy.integer)) or k < 2 for k in hs) or list(hs) != sorted(set(hs)):
        raise BadStressInput(f"horizons: expected at least two increasing integers >= 2; got {list(hs)}")
    fams = {}
    for b in bounds:
        crit = BOUNDS[b][1]
        allowed = tuple(f for f in SPACES if crit == "stationarity" or f in DEFAULT_FAMILIES["gap"])
        fams[b] = list(DEFAULT_FAMILIES[crit]) if family is None else _parse_list("family", family, allowed)
    fixed = dict(fixed or {})
    total = budget * len(bounds)
    rows, summaries = [], []
    for b in bounds:
        rs = search(b, fams[b], budget, seeds=seeds, horizons=hs, store=store, seed=seed, fixed=fixed,
                    progress=progress)
        rows.extend(rs)
        summaries.append(_summary(b, rs, mutations, tuple(factors)) | {"families": fams[b]})
    doc = {"study": "stress",
           "config": {"bounds": bounds, "families": fams, "budget": budget, "seeds": seeds, "horizons": list(hs),
                      "mutations": bool(mutations), "factors": list(factors), "seed": seed, "quick": quick,
                      "fixed": fixed, "evaluations": total},
           "bounds": summaries, "runs": rows}
    return StudyResult("stress", rows, doc, format_stress, _plot)
